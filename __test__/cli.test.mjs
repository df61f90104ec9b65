// The yc-iam-token command: stdout is the token alone; errors go to stderr with the code.
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'

import { VERSION, randomId, registeredKey, runNode, suiteEmulator, suiteTempDir, writeKeyFile, writeYcConfig } from './support.mjs'

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
  const misuse = [
    ['--bogus'], ['extra'], ['--key'], ['--key', keyPath, '--metadata'], ['--timeout', 'abc'], ['--timeout=-1', '--metadata'],
    ['--federation', '--metadata'], ['--audience', 'x'], ['--subject-token-file', keyPath], ['--profile', 'p', '--key', keyPath],
    ['--subject-token', 'eyJ.x.y'],
  ]
  for (const args of misuse) {
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
    [[], { YC_METADATA_ADDR: '127.0.0.1:1', YC_TOKEN: 'SECRET-neither-kind-of-token' }, 'ERR_NO_SERVICE_ACCOUNT'],
    [['--endpoint', emu.iamUrl], { YC_METADATA_ADDR: '127.0.0.1:1', YC_TOKEN: 'y0_SECRETSECRETSECRET' }, 'ERR_IAM_REJECTED'], // an unknown OAuth token
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

test('--federation: a subject token file exchanged for the service account\'s token; failures exit 1 without the token', async () => {
  const sa = randomId()
  emu.bindSubject(sa, 'system:serviceaccount:ci:runner')
  const file = join(dir, 'subject-token')
  writeFileSync(file, emu.mintSubjectToken({ sub: 'system:serviceaccount:ci:runner' }))
  const args = ['--federation', '--service-account-id', sa, '--subject-token-file', file, '--endpoint', emu.exchangeUrl]
  const ok = await run([...args, '--json'])
  assert.equal(ok.code, 0, ok.stderr)
  assert.equal(JSON.parse(ok.stdout).source, 'federation')
  assert.match(JSON.parse(ok.stdout).accessToken, /^t1\./)
  const subject = emu.mintSubjectToken({ sub: 'system:serviceaccount:ci:stranger' })
  writeFileSync(file, subject)
  const refused = await run(args)
  assert.equal(refused.code, 1)
  assert.equal(refused.stdout, '')
  assert.match(refused.stderr, /^yc-iam-token: ERR_IAM_REJECTED: .*invalid_grant/)
  for (const part of subject.split('.')) assert.ok(!refused.stderr.includes(part), refused.stderr)
})

test('--federation in GitHub Actions: YC_SERVICE_ACCOUNT_ID and GitHub\'s two variables are enough', async () => {
  const sa = randomId()
  emu.bindSubject(sa, emu.githubSubject)
  emu.subjectAudiences = [emu.githubDefaultAudience]
  const env = { YC_SERVICE_ACCOUNT_ID: sa, ACTIONS_ID_TOKEN_REQUEST_URL: emu.githubUrl, ACTIONS_ID_TOKEN_REQUEST_TOKEN: emu.githubBearer }
  // The exchange endpoint comes with --federation only: the default one is not reachable here.
  const { code, stdout, stderr } = await run(['--federation', '--json', '--endpoint', emu.exchangeUrl], env)
  emu.reset()
  assert.equal(code, 0, stderr)
  assert.equal(JSON.parse(stdout).source, 'federation')
})

test('--profile NAME picks the yc profile', async () => {
  const home = join(dir, 'home')
  writeYcConfig(home, { current: 'a', profiles: { a: { 'cloud-id': 'b1g' }, b: { token: 't1.from-profile-b' } } })
  const { code, stdout, stderr } = await run(['--profile', 'b', '--json'], { HOME: home, YC_METADATA_ADDR: '127.0.0.1:1' })
  assert.equal(code, 0, stderr)
  assert.deepEqual(JSON.parse(stdout), { accessToken: 't1.from-profile-b', expiresAt: null, tokenType: 'Bearer', source: 'profile' })
})
