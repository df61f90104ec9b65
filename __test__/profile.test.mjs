// getToken's `yc` profile source, on a laptop after `yc init`: the config in a temporary HOME,
// a stand-in `yc` on PATH for a federated user's profile, and the emulator for the key and
// OAuth exchanges. Every other source is off, so the profile is what getToken decides on.
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeEach, test } from 'node:test'

import { getToken } from './package.mjs'
import {
  assertHides, closedPort, fakeYc, lastRequest, registeredKey, rejection, rejectsWith, runNode, sleep, suiteEmulator,
  suiteTempDir, until, writeYcConfig,
} from './support.mjs'

const OFF = [
  'YC_SERVICE_ACCOUNT_KEY_FILE', 'YC_SERVICE_ACCOUNT_KEY', 'YC_SERVICE_ACCOUNT_ID', 'YC_ID_TOKEN', 'YC_ID_TOKEN_FILE',
  'ACTIONS_ID_TOKEN_REQUEST_URL', 'ACTIONS_ID_TOKEN_REQUEST_TOKEN', 'YC_IAM_TOKEN', 'YC_TOKEN', 'YC_PROFILE',
]
const emu = await suiteEmulator({ clearCache: true })
const root = suiteTempDir('yc-profile-')
const { key } = registeredKey(emu)
const oauthToken = emu.registerOauthToken()
const PATH = process.env.PATH
const deadPort = await closedPort()
let homes = 0
let home

beforeEach(() => {
  for (const name of OFF) delete process.env[name]
  home = join(root, `home-${++homes}`)
  mkdirSync(home, { recursive: true })
  process.env.HOME = home
  process.env.PATH = PATH
  process.env.YC_METADATA_ADDR = `127.0.0.1:${deadPort}` // refused: the metadata service is not here
})

const options = (more) => ({ endpoint: emu.iamUrl, ...more })
const serviceAccountKey = { id: key.id, service_account_id: key.service_account_id, created_at: key.created_at, key_algorithm: 'RSA_2048', public_key: key.public_key, private_key: key.private_key }
const YC_TOKEN = 't1.from-yc-' + 'a'.repeat(40)

/** Whether process `pid` has ended (a zombie not yet reaped counts: it was killed). */
function ended(pid) {
  try {
    return /^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'))
  } catch {
    return true
  }
}

/** A stand-in yc with `body`, first on PATH. */
function installYc(body) {
  const dir = join(home, 'yc')
  process.env.PATH = `${fakeYc(dir, body)}:${PATH}`
  return dir
}

test('a profile with a service account key: the key exchange, source "profile"', async () => {
  writeYcConfig(home, { current: 'robot', profiles: { robot: { 'service-account-key': serviceAccountKey, 'folder-id': 'b1gfolder' } } })
  const token = await getToken(options())
  assert.equal(token.source, 'profile')
  assert.ok(token.expiresAt instanceof Date)
  const rec = lastRequest(emu, 'iam')
  assert.equal(rec.grant, 'jwt')
  assert.equal(rec.jwt.header.kid, key.id)
  assert.equal(token.accessToken, rec.response.iamToken)
})

test('a profile with an OAuth token: the OAuth exchange, cached by the token', async () => {
  writeYcConfig(home, { current: 'default', profiles: { default: { token: oauthToken, 'cloud-id': 'b1gcloud' } } })
  const token = await getToken(options())
  assert.equal(token.source, 'profile')
  const rec = lastRequest(emu, 'iam')
  assert.equal(rec.grant, 'oauth')
  assert.deepEqual(JSON.parse(rec.body), { yandexPassportOauthToken: oauthToken })
  assert.equal(token.accessToken, rec.response.iamToken)
  assert.equal((await getToken(options())).accessToken, token.accessToken)
  assert.equal(emu.count('iam'), 1, 'the second call came from the cache')
})

test('YC_PROFILE picks the profile, else the config\'s current one', async () => {
  writeYcConfig(home, {
    current: 'user',
    profiles: { user: { token: oauthToken }, robot: { 'service-account-key': serviceAccountKey } },
  })
  await getToken(options())
  assert.equal(lastRequest(emu, 'iam').grant, 'oauth')
  process.env.YC_PROFILE = 'robot'
  await getToken(options())
  assert.equal(lastRequest(emu, 'iam').grant, 'jwt')
})

test('an IAM token in the profile is taken as it is: expiry unknown', async () => {
  writeYcConfig(home, { current: 'p', profiles: { p: { token: YC_TOKEN } } })
  assert.deepEqual(await getToken(options()), { accessToken: YC_TOKEN, expiresAt: null, tokenType: 'Bearer', source: 'profile' })
  assert.equal(emu.requests.length, 0)
})

