// tokenFromKey against a misbehaving IAM: retries and their limits, rejections, deadlines,
// hostile answers, aborts and refused connections. Every call uses cache: false so that it
// goes upstream; requests are counted with emu.count('iam').
import assert from 'node:assert/strict'
import { test } from 'node:test'
import pkg from './package.mjs'
import { assertHides, closedPort, lastRequest, registeredKey, rejection, sleep, suiteEmulator, until } from './support.mjs'

const { tokenFromKey } = pkg

const emu = await suiteEmulator({ clearCache: true })
const { key } = registeredKey(emu)

const call = (options = {}) => tokenFromKey(key, { endpoint: emu.iamUrl, cache: false, timeoutMs: 5000, ...options })

/** Runs a call that must fail; returns { err, elapsed }. */
async function failure(options, label = '') {
  const t0 = performance.now()
  const err = await rejection(call(options), label)
  return { err, elapsed: performance.now() - t0 }
}

/** Leaves no token or JWT in any text of the error. */
const assertNoSecrets = (err, label = '') => assertHides(err, ['eyJ', /t1\.[A-Za-z0-9_-]{8}/], label)

const lastIam = () => lastRequest(emu, 'iam')

// ---- retried failures ----

test('500 then 200: succeeds after exactly 2 requests', async () => {
  emu.fail('iam', { status: 500 })
  const token = await call()
  assert.equal(emu.count('iam'), 2)
  assert.equal(token.accessToken, lastIam().response.iamToken)
})

test('503 twice then 200: succeeds after exactly 3 requests', async () => {
  emu.fail('iam', { status: 503 }, 2)
  const token = await call()
  assert.equal(emu.count('iam'), 3)
  assert.equal(token.accessToken, lastIam().response.iamToken)
})

test('each retry signs a fresh JWT', async () => {
  emu.fail('iam', { status: 502 }, 1)
  await call()
  const [a, b] = emu.requests.filter((r) => r.kind === 'iam')
  assert.notEqual(a.body, b.body)
})

test('429 with Retry-After: 1, then 200: succeeds after waiting about 1 s', async () => {
  emu.fail('iam', { status: 429, retryAfter: 1 })
  const t0 = performance.now()
  const token = await call()
  const elapsed = performance.now() - t0
  assert.equal(emu.count('iam'), 2)
  assert.equal(token.accessToken, lastIam().response.iamToken)
  const [first, second] = emu.requests.filter((r) => r.kind === 'iam')
  assert.ok(second.at - first.at >= 950, `retried after ${second.at - first.at} ms, Retry-After asked 1000`)
  assert.ok(elapsed >= 950 && elapsed < 3000, `took ${elapsed} ms`)
})

test('persistent 503 with retries: 2 → ERR_UNAVAILABLE, status 503, after exactly 3 requests', async () => {
  emu.fail('iam', { status: 503 }, 10)
  const { err } = await failure({ retries: 2 }, 'persistent 503')
  assert.equal(err.code, 'ERR_UNAVAILABLE', err.message)
  assert.equal(err.status, 503)
  assert.match(err.message, /503/)
  assert.equal(emu.count('iam'), 3)
  assertNoSecrets(err, 'persistent 503')
})

test('retries: 0 → a single request on 500', async () => {
  emu.fail('iam', { status: 500 }, 5)
  const { err } = await failure({ retries: 0 })
  assert.equal(err.code, 'ERR_UNAVAILABLE')
  assert.equal(err.status, 500)
  assert.equal(emu.count('iam'), 1)
})

test('retries default to 3 (4 requests) on a persistent 500', async () => {
  emu.fail('iam', { status: 500 }, 10)
  const { err } = await failure({ timeoutMs: 8000 })
  assert.equal(err.code, 'ERR_UNAVAILABLE')
  assert.equal(emu.count('iam'), 4)
})

// ---- rejections ----

for (const [status, said] of [[400, 'invalid argument'], [401, 'unauthenticated'], [403, 'permission denied']]) {
  test(`${status}: not retried, ERR_IAM_REJECTED with status ${status} and IAM's message`, async () => {
    emu.fail('iam', { status }, 3)
    const { err } = await failure({}, String(status))
    assert.equal(err.code, 'ERR_IAM_REJECTED', err.message)
    assert.equal(err.status, status)
    assert.ok(err.message.includes(said), `IAM's message in: ${err.message}`)
    assert.equal(emu.count('iam'), 1)
    assertNoSecrets(err, String(status))
  })
}

test("an IAM error message that quotes a token or the JWT is not echoed whole", async () => {
  const jwtLike = 'eyJhbGciOiJQUzI1NiJ9.eyJpc3MiOiJ4In0.c2lnbmF0dXJl'
  emu.fail('iam', { status: 401, body: { code: 16, message: `bad jwt ${jwtLike} and token t1.9euelZqSyc2Ln5qMk5Y and more`, details: [] } })
  const { err } = await failure({})
  assert.equal(err.code, 'ERR_IAM_REJECTED')
  assert.equal(err.status, 401)
  assertNoSecrets(err, 'echo')
})

