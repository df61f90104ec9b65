// The node:test suites, then the secrets scan over every error they provoked.
//   node __test__/run.mjs [test files…]
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = fileURLToPath(new URL('.', import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'yc-iam-token-errors-'))
const env = { ...process.env, YC_TEST_ERROR_LOG: join(dir, 'errors.jsonl'), YC_TEST_SEEN_LOG: join(dir, 'seen.jsonl') }
const files = process.argv.length > 2 ? process.argv.slice(2) : readdirSync(here).filter((f) => f.endsWith('.test.mjs')).sort().map((f) => join(here, f))

// On Linux as root, the suites run in a network namespace of their own with loopback only:
// whatever a test does, no packet can leave this machine (no default IAM endpoint, no
// 169.254.169.254). Elsewhere __test__/package.mjs points the defaults at dead loopback ports.
const isolate =
  process.platform === 'linux' &&
  process.getuid?.() === 0 &&
  spawnSync('unshare', ['-n', 'ip', 'link', 'set', 'lo', 'up']).status === 0
const run = (args) => {
  const command = isolate ? ['unshare', ['-n', 'sh', '-c', 'ip link set lo up && exec "$0" "$@"', process.execPath, ...args]] : [process.execPath, args]
  return spawnSync(...command, { env, stdio: 'inherit' }).status
}
console.log(isolate ? '# suites run in a loopback-only network namespace' : '# suites run in the host network (no unshare)')
try {
  const suites = run(['--test', '--test-concurrency=1', ...files])
  const scan = run(['--test', join(here, 'secrets.scan.mjs')])
  process.exitCode = suites === 0 && scan === 0 ? 0 : 1
} finally {
  rmSync(dir, { recursive: true, force: true })
}