test('an OAuth token IAM rejects: ERR_IAM_REJECTED with IAM\'s reason, and no token in the error', async () => {
  const revoked = emu.registerOauthToken()
  emu.revokeOauthToken(revoked)
  writeYcConfig(home, { current: 'p', profiles: { p: { token: revoked } } })
  const error = await rejectsWith(getToken(options()), 'ERR_IAM_REJECTED')
  assert.equal(error.status, 401)
  assert.match(error.message, /rejected the OAuth token/)
  assert.match(error.message, /invalid or has expired/)
  assertHides(error, [revoked, revoked.slice(3, 20)])
})

test('no config, or no such profile: the profile does not apply, and getToken says why', async () => {
  let error = await rejectsWith(getToken(options()), 'ERR_NO_SERVICE_ACCOUNT')
  assert.match(error.message, /yc profile: no yc config at ".*config\.yaml" \(yc init makes one\)/)
  writeYcConfig(home, { current: 'gone', profiles: { other: { token: oauthToken } } })
  error = await rejectsWith(getToken(options()), 'ERR_NO_SERVICE_ACCOUNT')
  assert.match(error.message, /profile "gone" \(named by current\) is not in the yc config/)
  process.env.YC_PROFILE = 'typo'
  error = await rejectsWith(getToken(options()), 'ERR_NO_SERVICE_ACCOUNT')
  assert.match(error.message, /profile "typo" \(named by YC_PROFILE\)/)
  assertHides(error, [oauthToken])
  // …and the metadata service is next.
  process.env.YC_METADATA_ADDR = emu.metadataAddr
  assert.equal((await getToken(options())).source, 'metadata')
})

test('a profile of the VM\'s service account or without credentials does not apply either', async () => {
  writeYcConfig(home, { current: 'vm', profiles: { vm: { 'instance-service-account': 'true' }, empty: { 'cloud-id': 'b1g' } } })
  let error = await rejectsWith(getToken(options()), 'ERR_NO_SERVICE_ACCOUNT')
  assert.match(error.message, /instance-service-account/)
  process.env.YC_PROFILE = 'empty'
  error = await rejectsWith(getToken(options()), 'ERR_NO_SERVICE_ACCOUNT')
  assert.match(error.message, /holds no credentials/)
})

test('a malformed config: ERR_INVALID_ARG naming the file, never its secrets', async () => {
  const cases = [
    `current: p\nprofiles:\n  p:\n    token: "${oauthToken}\n`, // an unclosed quote
    'current: p\nprofiles: [p]\n',
    `current: p\nprofiles:\n  p:\n    token: [${oauthToken}]\n`,
    'current: p\nprofiles:\n  p:\n    service-account-key: /home/me/key.json\n',
    'just text\n',
  ]
  for (const text of cases) {
    const file = writeYcConfig(home, text)
    const error = await rejectsWith(getToken(options()), 'ERR_INVALID_ARG', text)
    assert.ok(error.message.includes(file), error.message)
    assertHides(error, [oauthToken])
  }
  writeYcConfig(home, `# ${'x'.repeat(70_000)}\ncurrent: p\n`)
  assert.match((await rejectsWith(getToken(options()), 'ERR_INVALID_ARG')).message, /over 64 KiB/)
  const broken = { current: 'p', profiles: { p: { 'service-account-key': { ...serviceAccountKey, private_key: 'not a key' } } } }
  writeYcConfig(home, broken)
  const error = await rejectsWith(getToken(options()), 'ERR_INVALID_KEY')
  assert.match(error.message, /service-account-key of profile "p"/)
  assert.equal(emu.requests.length, 0)
})

test('a federated user\'s profile: `yc iam create-token --profile=<name>` is run, source "yc", expiry unknown', async () => {
  writeYcConfig(home, { current: 'work', profiles: { work: { 'federation-id': 'bpfexample', 'cloud-id': 'b1g' } } })
  const dir = installYc(`echo 'a notice on stdout'\necho '${YC_TOKEN}'`)
  assert.deepEqual(await getToken(options()), { accessToken: YC_TOKEN, expiresAt: null, tokenType: 'Bearer', source: 'yc' })
  assert.deepEqual(readFileSync(join(dir, 'yc-args'), 'utf8').trim().split('\n'), ['iam', 'create-token', '--profile=work'])
  assert.equal(emu.requests.length, 0)
})

test('an impersonating profile is yc\'s too (its own token would be the wrong identity)', async () => {
  writeYcConfig(home, { current: 'me', profiles: { me: { token: oauthToken, 'impersonate-service-account-id': 'ajerobot' } } })
  installYc(`echo '${YC_TOKEN}'`)
  assert.equal((await getToken(options())).source, 'yc')
  assert.equal(emu.count('iam'), 0)
})

