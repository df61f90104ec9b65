// tokenFromMetadata over real sockets against the local emulator (issue "tokenFromMetadata").
// Run: node --test --test-concurrency=1 __test__/metadata.test.mjs
import assert from 'node:assert/strict'
import { after, afterEach, before, beforeEach, test } from 'node:test'
import util from 'node:util'

import pkg from './package.mjs'
import {
  METADATA_PATH, VERSION, closedPort, fixture, promiseFrom, registeredKey, rejection, runNode, sleep, startBlackHole,
  startEmulator, startProxy, suiteEmulator, unhandledRejections, until,
} from './support.mjs'

const { tokenFromMetadata } = pkg
const SECRET = 't1.SECRETSECRETtokenTextThatMustNeverLeak'
const ENV_NAMES = ['YC_METADATA_ADDR', 'HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'all_proxy', 'no_proxy']

const errors = [] // every error this file saw, checked for token text at the end
const unhandled = unhandledRejections()
const savedEnv = {}
const emu = await suiteEmulator({ clearCache: true })

before(() => {
  for (const name of ENV_NAMES) savedEnv[name] = process.env[name]
  delete process.env.YC_METADATA_ADDR
})
after(() => {
  for (const name of ENV_NAMES) {
    if (savedEnv[name] === undefined) delete process.env[name]
    else process.env[name] = savedEnv[name]
  }
})
beforeEach(() => {
  emu.metadataToken = { access_token: SECRET, expires_in: 43200, token_type: 'Bearer' }
})
afterEach(() => {
  delete process.env.YC_METADATA_ADDR
})

/** The rejection of `promise` (fails if it resolves), recorded for the token-text check. */
async function rejected(promise) {
  const err = await rejection(promise)
  errors.push(err)
  return err
}

const ms = (t0) => Math.round(performance.now() - t0)

function checkToken(token, expiresInSec) {
  assert.equal(typeof token.accessToken, 'string')
  assert.equal(token.tokenType, 'Bearer')
  assert.ok(token.expiresAt instanceof Date)
  const drift = Math.abs(token.expiresAt.getTime() - (Date.now() + expiresInSec * 1000))
  assert.ok(drift < 2000, `expiresAt off by ${drift} ms`)
}

function checkWire(rec) {
  assert.equal(rec.method, 'GET')
  assert.equal(rec.path, METADATA_PATH)
  assert.equal(rec.headers['metadata-flavor'], 'Google')
  assert.equal(rec.headers['user-agent'], `yc-iam-token/${VERSION}`)
}

// ---- happy paths ----

test('happy path via options.endpoint: token, expiresAt, Bearer; Metadata-Flavor and User-Agent on the wire', async () => {
  emu.metadataToken = undefined // the emulator's random token, expires_in 43200
  const token = await tokenFromMetadata({ endpoint: emu.metadataUrl, cache: false })
  assert.equal(emu.count('metadata'), 1)
  const rec = emu.requests[0]
  checkWire(rec)
  assert.equal(token.accessToken, rec.response.access_token)
  checkToken(token, 43200)
  assert.deepEqual(Object.keys(token).sort(), ['accessToken', 'expiresAt', 'tokenType'])
})

test('happy path via process.env.YC_METADATA_ADDR (no endpoint option)', async () => {
  emu.metadataToken = { access_token: 't1.viaEnvAddr', expires_in: 42299, token_type: 'Bearer' }
  process.env.YC_METADATA_ADDR = emu.metadataAddr
  const token = await tokenFromMetadata({ cache: false })
  assert.equal(token.accessToken, 't1.viaEnvAddr')
  checkToken(token, 42299)
  assert.equal(emu.count('metadata'), 1)
  checkWire(emu.requests[0])
})

test('YC_METADATA_ADDR is read at each call; options.endpoint wins over it', async () => {
  const other = await startEmulator()
  try {
    other.metadataToken = { access_token: 't1.other', expires_in: 100, token_type: 'Bearer' }
    emu.metadataToken = { access_token: 't1.first', expires_in: 100, token_type: 'Bearer' }
    process.env.YC_METADATA_ADDR = emu.metadataAddr
    assert.equal((await tokenFromMetadata({ cache: false })).accessToken, 't1.first')
    process.env.YC_METADATA_ADDR = other.metadataAddr
    assert.equal((await tokenFromMetadata({ cache: false })).accessToken, 't1.other')
    // endpoint wins, even over an env value that is not valid
    process.env.YC_METADATA_ADDR = 'bad host'
    assert.equal((await tokenFromMetadata({ endpoint: emu.metadataUrl, cache: false })).accessToken, 't1.first')
    assert.equal(emu.count('metadata'), 2)
    assert.equal(other.count('metadata'), 1)
  } finally {
    await other.close()
  }
})

test('token_type may be missing or any case of "bearer"', async () => {
  for (const token_type of [undefined, 'bearer', 'BEARER']) {
    emu.fail('metadata', { json: { access_token: 't1.tt', expires_in: 300, token_type } })
    const token = await tokenFromMetadata({ endpoint: emu.metadataUrl, cache: false })
    assert.equal(token.tokenType, 'Bearer')
    assert.equal(token.accessToken, 't1.tt')
  }
})

// ---- HTTP statuses and retries ----

test('404 -> ERR_NO_SERVICE_ACCOUNT, status 404, one request', async () => {
  emu.metadataStatus = 404
  const err = await rejected(tokenFromMetadata({ endpoint: emu.metadataUrl, cache: false }))
  assert.equal(err.code, 'ERR_NO_SERVICE_ACCOUNT')
  assert.equal(err.status, 404)
  assert.equal(emu.count('metadata'), 1)
})

test('403 and other 4xx -> ERR_IAM_REJECTED with the status, not retried', async () => {
  for (const status of [403, 400, 401]) {
    emu.reset()
    emu.fail('metadata', { status }, 5)
    const err = await rejected(tokenFromMetadata({ endpoint: emu.metadataUrl, cache: false }))
    assert.equal(err.code, 'ERR_IAM_REJECTED', `status ${status}`)
    assert.equal(err.status, status)
    assert.equal(emu.count('metadata'), 1, `status ${status}: not retried`)
  }
})

test('500 then 200: succeeds after one retry (2 requests)', async () => {
  emu.fail('metadata', { status: 500 })
  const token = await tokenFromMetadata({ endpoint: emu.metadataUrl, cache: false })
  assert.equal(token.accessToken, SECRET)
  assert.equal(emu.count('metadata'), 2)
  for (const rec of emu.requests) checkWire(rec)
})

test('persistent 503 stops after `retries` with ERR_UNAVAILABLE status 503', async () => {
  for (const [retries, expected] of [[1, 2], [0, 1], [undefined, 3]]) {
    emu.reset()
    emu.fail('metadata', { status: 503 }, 20)
    const options = { endpoint: emu.metadataUrl, cache: false }
    if (retries !== undefined) options.retries = retries
    const err = await rejected(tokenFromMetadata(options))
    assert.equal(err.code, 'ERR_UNAVAILABLE', `retries ${retries}`)
    assert.equal(err.status, 503)
    assert.equal(emu.count('metadata'), expected, `retries ${retries}: requests`)
  }
})

test('429 with Retry-After: 1 is honoured (second request >= ~1 s later), then succeeds', async (t) => {
  emu.fail('metadata', { status: 429, retryAfter: 1 })
  const t0 = performance.now()
  const token = await tokenFromMetadata({ endpoint: emu.metadataUrl, cache: false })
  const elapsed = ms(t0)
  assert.equal(token.accessToken, SECRET)
  assert.equal(emu.count('metadata'), 2)
  const gap = emu.requests[1].at - emu.requests[0].at
  t.diagnostic(`429 Retry-After: 1 -> retry after ${gap} ms (call took ${elapsed} ms)`)
  assert.ok(gap >= 900, `retried after ${gap} ms, Retry-After asked for 1000`)
  assert.ok(elapsed < 2500)
})

test('429 with a Retry-After past the deadline ends at once with ERR_UNAVAILABLE status 429', async () => {
  emu.fail('metadata', { status: 429, retryAfter: 30 }, 5)
  const t0 = performance.now()
  const err = await rejected(tokenFromMetadata({ endpoint: emu.metadataUrl, cache: false, timeoutMs: 2000 }))
  const elapsed = ms(t0)
  assert.equal(err.code, 'ERR_UNAVAILABLE')
  assert.equal(err.status, 429)
  assert.equal(emu.count('metadata'), 1)
  assert.ok(elapsed < 1000, `took ${elapsed} ms`)
})

test('a connection reset is retried', async () => {
  emu.fail('metadata', { reset: true })
  const token = await tokenFromMetadata({ endpoint: emu.metadataUrl, cache: false })
  assert.equal(token.accessToken, SECRET)
  assert.equal(emu.count('metadata'), 2)
  emu.reset()
  emu.fail('metadata', { reset: true }, 5)
  const err = await rejected(tokenFromMetadata({ endpoint: emu.metadataUrl, cache: false, retries: 1 }))
  assert.equal(err.code, 'ERR_UNAVAILABLE')
  assert.equal(emu.count('metadata'), 2)
})

// ---- fast failure off-cloud ----

test('a closed port on 127.0.0.1 fails fast with ERR_UNAVAILABLE and no retry', async (t) => {
  const port = await closedPort()
  const url = `http://127.0.0.1:${port}${METADATA_PATH}`
  const times = []
  for (const retries of [undefined, 10, 10, 10]) {
    const t0 = performance.now()
    const err = await rejected(tokenFromMetadata({ endpoint: url, cache: false, ...(retries === undefined ? {} : { retries }) }))
    times.push(ms(t0))
    assert.equal(err.code, 'ERR_UNAVAILABLE')
    assert.equal(err.status, undefined)
    assert.match(err.message, /metadata/i)
  }
  t.diagnostic(`refused: default options ${times[0]} ms; retries 10: ${times.slice(1).join(', ')} ms`)
  assert.ok(times[0] < 1000, `default options: ${times[0]} ms`)
  // One retry would cost at least 50 ms of backoff (half of 100 ms); ten retries, seconds.
  assert.ok(Math.min(...times.slice(1)) < 50, `retries 10: best of three ${Math.min(...times.slice(1))} ms: a retry happened`)
  assert.ok(Math.max(...times) < 1000)
})

test('the same off-cloud failure via YC_METADATA_ADDR pointing at a closed port', async () => {
  process.env.YC_METADATA_ADDR = `127.0.0.1:${await closedPort()}`
  const t0 = performance.now()
  const err = await rejected(tokenFromMetadata())
  const elapsed = ms(t0)
  assert.equal(err.code, 'ERR_UNAVAILABLE')
  assert.ok(elapsed < 1000, `${elapsed} ms`)
})

test('a listening socket that never answers -> ERR_TIMEOUT within timeoutMs (800) + margin, one connection', async (t) => {
  const hole = await startBlackHole()
  try {
    const t0 = performance.now()
    const err = await rejected(tokenFromMetadata({ endpoint: hole.metadataUrl, cache: false, timeoutMs: 800 }))
    const elapsed = ms(t0)
    t.diagnostic(`black hole, timeoutMs 800: ERR_TIMEOUT after ${elapsed} ms`)
    assert.equal(err.code, 'ERR_TIMEOUT')
    assert.ok(elapsed >= 750, `${elapsed} ms: before the deadline`)
    assert.ok(elapsed < 2000, `${elapsed} ms`)
    assert.equal(hole.connections, 1)
  } finally {
    await hole.close()
  }
})

test('a listening socket that never answers -> ERR_TIMEOUT within the default 3000 ms + margin', async (t) => {
  const hole = await startBlackHole()
  try {
    const t0 = performance.now()
    const err = await rejected(tokenFromMetadata({ endpoint: hole.metadataUrl, cache: false }))
    const elapsed = ms(t0)
    t.diagnostic(`black hole, default timeout: ERR_TIMEOUT after ${elapsed} ms`)
    assert.equal(err.code, 'ERR_TIMEOUT')
    assert.ok(elapsed >= 2900, `${elapsed} ms: before the default deadline`)
    assert.ok(elapsed < 4500, `${elapsed} ms`)
    assert.equal(hole.connections, 1)
  } finally {
    await hole.close()
  }
})

// ---- proxies ----

test('proxy variables (upper and lower case) are ignored for metadata (child process)', async () => {
  const proxy = await startProxy()
  const { key } = registeredKey(emu)
  try {
    const env = { ...process.env }
    for (const name of ENV_NAMES) delete env[name]
    for (const name of ['HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY', 'http_proxy', 'https_proxy', 'all_proxy']) env[name] = proxy.url
    Object.assign(env, { MD_URL: emu.metadataUrl, MD_ADDR: emu.metadataAddr, IAM_URL: emu.iamUrl, IAM_KEY: JSON.stringify(key) })
    const { code, stdout, stderr, json: result } = await runNode(fixture('md-proxy.mjs'), { env, timeoutMs: 10_000 })
    assert.equal(code, 0, stderr)
    assert.ok(result, `no JSON line from the child: ${stdout}`)
    assert.deepEqual(result.viaEndpoint, { ok: true, accessToken: SECRET })
    assert.deepEqual(result.viaEnv, { ok: true, accessToken: SECRET })
    assert.equal(emu.count('metadata'), 2, 'the emulator answered both metadata calls')
    assert.deepEqual(proxy.requests.filter((r) => r.target.includes('computeMetadata') || r.method === 'CONNECT'), [],
      'no metadata request went through the proxy')
    // Control: the same child's IAM call did use the proxy, so the variables were in effect.
    assert.equal(result.iamControl.ok, true, JSON.stringify(result.iamControl))
    assert.deepEqual(proxy.requests.map((r) => r.target), [emu.iamUrl], 'the proxy saw the IAM call only')
  } finally {
    await proxy.close()
  }
})

// ---- hostile or broken answers ----

test('every malformed 200 -> ERR_INVALID_RESPONSE (status 200, not retried), no token text in the error', async () => {
  const cases = {
    'garbage body': { garbage: true },
    '{}': { json: {} },
    'null': { json: null },
    'an array': { json: [SECRET] },
    'empty access_token': { json: { access_token: '', expires_in: 3600, token_type: 'Bearer' } },
    'blank access_token': { json: { access_token: '   ', expires_in: 3600, token_type: 'Bearer' } },
    'access_token a number': { json: { access_token: 42, expires_in: 3600, token_type: 'Bearer' } },
    'access_token an object': { json: { access_token: { t: SECRET }, expires_in: 3600, token_type: 'Bearer' } },
    'expires_in missing': { json: { access_token: SECRET, token_type: 'Bearer' } },
    'expires_in 0': { json: { access_token: SECRET, expires_in: 0, token_type: 'Bearer' } },
    'expires_in negative': { json: { access_token: SECRET, expires_in: -5, token_type: 'Bearer' } },
    "expires_in '100'": { json: { access_token: SECRET, expires_in: '100', token_type: 'Bearer' } },
    'expires_in 1e12': { json: { access_token: SECRET, expires_in: 1e12, token_type: 'Bearer' } },
    'expires_in null': { json: { access_token: SECRET, expires_in: null, token_type: 'Bearer' } },
    "token_type 'MAC'": { json: { access_token: SECRET, expires_in: 3600, token_type: 'MAC' } },
    'token_type a number': { json: { access_token: SECRET, expires_in: 3600, token_type: 1 } },
  }
  for (const [name, fault] of Object.entries(cases)) {
    emu.reset()
    emu.fail('metadata', fault, 3)
    const err = await rejected(tokenFromMetadata({ endpoint: emu.metadataUrl, cache: false }))
    assert.equal(err.code, 'ERR_INVALID_RESPONSE', `${name}: ${err.code} ${err.message}`)
    assert.equal(err.status, 200, name)
    assert.equal(emu.count('metadata'), 1, `${name}: not retried`)
    assert.ok(err.message.length < 1000, `${name}: message of ${err.message.length} chars`)
    assert.ok(!err.message.includes('AAAAAAAA'), `${name}: body echoed`)
  }
})

test('a 100 KiB answer -> ERR_INVALID_RESPONSE, cut off, not retried, status 200', async () => {
  emu.fail('metadata', { bigBody: 100 * 1024 }, 3)
  const err = await rejected(tokenFromMetadata({ endpoint: emu.metadataUrl, cache: false }))
  assert.equal(err.code, 'ERR_INVALID_RESPONSE')
  assert.equal(emu.count('metadata'), 1, 'not retried')
  assert.ok(err.message.length < 1000 && !err.message.includes('AAAAAAAA'), 'body not echoed')
  // The contract: `status` (the HTTP status, 200 included) where an HTTP answer caused it.
  assert.equal(err.status, 200)
})

test('a redirect -> ERR_INVALID_RESPONSE status 302, the target not followed', async () => {
  const target = await startEmulator()
  try {
    emu.fail('metadata', { redirect: target.metadataUrl })
    const err = await rejected(tokenFromMetadata({ endpoint: emu.metadataUrl, cache: false }))
    assert.equal(err.code, 'ERR_INVALID_RESPONSE')
    assert.equal(err.status, 302)
    assert.equal(emu.count('metadata'), 1)
    await sleep(50)
    assert.equal(target.requests.length, 0, 'the redirect target was not asked')
  } finally {
    await target.close()
  }
})

// ---- bad arguments ----

test('bad options -> ERR_INVALID_ARG, rejected (never thrown), no request', async () => {
  const cases = {
    "endpoint 'nope'": { endpoint: 'nope' },
    'endpoint ftp': { endpoint: 'ftp://127.0.0.1/x' },
    'endpoint a number': { endpoint: 5 },
    'timeoutMs -5': { endpoint: emu.metadataUrl, timeoutMs: -5 },
    'timeoutMs 0': { endpoint: emu.metadataUrl, timeoutMs: 0 },
    'timeoutMs NaN': { endpoint: emu.metadataUrl, timeoutMs: NaN },
    'timeoutMs Infinity': { endpoint: emu.metadataUrl, timeoutMs: Infinity },
    "timeoutMs '100'": { endpoint: emu.metadataUrl, timeoutMs: '100' },
    'retries 99': { endpoint: emu.metadataUrl, retries: 99 },
    'retries 1.5': { endpoint: emu.metadataUrl, retries: 1.5 },
    'retries -1': { endpoint: emu.metadataUrl, retries: -1 },
    "cache 'yes'": { endpoint: emu.metadataUrl, cache: 'yes' },
    'signal not a signal': { endpoint: emu.metadataUrl, signal: {} },
  }
  const call = (options) => promiseFrom(() => tokenFromMetadata(options))
  for (const [name, options] of Object.entries(cases)) {
    for (const cache of [false, undefined]) {
      const err = await rejected(call(cache === false ? { ...options, cache: options.cache ?? false } : options))
      assert.equal(err.code, 'ERR_INVALID_ARG', `${name}: ${err.code} ${err.message}`)
    }
  }
  for (const options of [5, 'x', true]) {
    const err = await rejected(call(options))
    assert.equal(err.code, 'ERR_INVALID_ARG', `options ${util.inspect(options)}`)
  }
  assert.equal(emu.requests.length, 0)
})

test("YC_METADATA_ADDR='bad host' -> ERR_INVALID_ARG naming the variable", async () => {
  process.env.YC_METADATA_ADDR = 'bad host'
  const err = await rejected(tokenFromMetadata({ cache: false }))
  assert.equal(err.code, 'ERR_INVALID_ARG')
  assert.match(err.message, /YC_METADATA_ADDR/)
  const cached = await rejected(tokenFromMetadata())
  assert.equal(cached.code, 'ERR_INVALID_ARG')
})

// ---- AbortSignal ----

test('a pre-aborted signal -> ABORT_ERR (AbortError) without a request (cache: false)', async () => {
  for (let i = 0; i < 10; i++) {
    const err = await rejected(tokenFromMetadata({ endpoint: emu.metadataUrl, cache: false, signal: AbortSignal.abort() }))
    assert.equal(err.code, 'ABORT_ERR')
    assert.equal(err.name, 'AbortError')
  }
  await sleep(100)
  assert.equal(emu.requests.length, 0)
})

test('a pre-aborted signal -> ABORT_ERR without a request (cache: true, empty cache; 10 tries)', async () => {
  let requests = 0
  for (let i = 0; i < 10; i++) {
    emu.reset()
    pkg._testing.clearCache()
    const err = await rejected(tokenFromMetadata({ endpoint: emu.metadataUrl, signal: AbortSignal.abort() }))
    assert.equal(err.code, 'ABORT_ERR')
    assert.equal(err.name, 'AbortError')
    await sleep(30)
    requests += emu.requests.length
  }
  assert.equal(requests, 0, `${requests} of 10 pre-aborted calls still sent a request upstream`)
})

test('aborting during a hanging request rejects promptly', async () => {
  emu.fail('metadata', { hang: true })
  const controller = new AbortController()
  const pending = tokenFromMetadata({ endpoint: emu.metadataUrl, cache: false, timeoutMs: 10_000, signal: controller.signal })
  await until(() => emu.count('metadata') > 0)
  assert.equal(emu.count('metadata'), 1, 'the request reached the emulator')
  const t0 = performance.now()
  controller.abort()
  const err = await rejected(pending)
  const elapsed = ms(t0)
  assert.equal(err.code, 'ABORT_ERR')
  assert.equal(err.name, 'AbortError')
  assert.ok(elapsed < 500, `rejected ${elapsed} ms after abort()`)
})

test('aborting a cached (shared) call during a hanging request ends that caller\'s wait promptly', async () => {
  emu.fail('metadata', { hang: true })
  const controller = new AbortController()
  const pending = tokenFromMetadata({ endpoint: emu.metadataUrl, timeoutMs: 1000, signal: controller.signal })
  await until(() => emu.count('metadata') > 0)
  const t0 = performance.now()
  controller.abort()
  const err = await rejected(pending)
  const elapsed = ms(t0)
  assert.equal(err.code, 'ABORT_ERR')
  assert.ok(elapsed < 500, `rejected ${elapsed} ms after abort()`)
  // The shared refresh ends on its own deadline; afterwards the entry works again.
  await sleep(1100)
  assert.equal((await tokenFromMetadata({ endpoint: emu.metadataUrl })).accessToken, SECRET)
})

// ---- last: nothing leaked ----

test('no error seen in this file carries token text; no unhandled rejection', () => {
  assert.ok(errors.length > 40, `only ${errors.length} errors collected`)
  for (const err of errors) {
    for (const text of [err.message, err.stack, util.inspect(err), JSON.stringify(err)]) {
      assert.ok(!text.includes('SECRETSECRET'), `${err.code}: token text in ${text}`)
    }
  }
  assert.deepEqual(unhandled, [])
})