// ---- deadlines ----

test('a Retry-After beyond timeoutMs ends the call at once with ERR_UNAVAILABLE', async () => {
  emu.fail('iam', { status: 503, retryAfter: 10 }, 3)
  const { err, elapsed } = await failure({ timeoutMs: 3000 })
  assert.equal(err.code, 'ERR_UNAVAILABLE', err.message)
  assert.equal(err.status, 503)
  assert.equal(emu.count('iam'), 1)
  assert.ok(elapsed < 1000, `took ${elapsed} ms; should not wait for the deadline`)
})

test('a hanging server → ERR_TIMEOUT within timeoutMs', async () => {
  emu.fail('iam', { hang: true }, 5)
  const timeoutMs = 500
  const { err, elapsed } = await failure({ timeoutMs }, 'hang')
  assert.equal(err.code, 'ERR_TIMEOUT', err.message)
  assert.equal(err.status, undefined)
  assert.match(err.message, /timeoutMs/)
  assert.ok(elapsed >= timeoutMs - 50, `ended after ${elapsed} ms, before the deadline`)
  assert.ok(elapsed < timeoutMs + 1500, `ended after ${elapsed} ms`)
})

test('a body dripping slower than timeoutMs → ERR_TIMEOUT', async () => {
  emu.fail('iam', { drip: true, intervalMs: 200 }, 3)
  const timeoutMs = 600
  const { err, elapsed } = await failure({ timeoutMs }, 'drip')
  assert.equal(err.code, 'ERR_TIMEOUT', err.message)
  assert.ok(elapsed >= timeoutMs - 50 && elapsed < timeoutMs + 1500, `ended after ${elapsed} ms`)
  assertNoSecrets(err, 'drip')
})

test('a slow 503 then a hang: the deadline covers the retries too', async () => {
  emu.fail('iam', { status: 503 })
  emu.fail('iam', { hang: true }, 3)
  const { err, elapsed } = await failure({ timeoutMs: 700 })
  assert.equal(err.code, 'ERR_TIMEOUT', err.message)
  assert.equal(emu.count('iam'), 2)
  assert.ok(elapsed < 700 + 1500, `ended after ${elapsed} ms`)
})

// ---- connection failures ----

test('a reset connection is retried, then ERR_UNAVAILABLE (retries: 1 → 2 requests)', async () => {
  emu.fail('iam', { reset: true }, 5)
  const { err } = await failure({ retries: 1 }, 'reset')
  assert.equal(err.code, 'ERR_UNAVAILABLE', err.message)
  assert.equal(err.status, undefined)
  assert.equal(emu.count('iam'), 2)
})

test('a reset connection, then 200: succeeds', async () => {
  emu.fail('iam', { reset: true })
  const token = await call({ retries: 1 })
  assert.equal(emu.count('iam'), 2)
  assert.equal(token.accessToken, lastIam().response.iamToken)
})

test('connection refused → ERR_UNAVAILABLE mentioning the refusal, after retries', async () => {
  const port = await closedPort()
  const endpoint = `http://127.0.0.1:${port}/iam/v1/tokens`
  const t0 = performance.now()
  const err = await rejection(tokenFromKey(key, { endpoint, retries: 1, timeoutMs: 5000, cache: false }))
  const elapsed = performance.now() - t0
  assert.equal(err.code, 'ERR_UNAVAILABLE', err.message)
  assert.match(err.message, /refused/i)
  assert.ok(err.message.includes(`127.0.0.1:${port}`), `names the endpoint: ${err.message}`)
  assert.equal(err.status, undefined)
  // one backoff (50..100 ms for the first retry) between the two attempts
  assert.ok(elapsed >= 40, `a retry waits first; took ${elapsed} ms`)
  assert.ok(elapsed < 5000, `took ${elapsed} ms`)
})

// ---- hostile or broken 200s ----

test('garbage 200 → ERR_INVALID_RESPONSE with status 200, not retried', async () => {
  emu.fail('iam', { garbage: true }, 3)
  const { err } = await failure({}, 'garbage')
  assert.equal(err.code, 'ERR_INVALID_RESPONSE', err.message)
  assert.equal(err.status, 200)
  assert.ok(!err.message.includes('not json at all'), `body echoed: ${err.message}`)
  assert.equal(emu.count('iam'), 1)
})

