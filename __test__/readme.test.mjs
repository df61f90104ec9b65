// The README's JavaScript examples are valid as written: each ```js block, on its own, passes
// `node --check` (as CommonJS when it uses require, else as an ES module), so a block cannot
// declare a name twice or use syntax Node rejects. Blocks that call real Yandex Cloud
// endpoints are not run here (no network); the demo runs every source against the emulator.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'

import { suiteTempDir } from './support.mjs'

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
const blocks = [...readme.matchAll(/^```js\n([\s\S]*?)^```$/gm)].map((m) => m[1])
const dir = suiteTempDir('yc-iam-token-readme-')

test('the README has JavaScript examples', () => {
  assert.ok(blocks.length >= 5, `${blocks.length} blocks`)
})

for (const [i, code] of blocks.entries()) {
  const firstLine = code.split('\n')[0].slice(0, 60)
  test(`README example ${i + 1} (${firstLine}) passes node --check`, () => {
    const commonJs = /\brequire\(/.test(code) && !/^\s*import\s/m.test(code)
    const file = join(dir, `example-${i + 1}.${commonJs ? 'cjs' : 'mjs'}`)
    writeFileSync(file, code)
    try {
      execFileSync(process.execPath, ['--check', file], { stdio: 'pipe' })
    } catch (error) {
      assert.fail(`README example ${i + 1} does not parse:\n${error.stderr}`)
    }
  })
}
