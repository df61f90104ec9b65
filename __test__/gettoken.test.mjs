// getToken: the first source that applies, in order, with `source` saying which.
import assert from 'node:assert/strict'
import { rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { beforeEach, test } from 'node:test'

import { getToken } from './package.mjs'
import {
  assertHides, closedPort, lastRequest, promiseFrom, randomId, registeredKey, rejection, suiteEmulator, suiteTempDir,
  writeKeyFile, writeYcConfig,
} from './support.mjs'

const FEDERATION_ENV = ['YC_SERVICE_ACCOUNT_ID', 'YC_ID_TOKEN', 'YC_ID_TOKEN_FILE', 'ACTIONS_ID_TOKEN_REQUEST_URL', 'ACTIONS_ID_TOKEN_REQUEST_TOKEN']
const ENV = ['YC_SERVICE_ACCOUNT_KEY_FILE', 'YC_SERVICE_ACCOUNT_KEY', ...FEDERATION_ENV, 'YC_IAM_TOKEN', 'YC_TOKEN', 'YC_PROFILE', 'YC_METADATA_ADDR']
const emu = await suiteEmulator({ clearCache: true })
const { key } = registeredKey(emu)
const dir = suiteTempDir('yc-gettoken-')
const keyPath = writeKeyFile(dir, key)
const closedPortNumber = await closedPort()
const SA = randomId()
emu.bindSubject(SA, 'project_path:acme/app:ref_type:branch:ref:main')
emu.bindSubject(SA, emu.githubSubject)
const HOME = process.env.HOME // package.mjs's empty one: no yc config

beforeEach(() => {
  for (const name of ENV) delete process.env[name]
  process.env.YC_METADATA_ADDR = '127.0.0.1:9' // never the real link-local address
  process.env.HOME = HOME
})

const context = { token: { access_token: 't1.from-context', expires_in: 100, token_type: 'Bearer' } }
const options = () => ({ endpoint: emu.iamUrl, federationEndpoint: emu.exchangeUrl, cache: false })
const gitlabToken = () => emu.mintSubjectToken({ sub: 'project_path:acme/app:ref_type:branch:ref:main' })

test('1. a context with a token comes first', async () => {
  process.env.YC_SERVICE_ACCOUNT_KEY_FILE = keyPath
  const token = await getToken({ ...options(), context, key })
  assert.equal(token.source, 'context')
  assert.equal(token.accessToken, 't1.from-context')
  assert.ok(token.expiresAt instanceof Date)
  assert.equal(emu.count('iam'), 0)
})

test('2a. options.key, when the context has no token', async () => {
  process.env.YC_SERVICE_ACCOUNT_KEY_FILE = '/no/such/file'
  const token = await getToken({ ...options(), context: {}, key })
  assert.equal(token.source, 'key')
  assert.match(token.accessToken, /^t1\./)
  assert.equal(emu.count('iam'), 1)
})

test('2b. YC_SERVICE_ACCOUNT_KEY_FILE, then 2c. YC_SERVICE_ACCOUNT_KEY', async () => {
  process.env.YC_SERVICE_ACCOUNT_KEY_FILE = keyPath
  process.env.YC_SERVICE_ACCOUNT_KEY = '{broken'
  assert.equal((await getToken(options())).source, 'YC_SERVICE_ACCOUNT_KEY_FILE')
  delete process.env.YC_SERVICE_ACCOUNT_KEY_FILE
  process.env.YC_SERVICE_ACCOUNT_KEY = JSON.stringify(key)
  assert.equal((await getToken(options())).source, 'YC_SERVICE_ACCOUNT_KEY')
  assert.equal(emu.count('iam'), 2)
})

test('a key that applies but fails rejects with its own error, not a fallthrough', async () => {
  process.env.YC_SERVICE_ACCOUNT_KEY = '{broken'
  process.env.YC_IAM_TOKEN = 't1.env'
  await assert.rejects(getToken(options()), { code: 'ERR_INVALID_KEY' })
})

test('3. federation: YC_SERVICE_ACCOUNT_ID with YC_ID_TOKEN (GitLab CI)', async () => {
  process.env.YC_SERVICE_ACCOUNT_ID = SA
  const subject = gitlabToken()
  process.env.YC_ID_TOKEN = subject
  process.env.YC_IAM_TOKEN = 't1.comes-later'
  const token = await getToken(options())
  assert.equal(token.source, 'federation')
  assert.ok(token.expiresAt instanceof Date)
  const rec = lastRequest(emu, 'exchange')
  assert.equal(new URLSearchParams(rec.body).get('audience'), SA)
  assert.equal(new URLSearchParams(rec.body).get('subject_token'), subject)
  assert.equal(emu.count('iam'), 0, 'the IAM endpoint option is not the exchange\'s')
})

test('3. federation: YC_SERVICE_ACCOUNT_ID with YC_ID_TOKEN_FILE (a Kubernetes projected token)', async () => {
  process.env.YC_SERVICE_ACCOUNT_ID = SA
  process.env.YC_ID_TOKEN_FILE = join(dir, 'projected-token')
  writeFileSync(process.env.YC_ID_TOKEN_FILE, gitlabToken())
  assert.equal((await getToken(options())).source, 'federation')
})

test('3. GitHub Actions: only YC_SERVICE_ACCOUNT_ID set, with the two ACTIONS_ variables GitHub sets', async () => {
  process.env.YC_SERVICE_ACCOUNT_ID = SA
  process.env.ACTIONS_ID_TOKEN_REQUEST_URL = emu.githubUrl
  process.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN = emu.githubBearer
  emu.subjectAudiences = [emu.githubDefaultAudience]
  const token = await getToken(options())
  assert.equal(token.source, 'federation')
  assert.equal(emu.count('github'), 1)
  assert.equal(lastRequest(emu, 'exchange').subject.claims.sub, emu.githubSubject)
  assert.equal(new URL(lastRequest(emu, 'github').path, emu.origin).searchParams.get('audience'), null, 'getToken\'s audience is the JWT\'s, not GitHub\'s')
})

test('3. a key comes before federation; federation that applies but fails rejects with its own error', async () => {
  process.env.YC_SERVICE_ACCOUNT_ID = SA
  process.env.YC_ID_TOKEN = gitlabToken()
  process.env.YC_SERVICE_ACCOUNT_KEY_FILE = keyPath
  assert.equal((await getToken(options())).source, 'YC_SERVICE_ACCOUNT_KEY_FILE')
  delete process.env.YC_SERVICE_ACCOUNT_KEY_FILE
  process.env.YC_ID_TOKEN = emu.mintSubjectToken({ sub: 'project_path:acme/app:ref_type:branch:ref:main', expiresInSec: -60 })
  process.env.YC_IAM_TOKEN = 't1.would-apply-later'
  process.env.YC_METADATA_ADDR = emu.metadataAddr
  const error = await rejection(getToken(options()))
  assert.equal(error.code, 'ERR_IAM_REJECTED')
  assert.match(error.message, /expired/)
  assertHides(error, [process.env.YC_ID_TOKEN.split('.')[1]])
  assert.equal(emu.count('metadata'), 0)
})

test('3. federation is not tried with half of what it needs', async () => {
  process.env.YC_ID_TOKEN = gitlabToken() // no YC_SERVICE_ACCOUNT_ID
  process.env.YC_IAM_TOKEN = 't1.from-env'
  assert.equal((await getToken(options())).source, 'YC_IAM_TOKEN')
  delete process.env.YC_ID_TOKEN
  process.env.YC_SERVICE_ACCOUNT_ID = SA
  process.env.ACTIONS_ID_TOKEN_REQUEST_URL = emu.githubUrl // without the request token
  assert.equal((await getToken(options())).source, 'YC_IAM_TOKEN')
  assert.equal(emu.count('exchange') + emu.count('github'), 0)
})

test('JS decides "federation applies" by the core\'s rule', () => {
  const testing = createRequire(import.meta.url)('../index.js')[Symbol.for('yc-iam-token.testing')]
  const { federationApplies } = testing.addon()
  const { federationProblem } = testing
  const values = { YC_SERVICE_ACCOUNT_ID: SA, YC_ID_TOKEN: 'x.y.z', YC_ID_TOKEN_FILE: '/t', ACTIONS_ID_TOKEN_REQUEST_URL: 'https://x/', ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'b' }
  for (let mask = 0; mask < 32; mask++) {
    for (const name of FEDERATION_ENV) delete process.env[name]
    FEDERATION_ENV.forEach((name, i) => {
      if (mask & (1 << i)) process.env[name] = values[name]
    })
    if (mask === 7) process.env.YC_ID_TOKEN = '' // empty is unset, for both
    const env = Object.fromEntries(FEDERATION_ENV.filter((n) => process.env[n] !== undefined).map((n) => [n, process.env[n]]))
    assert.equal(federationProblem(), federationApplies(env) ?? undefined, `mask ${mask}`)
  }
})

test('4. YC_IAM_TOKEN, then YC_TOKEN, as they are when they hold an IAM token; no expiry is known', async () => {
  process.env.YC_IAM_TOKEN = 't1.from-env'
  process.env.YC_TOKEN = 't1.other'
  assert.deepEqual(await getToken(options()), { accessToken: 't1.from-env', expiresAt: null, tokenType: 'Bearer', source: 'YC_IAM_TOKEN' })
  delete process.env.YC_IAM_TOKEN
  assert.equal((await getToken(options())).source, 'YC_TOKEN')
  assert.equal(emu.requests.length, 0)
})

test('4. an OAuth token in YC_TOKEN is exchanged at IAM, as Terraform reads it', async () => {
  const oauth = emu.registerOauthToken()
  process.env.YC_IAM_TOKEN = 'y0_not-an-iam-token' // passed over: not t1.
  process.env.YC_TOKEN = oauth
  const token = await getToken(options())
  assert.equal(token.source, 'YC_TOKEN')
  assert.ok(token.expiresAt instanceof Date)
  assert.equal(lastRequest(emu, 'iam').grant, 'oauth')
  assert.equal(token.accessToken, lastRequest(emu, 'iam').response.iamToken)
  emu.revokeOauthToken(oauth)
  const error = await rejection(getToken(options()))
  assert.equal(error.code, 'ERR_IAM_REJECTED', 'applies, fails: its own error')
  assertHides(error, [oauth])
})

test('5. the yc profile comes after the environment and before the metadata service', async () => {
  writeYcConfig(HOME, { current: 'p', profiles: { p: { token: 't1.from-profile' } } })
  try {
    process.env.YC_METADATA_ADDR = emu.metadataAddr
    process.env.YC_TOKEN = 't1.from-env'
    assert.equal((await getToken(options())).source, 'YC_TOKEN')
    delete process.env.YC_TOKEN
    assert.deepEqual(await getToken(options()), { accessToken: 't1.from-profile', expiresAt: null, tokenType: 'Bearer', source: 'profile' })
    assert.equal(emu.count('metadata'), 0)
  } finally {
    rmSync(join(HOME, '.config'), { recursive: true, force: true })
  }
})

test('6. the metadata service last (YC_METADATA_ADDR or options.metadataEndpoint)', async () => {
  process.env.YC_METADATA_ADDR = emu.metadataAddr
  const token = await getToken(options())
  assert.equal(token.source, 'metadata')
  assert.ok(token.expiresAt instanceof Date)
  delete process.env.YC_METADATA_ADDR
  assert.equal((await getToken({ ...options(), metadataEndpoint: emu.metadataUrl })).source, 'metadata')
  assert.equal(emu.count('metadata'), 2)
  assert.equal(emu.count('iam'), 0, 'the IAM endpoint option is not used for metadata')
})

test('none applies: one error lists every source and why, once, fast, without secrets', async () => {
  process.env.YC_IAM_TOKEN = 'y0_SECRET_OAUTH_TOKEN_IN_THE_WRONG_PLACE'
  process.env.YC_TOKEN = 'SECRET-of-another-kind'
  process.env.YC_ID_TOKEN = gitlabToken() // without YC_SERVICE_ACCOUNT_ID
  process.env.YC_METADATA_ADDR = `127.0.0.1:${closedPortNumber}`
  const started = performance.now()
  const error = await rejection(getToken({ ...options(), context: { requestId: 'x' } }))
  const elapsed = performance.now() - started
  assert.equal(error.code, 'ERR_NO_SERVICE_ACCOUNT')
  for (const what of [
    'context', 'YC_SERVICE_ACCOUNT_KEY_FILE', 'YC_SERVICE_ACCOUNT_KEY', 'federation: an OIDC token is at hand, but YC_SERVICE_ACCOUNT_ID is not set',
    'YC_IAM_TOKEN: set, but not an IAM token', 'YC_TOKEN: set, but neither', 'yc profile: no yc config at', 'metadata service',
  ]) {
    assert.ok(error.message.includes(what), `${what} in: ${error.message}`)
  }
  assert.equal(error.cause.code, 'ERR_UNAVAILABLE')
  assert.ok(elapsed < 1000, `refused metadata: ${elapsed} ms`)
  assertHides(error, ['SECRET', process.env.YC_ID_TOKEN.split('.')[1]])
  assert.equal(emu.requests.length, 0)
})

test('a metadata 404 also means none applies', async () => {
  emu.metadataStatus = 404
  process.env.YC_METADATA_ADDR = emu.metadataAddr
  const error = await rejection(getToken(options()))
  assert.equal(error.code, 'ERR_NO_SERVICE_ACCOUNT')
  assert.match(error.message, /Tried, in order/)
  assert.equal(emu.count('metadata'), 1, 'the metadata service is asked once')
})

test('bad options reject, never throw', async () => {
  for (const bad of ['x', 5]) {
    await assert.rejects(promiseFrom(() => getToken(bad)), { code: 'ERR_INVALID_ARG' })
  }
  await assert.rejects(getToken({ ...options(), key, timeoutMs: -1 }), { code: 'ERR_INVALID_ARG' })
})
