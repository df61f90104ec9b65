// The yc-iam-token command: stdout is the token alone; errors go to stderr with the code.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'

import { VERSION, registeredKey, runNode, suiteEmulator, suiteTempDir, writeKeyFile } from './support.mjs'

const BIN = fileURLToPath(new URL('../bin/yc-iam-token.js', import.meta.url))
const emu = await suiteEmulator()
const { key } = registeredKey(emu)
const dir = suiteTempDir('yc-cli-')
const keyPath = writeKeyFile(dir, key)

/** Runs the command with a clean environment (plus `env`); resolves {code, stdout, stderr}. */
const run = (args, env = {}) => runNode(BIN, { args, env: { PATH: process.env.PATH, ...env }, timeoutMs: 20_000 })

test('--key FILE prints exactly the token', async () => {
  const { code, stdout, stderr } = await run(['--key', keyPath, '--endpoint', emu.iamUrl])
  assert.equal(code, 0, stderr)
  const issued = emu.requests.find((r) => r.kind === 'iam')
  assert.match(stdout, /^t1\.[A-Za-z0-9_-]+\n$/)
  if (issued.response) assert.equal(stdout, issued.response.iamToken + '\n')
  assert.equal(stderr, '')
})

test('--json prints the IamToken with its source', async () => {
  const { code, stdout } = await run(['--metadata', '--json', '--endpoint', emu.metadataUrl])
  assert.equal(code, 0)
  const token = JSON.parse(stdout)
  assert.equal(token.source, 'metadata')
  assert.equal(token.tokenType, 'Bearer')
  assert.ok(!Number.isNaN(Date.parse(token.expiresAt)))
})

test('no flags: the first source that applies (here YC_SERVICE_ACCOUNT_KEY_FILE)', async () => {
  const { code, stdout } = await run(['--json', '--endpoint', emu.iamUrl], { YC_SERVICE_ACCOUNT_KEY_FILE: keyPath })
  assert.equal(code, 0)
  assert.equal(JSON.parse(stdout).source, 'YC_SERVICE_ACCOUNT_KEY_FILE')
})

test('--help and --version', async () => {
  const help = await run(['--help'])
  assert.equal(help.code, 0)
  assert.match(help.stdout, /Usage: yc-iam-token/)
  const v = await run(['--version'])
  assert.equal(v.stdout, VERSION + '\n')
})

test('bad flags exit 2 with ERR_INVALID_ARG on stderr and nothing on stdout', async () => {
  for (const args of [['--bogus'], ['extra'], ['--key'], ['--key', keyPath, '--metadata'], ['--timeout', 'abc'], ['--timeout=-1', '--metadata']]) {
    const { code, stdout, stderr } = await run(args)
    assert.equal(code, 2, args.join(' '))
    assert.equal(stdout, '')
    assert.match(stderr, /^yc-iam-token: ERR_INVALID_ARG: /)
  }
})

test('failures exit 1 with the code on stderr, and nothing secret', async () => {
  const cases = [
    [['--key', join(dir, 'missing.json')], {}, 'ERR_INVALID_KEY'],
    [['--metadata', '--endpoint', emu.origin + '/nothing-here', '--timeout', '2000'], {}, 'ERR_NO_SERVICE_ACCOUNT'],
    [[], { YC_METADATA_ADDR: '127.0.0.1:1', YC_TOKEN: 'y0_SECRET' }, 'ERR_NO_SERVICE_ACCOUNT'],
    [['--key', keyPath, '--endpoint', emu.origin + '/iam/v1/tokens'], {}, null],
  ]
  emu.deleteKey(key.id)
  for (const [args, env, expected] of cases) {
    const { code, stdout, stderr } = await run(args, env)
    const wanted = expected ?? 'ERR_IAM_REJECTED'
    assert.equal(code, 1, `${args.join(' ')}: ${stderr}`)
    assert.equal(stdout, '')
    assert.match(stderr, new RegExp(`^yc-iam-token: ${wanted}: `), stderr)
    for (const secret of ['SECRET', 'PRIVATE KEY', 'eyJ', key.private_key.split('\n')[3]]) {
      assert.ok(!stderr.includes(secret), `${secret} in ${stderr}`)
    }
  }
  emu.registerKey(key)
})