test('wrong-shape JSON 200 → ERR_INVALID_RESPONSE, the token is not in the message', async () => {
  const future = new Date(Date.now() + 3600e3).toISOString()
  const shapes = [
    {},
    { iamToken: 5 },
    { iamToken: 't1.x', expiresAt: 'tomorrow' },
    { iamToken: '', expiresAt: future },
    { iamToken: '   ', expiresAt: future },
    { iamToken: 't1.x' },
    { iamToken: 't1.x', expiresAt: 1893456000 },
    { expiresAt: future },
    { iamToken: 't1.x', expiresAt: '2000-01-01T00:00:00Z' },
    null,
    [],
    't1.x',
  ]
  const problems = []
  for (const json of shapes) {
    const label = JSON.stringify(json)
    emu.reset()
    emu.fail('iam', { json }, 3)
    try {
      const { err } = await failure({}, label)
      assert.equal(err.code, 'ERR_INVALID_RESPONSE', `${label}: ${err.code} ${err.message}`)
      assert.equal(err.status, 200, `${label}: status`)
      assertHides(err, ['t1.x'], label)
      assert.equal(emu.count('iam'), 1, `${label}: not retried`)
    } catch (e) {
      problems.push(e.message)
    }
  }
  assert.deepEqual(problems, [])
})

test('a 100 KiB body → ERR_INVALID_RESPONSE mentioning 64 KiB (status 200)', async () => {
  emu.fail('iam', { bigBody: 100 * 1024 }, 3)
  const { err } = await failure({}, 'bigBody')
  assert.equal(err.code, 'ERR_INVALID_RESPONSE', err.message)
  assert.match(err.message, /64 KiB/)
  assert.ok(!err.message.includes('AAAAAAAA'), 'body not echoed')
  assertNoSecrets(err, 'bigBody')
  assert.equal(emu.count('iam'), 1)
  assert.equal(err.status, 200, 'an HTTP answer caused it: status 200 (design contract)')
})

test('a redirect → ERR_INVALID_RESPONSE with status 302; the target is not requested', async () => {
  emu.fail('iam', { redirect: emu.origin + '/elsewhere/iam/v1/tokens' }, 3)
  const { err } = await failure({}, 'redirect')
  assert.equal(err.code, 'ERR_INVALID_RESPONSE', err.message)
  assert.equal(err.status, 302)
  await sleep(100)
  assert.equal(emu.count('other'), 0, 'redirect target requested')
  assert.equal(emu.count('iam'), 1)
})

test('an unexpected 2xx (204) is not taken for a token', async () => {
  emu.fail('iam', { status: 204, body: '' })
  const { err } = await failure({})
  assert.ok(['ERR_INVALID_RESPONSE', 'ERR_IAM_REJECTED', 'ERR_UNAVAILABLE'].includes(err.code), err.code)
  assert.equal(err.status, 204)
})

// ---- aborts ----

test('an already aborted signal → ABORT_ERR / AbortError, no request reaches IAM', async () => {
  // a warm connection pool makes a leaked request more likely, so make one first
  await call()
  emu.reset()
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now()
    const { err } = await failure({ signal: AbortSignal.abort() }, `pre-aborted #${i}`)
    assert.ok(performance.now() - t0 < 500)
    assert.equal(err.code, 'ABORT_ERR')
    assert.equal(err.name, 'AbortError')
  }
  await sleep(150)
  assert.equal(emu.requests.length, 0)
})

test('an already aborted signal rejects even when a fresh token is cached (as fetch does)', async () => {
  await tokenFromKey(key, { endpoint: emu.iamUrl })
  const outcomes = []
  for (let i = 0; i < 20; i++) {
    const err = await tokenFromKey(key, { endpoint: emu.iamUrl, signal: AbortSignal.abort() }).then(() => 'resolved', (e) => e)
    outcomes.push(err === 'resolved' ? 'resolved' : `${err.code}/${err.name}`)
  }
  assert.equal(emu.count('iam'), 1)
  assert.deepEqual(outcomes, Array(20).fill('ABORT_ERR/AbortError'))
})

test('aborting during a hanging request rejects promptly with AbortError', async () => {
  emu.fail('iam', { hang: true }, 3)
  const controller = new AbortController()
  const pending = rejection(call({ signal: controller.signal, timeoutMs: 10_000 }))
  assert.ok(await until(() => emu.count('iam') === 1), 'timed out waiting for the request to reach the emulator')
  const t0 = performance.now()
  controller.abort()
  const err = await pending
  const elapsed = performance.now() - t0
  assert.equal(err.code, 'ABORT_ERR')
  assert.equal(err.name, 'AbortError')
  assert.ok(elapsed < 500, `rejected ${elapsed} ms after abort()`)
})

test('aborting during the backoff between retries rejects promptly', async () => {
  emu.fail('iam', { status: 503, retryAfter: 3 }, 3)
  const controller = new AbortController()
  const pending = rejection(call({ signal: controller.signal, timeoutMs: 10_000 }))
  assert.ok(await until(() => emu.count('iam') === 1), 'timed out waiting for the first request')
  await sleep(50)
  const t0 = performance.now()
  controller.abort()
  const err = await pending
  assert.equal(err.code, 'ABORT_ERR')
  assert.ok(performance.now() - t0 < 500)
  assert.equal(emu.count('iam'), 1)
})
