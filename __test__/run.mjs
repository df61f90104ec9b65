// The node:test suites, then the secrets scan over every error they provoked.
//   node __test__/run.mjs [test files…]
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = fileURLToPath(new URL('.', import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'yc-iam-token-errors-'))
const env = { ...process.env, YC_TEST_ERROR_LOG: join(dir, 'errors.jsonl') }
const files = process.argv.length > 2 ? process.argv.slice(2) : readdirSync(here).filter((f) => f.endsWith('.test.mjs')).sort().map((f) => join(here, f))

const run = (args) => spawnSync(process.execPath, args, { env, stdio: 'inherit' }).status
try {
  const suites = run(['--test', '--test-concurrency=1', ...files])
  const scan = run(['--test', join(here, 'secrets.scan.mjs')])
  process.exitCode = suites === 0 && scan === 0 ? 0 : 1
} finally {
  rmSync(dir, { recursive: true, force: true })
}