test('a federated user\'s profile without yc on PATH does not apply', async () => {
  writeYcConfig(home, { current: 'work', profiles: { work: { 'federation-id': 'bpfexample' } } })
  process.env.PATH = join(home, 'nothing-here')
  const error = await rejectsWith(getToken(options()), 'ERR_NO_SERVICE_ACCOUNT')
  assert.match(error.message, /federation-id.*yc is not on PATH/)
})

test('yc hanging: the call ends within timeoutMs, and yc is killed', { skip: process.platform !== 'linux' }, async () => {
  writeYcConfig(home, { current: 'work', profiles: { work: { 'federation-id': 'bpfexample' } } })
  const dir = installYc('exec sleep 30')
  const started = performance.now()
  const error = await rejectsWith(getToken(options({ timeoutMs: 400 })), 'ERR_TIMEOUT')
  assert.ok(performance.now() - started < 1400, `${performance.now() - started} ms`)
  assert.match(error.message, /yc iam create-token did not finish within/)
  const pid = Number(readFileSync(join(dir, 'yc-pid'), 'utf8'))
  assert.ok(await until(() => ended(pid)), `yc (pid ${pid}) still runs`)
})

test('yc printing something that is not a token: ERR_INVALID_RESPONSE, the output not echoed', async () => {
  writeYcConfig(home, { current: 'work', profiles: { work: { 'federation-id': 'bpfexample' } } })
  for (const output of ['Please open this URL to sign in: https://auth.example/?code=y0_SECRETSECRETSECRET', 't1.has a space', '']) {
    installYc(`printf '%s\\n' '${output}'`)
    const error = await rejectsWith(getToken(options()), 'ERR_INVALID_RESPONSE', output)
    assertHides(error, ['SECRET', 'open this URL'])
  }
})

test('yc failing: ERR_UNAVAILABLE with the first line of its stderr, redacted', async () => {
  writeYcConfig(home, { current: 'work', profiles: { work: { 'federation-id': 'bpfexample' } } })
  installYc(`echo 'ERROR: the session token y0_SESSIONSECRETSECRET expired' >&2\necho 'second line' >&2\nexit 1`)
  const error = await rejectsWith(getToken(options()), 'ERR_UNAVAILABLE')
  assert.match(error.message, /exited with status 1: "ERROR: the session token \[redacted\] expired"/)
  assertHides(error, ['SESSIONSECRET', 'second line'])
})

test('an abort signal stops a running yc', { skip: process.platform !== 'linux' }, async () => {
  writeYcConfig(home, { current: 'work', profiles: { work: { 'federation-id': 'bpfexample' } } })
  const dir = installYc('exec sleep 30')
  const controller = new AbortController()
  const pending = getToken(options({ signal: controller.signal }))
  assert.ok(await until(() => existsSync(join(dir, 'yc-pid'))))
  await sleep(20)
  controller.abort()
  const error = await rejection(pending)
  assert.equal(error.code, 'ABORT_ERR')
  const pid = Number(readFileSync(join(dir, 'yc-pid'), 'utf8'))
  assert.ok(await until(() => ended(pid)), `yc (pid ${pid}) still runs`)
})

test('the config is read from HOME as the runtime\'s process.env has it', async () => {
  const other = join(root, 'other-home')
  writeYcConfig(other, { current: 'p', profiles: { p: { token: YC_TOKEN } } })
  process.env.HOME = other
  assert.equal((await getToken(options())).source, 'profile')
  writeFileSync(join(other, '.config', 'yandex-cloud', 'config.yaml'), '')
  const error = await rejectsWith(getToken(options()), 'ERR_NO_SERVICE_ACCOUNT')
  assert.match(error.message, /yc profile: the yc config .* is empty/)
})

test('NODE_DEBUG=yc-iam-token: a profile that does not apply, and a token whose expiry is not known, never a secret', async () => {
  const script = `
    const pkg = require(${JSON.stringify(new URL('../index.js', import.meta.url).pathname)})
    ;(async () => {
      await pkg.getToken().catch((e) => console.log(e.code))
      process.env.YC_PROFILE = 'p'
      const token = await pkg.getToken()
      console.log(JSON.stringify({ source: token.source, expiresAt: token.expiresAt }))
    })()`
  writeYcConfig(home, { current: 'missing', profiles: { p: { token: YC_TOKEN } } })
  const { stdout, stderr, code } = await runNode('-e', { args: [script], env: { ...process.env, NODE_DEBUG: 'yc-iam-token' } })
  assert.equal(code, 0, stderr)
  assert.deepEqual(stdout.trim().split('\n'), ['ERR_NO_SERVICE_ACCOUNT', '{"source":"profile","expiresAt":null}'])
  assert.match(stderr, /profile: does not apply, in [\d.]+ ms/)
  assert.match(stderr, /profile: token fetched in [\d.]+ ms, expires at unknown/)
  assert.ok(!stderr.includes(YC_TOKEN), 'no token in the debug output')
})
