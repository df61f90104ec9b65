// The package loads as users load it: require() from CommonJS and import from ESM.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const root = fileURLToPath(new URL('..', import.meta.url))
const API = ['createJwt', 'getToken', 'tokenFromContext', 'tokenFromKey', 'tokenFromMetadata']

test('require() from CommonJS', () => {
  const pkg = createRequire(import.meta.url)('..')
  assert.deepEqual(Object.keys(pkg).sort(), API)
  for (const name of API) assert.equal(typeof pkg[name], 'function')
})

test('named imports from ESM', async () => {
  const pkg = await import('../index.js')
  for (const name of API) assert.equal(typeof pkg[name], 'function')
  assert.equal(typeof pkg.default.tokenFromContext, 'function')
})

test('by package name, from a .cjs and an .mjs file', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'yc-iam-token-module-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  mkdirSync(join(dir, 'node_modules'))
  symlinkSync(root, join(dir, 'node_modules', 'yc-iam-token'), 'dir')
  const context = "{ token: { access_token: 't1.abc', expires_in: 60 } }"
  writeFileSync(
    join(dir, 'handler.cjs'),
    `const { tokenFromContext } = require('yc-iam-token')\ntokenFromContext(${context}).then((t) => console.log(t.accessToken))\n`,
  )
  writeFileSync(
    join(dir, 'handler.mjs'),
    `import { tokenFromContext } from 'yc-iam-token'\nconsole.log((await tokenFromContext(${context})).accessToken)\n`,
  )
  for (const file of ['handler.cjs', 'handler.mjs']) {
    const out = execFileSync(process.execPath, [join(dir, file)], { cwd: dir, encoding: 'utf8' })
    assert.equal(out.trim(), 't1.abc', file)
  }
})
