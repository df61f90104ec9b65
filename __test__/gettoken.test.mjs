// getToken: the first source that applies, in order, with `source` saying which.
import assert from 'node:assert/strict'
import { beforeEach, test } from 'node:test'

import { getToken } from './package.mjs'
import {
  assertHides, closedPort, promiseFrom, registeredKey, rejection, suiteEmulator, suiteTempDir, writeKeyFile,
} from './support.mjs'

const ENV = ['YC_SERVICE_ACCOUNT_KEY_FILE', 'YC_SERVICE_ACCOUNT_KEY', 'YC_IAM_TOKEN', 'YC_TOKEN', 'YC_METADATA_ADDR']
const emu = await suiteEmulator({ reset: true })
const { key } = registeredKey(emu)
const keyPath = writeKeyFile(suiteTempDir('yc-gettoken-'), key)
const closedPortNumber = await closedPort()

beforeEach(() => {
  for (const name of ENV) delete process.env[name]
  process.env.YC_METADATA_ADDR = '127.0.0.1:9' // never the real link-local address
})

const context = { token: { access_token: 't1.from-context', expires_in: 100, token_type: 'Bearer' } }
const options = () => ({ endpoint: emu.iamUrl, cache: false })

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

test('3. YC_IAM_TOKEN, then YC_TOKEN, only when they hold an IAM token; no expiry is known', async () => {
  process.env.YC_IAM_TOKEN = 't1.from-env'
  process.env.YC_TOKEN = 't1.other'
  assert.deepEqual(await getToken(options()), { accessToken: 't1.from-env', expiresAt: null, tokenType: 'Bearer', source: 'YC_IAM_TOKEN' })
  delete process.env.YC_IAM_TOKEN
  assert.equal((await getToken(options())).source, 'YC_TOKEN')
  process.env.YC_TOKEN = 'y0_an-oauth-token'
  process.env.YC_METADATA_ADDR = emu.metadataAddr
  assert.equal((await getToken(options())).source, 'metadata', 'an OAuth token in YC_TOKEN is passed over')
})

test('4. the metadata service last (YC_METADATA_ADDR or options.metadataEndpoint)', async () => {
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
  process.env.YC_TOKEN = 'y0_SECRET_OAUTH_TOKEN'
  process.env.YC_METADATA_ADDR = `127.0.0.1:${closedPortNumber}`
  const started = performance.now()
  const error = await rejection(getToken({ ...options(), context: { requestId: 'x' } }))
  const elapsed = performance.now() - started
  assert.equal(error.code, 'ERR_NO_SERVICE_ACCOUNT')
  for (const what of ['context', 'YC_SERVICE_ACCOUNT_KEY_FILE', 'YC_SERVICE_ACCOUNT_KEY', 'YC_IAM_TOKEN', 'YC_TOKEN', 'metadata service']) {
    assert.ok(error.message.includes(what), `${what} in: ${error.message}`)
  }
  assert.equal(error.cause.code, 'ERR_UNAVAILABLE')
  assert.ok(elapsed < 1000, `refused metadata: ${elapsed} ms`)
  assertHides(error, ['SECRET'])
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
