// The per-process token cache, single flight, refresh policy and "no lingering"
// (issue "token cache"), against the local emulator.
// Run: node --test --test-concurrency=1 __test__/cache.test.mjs
//
// Scenarios that move the cache's clock (`_testing.advanceClock`) each run in a fresh child
// process (fixtures/cache-driver.mjs, driven over IPC): the clock offset never goes back, so
// in one process every later scenario would inherit it.
import assert from 'node:assert/strict'
import { fork } from 'node:child_process'
import fs from 'node:fs'
import { createRequire } from 'node:module'
import { before, test } from 'node:test'

import pkg from './package.mjs'
import {
  METADATA_PATH, closedPort, fixture, registeredKey, runNode, sleep, startBlackHole, stripPleaseLine, suiteEmulator,
  suiteTempDir, unhandledRejections, until, writeKeyFile,
} from './support.mjs'

const { tokenFromKey, tokenFromMetadata } = pkg
const DRIVER = fixture('cache-driver.mjs')
const EXIT_FIXTURE = fixture('cache-exit.mjs')
const MIN = 60_000
const HOUR = 60 * MIN
const LIFETIME_S = 43200 // the emulator's default tokenLifetimeSec

const unhandled = unhandledRejections()
const tmp = suiteTempDir('yc-iam-cache-test-')
const emu = await suiteEmulator({ clearCache: true })
before(() => {
  delete process.env.YC_METADATA_ADDR
})

/** A new authorized key, registered with the emulator. */
const newKey = (opts) => registeredKey(emu, opts).key

async function settle(promise) {
  try {
    return { ok: true, value: await promise }
  } catch (error) {
    return { ok: false, error }
  }
}

// ---- a fresh package process, driven over IPC ----

async function startDriver() {
  const child = fork(DRIVER, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const pending = new Map()
  let next = 0
  let exited = false
  const exit = new Promise((resolve) => child.once('exit', (code, signal) => {
    exited = true
    for (const done of pending.values()) done({ ok: false, error: { code: 'DRIVER_EXITED', message: `driver exited (${code ?? signal})` } })
    pending.clear()
    resolve()
  }))
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('driver did not start within 10 s')), 10_000)
    child.on('message', (m) => {
      if (m.ready) { clearTimeout(timer); return resolve() }
      const done = pending.get(m.id)
      pending.delete(m.id)
      done?.(m)
    })
    exit.then(() => { clearTimeout(timer); reject(new Error('driver exited before it was ready')) })
  })
  const call = (op, args) => new Promise((resolve, reject) => {
    if (exited) return reject(new Error('driver has exited'))
    const id = next++
    const timer = setTimeout(() => { pending.delete(id); reject(new Error(`driver: ${op} got no answer within 15 s`)) }, 15_000)
    pending.set(id, (m) => { clearTimeout(timer); resolve(m) })
    child.send({ id, op, args })
  })
  return {
    /** tokenFromKey in the child: { ok, value: { accessToken, expiresAtMs }, error: { code, status }, ms }. */
    key: (key, options) => call('key', { key, options }),
    metadata: (options) => call('metadata', { options }),
    advance: async (ms) => { await call('advance', { ms }) },
    unhandled: async () => (await call('unhandled')).value,
    async close() {
      if (!exited) {
        child.disconnect()
        await Promise.race([exit, sleep(3000)])
        if (!exited) child.kill()
      }
      await exit
    },
  }
}

/** Runs `fn(driver)` in a fresh driver; asserts nothing went unhandled there. */
async function inDriver(fn) {
  const d = await startDriver()
  try {
    await fn(d)
    assert.deepEqual(await d.unhandled(), [], 'unhandled rejections in the driver process')
  } finally {
    await d.close()
  }
}

const okToken = (r, what = 'call') => {
  assert.ok(r.ok, `${what} failed: ${r.error?.code} ${r.error?.message}`)
  return r.value.accessToken
}

// ---- in-process: entries and identity ----

test('IAM: a second call makes no upstream request; cache: false does and does not fill the cache', async () => {
  const key = newKey()
  const options = { endpoint: emu.iamUrl }
  const a = await tokenFromKey(key, options)
  const b = await tokenFromKey(key, options)
  assert.equal(emu.count('iam'), 1)
  assert.equal(b.accessToken, a.accessToken)
  assert.equal(b.expiresAt.getTime(), a.expiresAt.getTime())
  // JSON text is never memoized in JS: this asks the native cache.
  assert.equal((await tokenFromKey(JSON.stringify(key), options)).accessToken, a.accessToken)
  assert.equal(emu.count('iam'), 1)
  const c = await tokenFromKey(key, { ...options, cache: false })
  assert.equal(emu.count('iam'), 2)
  assert.notEqual(c.accessToken, a.accessToken)
  assert.equal((await tokenFromKey(key, options)).accessToken, a.accessToken, 'cache: false left the entry alone')
  assert.equal((await tokenFromKey(JSON.stringify(key), options)).accessToken, a.accessToken)
  assert.equal(emu.count('iam'), 2)
})

test('metadata: a second call makes no upstream request (JS memo and native cache); cache: false does', async () => {
  const options = { endpoint: emu.metadataUrl }
  const a = await tokenFromMetadata(options)
  const b = await tokenFromMetadata(options)
  assert.equal(emu.count('metadata'), 1)
  assert.equal(b.accessToken, a.accessToken)
  // The native cache itself (below the JS memo) also answers from memory.
  const native = createRequire(import.meta.url)('../index.js')[Symbol.for('yc-iam-token.testing')].addon()
  assert.equal((await native.tokenFromMetadata(options)).accessToken, a.accessToken)
  assert.equal(emu.count('metadata'), 1)
  const c = await tokenFromMetadata({ ...options, cache: false })
  assert.equal(emu.count('metadata'), 2)
  assert.notEqual(c.accessToken, a.accessToken)
  assert.equal((await tokenFromMetadata(options)).accessToken, a.accessToken)
  assert.equal(emu.count('metadata'), 2)
})

test('another private key with the same id is another entry', async () => {
  const first = newKey()
  const options = { endpoint: emu.iamUrl }
  const a = await tokenFromKey(first, options)
  // Same id and service account, another RSA pair: the emulator now knows the new public key.
  const second = newKey({ id: first.id, serviceAccountId: first.service_account_id })
  assert.notEqual(stripPleaseLine(second.private_key), stripPleaseLine(first.private_key))
  const b = await tokenFromKey(second, options)
  assert.equal(emu.count('iam'), 2, 'the second key went upstream')
  assert.notEqual(b.accessToken, a.accessToken)
  // Each is its own entry (JSON text: straight to the native cache).
  assert.equal((await tokenFromKey(JSON.stringify(first), options)).accessToken, a.accessToken)
  assert.equal((await tokenFromKey(JSON.stringify(second), options)).accessToken, b.accessToken)
  assert.equal(emu.count('iam'), 2)
})

test('a key object changed in place to another private key is another entry', async () => {
  const first = newKey()
  const options = { endpoint: emu.iamUrl }
  const mutable = { ...first }
  const a = await tokenFromKey(mutable, options)
  const other = newKey({ id: first.id, serviceAccountId: first.service_account_id })
  mutable.private_key = other.private_key
  const b = await tokenFromKey(mutable, options)
  assert.equal(emu.count('iam'), 2)
  assert.notEqual(b.accessToken, a.accessToken)
})

test('the same key as object, JSON text, path, Buffer (and other shapes) is ONE entry', async () => {
  const key = newKey()
  const options = { endpoint: emu.iamUrl }
  const file = writeKeyFile(tmp, key)
  const crlfBomFile = writeKeyFile(tmp, key, { crlf: true, bom: true })
  const forms = {
    object: key,
    'JSON text': JSON.stringify(key),
    'pretty JSON text': JSON.stringify(key, null, 2),
    path: file,
    Buffer: fs.readFileSync(file),
    'object again (another object)': { ...key },
    'camelCase object': { id: key.id, serviceAccountId: key.service_account_id, privateKey: key.private_key },
    'CreateKeyResponse': { key: { id: key.id, serviceAccountId: key.service_account_id }, privateKey: key.private_key },
    'private key without the PLEASE line': { ...key, private_key: stripPleaseLine(key.private_key) },
    'CRLF + BOM file': crlfBomFile,
  }
  let first
  for (const [name, input] of Object.entries(forms)) {
    const r = await settle(tokenFromKey(input, options))
    assert.ok(r.ok, `${name}: ${r.error?.code} ${r.error?.message}`)
    first ??= r.value.accessToken
    assert.equal(r.value.accessToken, first, `${name}: another token`)
    assert.equal(emu.count('iam'), 1, `${name}: went upstream`)
  }
})

test('the same key at two endpoints is two entries', async () => {
  const key = newKey()
  const a = await tokenFromKey(key, { endpoint: emu.iamUrl })
  const other = `http://localhost:${emu.port}/iam/v1/tokens`
  const b = await tokenFromKey(key, { endpoint: other, audience: emu.iamUrl })
  assert.equal(emu.count('iam'), 2)
  assert.notEqual(a.accessToken, b.accessToken)
})

// ---- in-process: single flight ----

test('1,000 concurrent first calls share exactly one upstream request (IAM and metadata)', async () => {
  const key = newKey()
  const keyCalls = await Promise.all(Array.from({ length: 1000 }, () => tokenFromKey(key, { endpoint: emu.iamUrl })))
  assert.equal(emu.count('iam'), 1)
  assert.equal(new Set(keyCalls.map((t) => t.accessToken)).size, 1)
  assert.equal(keyCalls[0].accessToken, emu.requests.find((r) => r.kind === 'iam').response.iamToken)

  const mdCalls = await Promise.all(Array.from({ length: 1000 }, () => tokenFromMetadata({ endpoint: emu.metadataUrl })))
  assert.equal(emu.count('metadata'), 1)
  assert.equal(new Set(mdCalls.map((t) => t.accessToken)).size, 1)
})

test('1,000 concurrent first calls all get the one failed request\'s error; the next call tries again', async () => {
  const key = newKey()
  const options = { endpoint: emu.iamUrl, retries: 0 }
  emu.fail('iam', { status: 503 }, 1)
  const results = await Promise.allSettled(Array.from({ length: 1000 }, () => tokenFromKey(key, options)))
  assert.equal(emu.count('iam'), 1)
  assert.ok(results.every((r) => r.status === 'rejected'), `${results.filter((r) => r.status !== 'rejected').length} resolved`)
  assert.deepEqual(new Set(results.map((r) => `${r.reason.code} ${r.reason.status}`)), new Set(['ERR_UNAVAILABLE 503']))
  const next = await tokenFromKey(key, options)
  assert.equal(emu.count('iam'), 2, 'failures are not cached: exactly one more request')
  assert.match(next.accessToken, /^t1\./)

  emu.fail('metadata', { status: 503 }, 1)
  const md = await Promise.allSettled(Array.from({ length: 1000 }, () => tokenFromMetadata({ endpoint: emu.metadataUrl, retries: 0 })))
  assert.equal(emu.count('metadata'), 1)
  assert.ok(md.every((r) => r.status === 'rejected' && r.reason.code === 'ERR_UNAVAILABLE' && r.reason.status === 503))
  await tokenFromMetadata({ endpoint: emu.metadataUrl, retries: 0 })
  assert.equal(emu.count('metadata'), 2)
})

test('a joining caller\'s own timeoutMs and signal bound only its own wait', async () => {
  const key = newKey()
  emu.fail('iam', { drip: true, intervalMs: 8 }) // the answer takes ~0.7 s
  const first = tokenFromKey(key, { endpoint: emu.iamUrl, timeoutMs: 8000 })
  await until(() => emu.count('iam') === 1)
  const t0 = performance.now()
  const short = settle(tokenFromKey(JSON.stringify(key), { endpoint: emu.iamUrl, timeoutMs: 200 }))
  const controller = new AbortController()
  const aborted = settle(tokenFromKey(key, { endpoint: emu.iamUrl, signal: controller.signal }))
  setTimeout(() => controller.abort(), 50)
  const [s, a] = await Promise.all([short, aborted])
  const elapsed = performance.now() - t0
  assert.equal(s.ok, false)
  assert.equal(s.error.code, 'ERR_TIMEOUT')
  assert.equal(a.ok, false)
  assert.equal(a.error.code, 'ABORT_ERR')
  assert.ok(elapsed < 600, `short waits ended after ${Math.round(elapsed)} ms`)
  const token = await first
  assert.match(token.accessToken, /^t1\./)
  assert.equal(emu.count('iam'), 1)
  assert.equal((await tokenFromKey(JSON.stringify(key), { endpoint: emu.iamUrl })).accessToken, token.accessToken)
})

test('a token that expires while its answer is still arriving is not returned as valid', async () => {
  // A 1-second token delivered byte by byte over ~1.5 s: by the time it arrives it has expired.
  // Either outcome is fine but one: resolving with a token past its expiry.
  emu.metadataToken = { access_token: 't1.shortlived', expires_in: 1, token_type: 'Bearer' }
  emu.fail('metadata', { drip: true, intervalMs: 20 })
  emu.tokenLifetimeSec = 1
  emu.fail('iam', { drip: true, intervalMs: 15 })
  const key = newKey()
  const late = {}
  const check = async (source, promise) => {
    const r = await settle(promise)
    const now = Date.now()
    if (r.ok && r.value.expiresAt.getTime() <= now) late[source] = now - r.value.expiresAt.getTime()
  }
  await check('metadata', tokenFromMetadata({ endpoint: emu.metadataUrl, timeoutMs: 5000, retries: 0 }))
  await check('iam', tokenFromKey(key, { endpoint: emu.iamUrl, timeoutMs: 5000, retries: 0 }))
  assert.deepEqual(late, {}, 'resolved with a token that had expired this many ms before')
})

// ---- fresh processes: the refresh policy over the cache's clock ----

test('stale (>= 1 h old): returned at once, one background refresh, a later call gets the new token', () => inDriver(async (d) => {
  const key = newKey()
  const options = { endpoint: emu.iamUrl }
  const a = okToken(await d.key(key, options))
  assert.equal(okToken(await d.key(key, options)), a)
  assert.equal(emu.count('iam'), 1)
  await d.advance(61 * MIN)
  emu.fail('iam', { drip: true, intervalMs: 10 }) // the refresh takes ~0.9 s to arrive
  const stale = await d.key(key, options)
  assert.equal(okToken(stale), a, 'the stale token, at once')
  assert.ok(stale.ms < 300, `the stale call took ${Math.round(stale.ms)} ms: it waited for the refresh`)
  assert.ok(await until(() => emu.count('iam') === 2), 'a background refresh started')
  // While the refresh is in flight, callers still get the old token and start nothing new.
  const during = await d.key(key, options)
  assert.equal(okToken(during), a)
  let renewed
  await until(async () => {
    renewed = okToken(await d.key(key, options))
    return renewed !== a
  }, 5000)
  assert.notEqual(renewed, a, 'a later call gets the refreshed token')
  assert.match(renewed, /^t1\./)
  assert.equal(emu.count('iam'), 2, 'exactly one refresh')
}))

test('stale + a failing background refresh: the old token, contained, retried >= 10 s later', () => inDriver(async (d) => {
  const key = newKey()
  const options = { endpoint: emu.iamUrl, retries: 0 }
  const a = okToken(await d.key(key, options))
  await d.advance(61 * MIN)
  emu.fail('iam', { status: 503 }, 10)
  assert.equal(okToken(await d.key(key, options)), a, 'the stale call still resolves with the old token')
  assert.ok(await until(() => emu.count('iam') === 2))
  await sleep(100)
  assert.deepEqual(await d.unhandled(), [], 'the failed refresh surfaced as an unhandledRejection')
  assert.equal(okToken(await d.key(key, options)), a)
  await sleep(100)
  assert.equal(emu.count('iam'), 2, 'no new attempt within 10 s of the failed one')
  await d.advance(11_000)
  assert.equal(okToken(await d.key(key, options)), a)
  assert.ok(await until(() => emu.count('iam') === 3), 'a later call tries again')
  emu.reset() // IAM back
  await d.advance(11_000)
  assert.equal(okToken(await d.key(key, options)), a)
  let renewed
  await until(async () => (renewed = okToken(await d.key(key, options))) !== a)
  assert.notEqual(renewed, a)
}))

test('expiring (<= 5 min left) with IAM up: the call waits for the refresh and gets a new token', () => inDriver(async (d) => {
  const key = newKey()
  const options = { endpoint: emu.iamUrl }
  const a = okToken(await d.key(key, options))
  await d.advance((LIFETIME_S - 120) * 1000)
  const b = okToken(await d.key(key, options))
  assert.notEqual(b, a)
  assert.equal(emu.count('iam'), 2)
}))

test('expiring with IAM down (503): the old token while it has > 30 s left', () => inDriver(async (d) => {
  const key = newKey()
  const a = okToken(await d.key(key, { endpoint: emu.iamUrl }))
  await d.advance((LIFETIME_S - 120) * 1000)
  emu.fail('iam', { status: 503 }, 100)
  const r = await d.key(key, { endpoint: emu.iamUrl, retries: 0 })
  assert.equal(okToken(r), a, 'falls back to the old token on ERR_UNAVAILABLE')
  assert.equal(emu.count('iam'), 2)
}))

test('expiring with the refresh timing out (ERR_TIMEOUT): the old token, every time (10 tries)', () => inDriver(async (d) => {
  const key = newKey()
  const a = okToken(await d.key(key, { endpoint: emu.iamUrl }))
  await d.advance((LIFETIME_S - 290) * 1000)
  emu.fail('iam', { hang: true }, 20)
  const outcomes = []
  for (let i = 0; i < 10; i++) {
    await d.advance(11_000) // past the 10 s gap: each call starts its own refresh
    const r = await d.key(key, { endpoint: emu.iamUrl, timeoutMs: 200 })
    assert.ok(r.ms < 1500, `call ${i} took ${Math.round(r.ms)} ms`)
    outcomes.push(r.ok ? (r.value.accessToken === a ? 'old token' : 'new token') : r.error.code)
    // The caller's wait and the refresh's own deadline end together; let the refresh finish
    // so that the next call starts a refresh of its own instead of joining this one.
    await sleep(100)
  }
  assert.equal(emu.count('iam'), 11)
  assert.deepEqual(outcomes, Array(10).fill('old token'))
}))

test('an expired entry with IAM down rejects ERR_UNAVAILABLE, never the old token (also with < 30 s left)', () => inDriver(async (d) => {
  const key = newKey()
  const options = { endpoint: emu.iamUrl, retries: 0 }
  okToken(await d.key(key, options))
  emu.fail('iam', { status: 503 }, 100)
  await d.advance((LIFETIME_S - 20) * 1000) // 20 s left: under the 30 s floor
  const floor = await d.key(key, options)
  assert.equal(floor.ok, false, 'got the token with 20 s left')
  assert.equal(floor.error.code, 'ERR_UNAVAILABLE')
  assert.equal(floor.error.status, 503)
  await d.advance(21_000) // past expiry
  const expired = await d.key(key, options)
  assert.equal(expired.ok, false, 'got the expired token')
  assert.equal(expired.error.code, 'ERR_UNAVAILABLE')
  assert.equal(emu.count('iam'), 3)
}))

test('a deleted key at refresh time: ERR_IAM_REJECTED evicts; the next call goes upstream again', () => inDriver(async (d) => {
  const key = newKey()
  const options = { endpoint: emu.iamUrl }
  const a = okToken(await d.key(key, options))
  await d.advance((LIFETIME_S - 120) * 1000)
  emu.deleteKey(key.id)
  const r = await d.key(key, options)
  assert.equal(r.ok, false, 'the old token was returned after IAM rejected the key')
  assert.equal(r.error.code, 'ERR_IAM_REJECTED')
  assert.equal(r.error.status, 401)
  assert.equal(emu.count('iam'), 2)
  const again = await d.key(key, options) // within 10 s: only an evicted entry asks again
  assert.equal(again.ok, false)
  assert.equal(again.error.code, 'ERR_IAM_REJECTED')
  assert.equal(emu.count('iam'), 3, 'evicted: the next call went upstream')
  emu.registerKey(key)
  const b = okToken(await d.key(key, options))
  assert.notEqual(b, a)
  assert.equal(emu.count('iam'), 4)
}))

test('a metadata service that keeps answering the same near-expiry token is not hammered', (t) => inDriver(async (d) => {
  emu.metadataToken = { access_token: 't1.same', expires_in: 200, token_type: 'Bearer' }
  const options = { endpoint: emu.metadataUrl }
  for (let i = 0; i < 100; i++) {
    const r = await d.metadata(options)
    assert.equal(okToken(r, `call ${i}`), 't1.same')
    assert.ok(r.value.expiresAtMs > Date.now(), `call ${i}: expired token`)
    await d.advance(1000)
  }
  const n = emu.count('metadata')
  t.diagnostic(`${n} upstream requests for 100 calls over 100 s of clock`)
  assert.ok(n >= 2 && n <= 12, `${n} upstream requests over 100 s of clock (one per 10 s at most)`)
}))

test('a token fetched after advanceClock counts its age from its fetch (test hook)', () => inDriver(async (d) => {
  // advanceClock moves the cache's clock; a token fetched afterwards is new on that clock.
  const key = newKey()
  const options = { endpoint: emu.iamUrl }
  await d.advance(61 * MIN)
  const a = okToken(await d.key(key, options))
  await d.advance(11_000)
  assert.equal(okToken(await d.key(key, options)), a)
  await sleep(300)
  assert.equal(emu.count('iam'), 1, 'an 11-second-old token was refreshed as if it were an hour old')
}))

// ---- no lingering ----

/** Runs the exit fixture with `env` added to this process's; resolves runNode's result. */
const runExitFixture = (env) => runNode(EXIT_FIXTURE, { env: { ...process.env, ...env } })

test('a process that made one call of each function exits within 1 s of its last await', async (t) => {
  const key = newKey()
  const r = await runExitFixture({ EXIT_MODE: 'ok', EXIT_IAM_URL: emu.iamUrl, EXIT_MD_URL: emu.metadataUrl, EXIT_KEY: JSON.stringify(key) })
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual({ ...r.json, lastAwait: undefined }, { context: 'Bearer', jwt: 3, metadata: 'Bearer', key: 'Bearer', lastAwait: undefined })
  assert.equal(emu.count('iam'), 1)
  assert.equal(emu.count('metadata'), 1)
  assertExitedPromptly(t, r)
})

/** The child exited within 1 s of its last await. */
function assertExitedPromptly(t, r) {
  const lingered = r.exitedAt - r.json.lastAwait
  t.diagnostic(`exited ${lingered} ms after its last await`)
  assert.ok(lingered < 1000, `lingered ${lingered} ms`)
}

test('a process whose metadata call failed (port closed) exits promptly', async (t) => {
  const url = `http://127.0.0.1:${await closedPort()}${METADATA_PATH}`
  const r = await runExitFixture({ EXIT_MODE: 'fail', EXIT_MD_URL: url })
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.json.metadata, 'ERR_UNAVAILABLE')
  assertExitedPromptly(t, r)
})

test('a process whose metadata call timed out (server never answers) exits promptly', async (t) => {
  const hole = await startBlackHole()
  try {
    const r = await runExitFixture({ EXIT_MODE: 'timeout', EXIT_MD_URL: hole.metadataUrl })
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.json.metadata, 'ERR_TIMEOUT')
    assertExitedPromptly(t, r)
  } finally {
    await hole.close()
  }
})

test('no unhandled rejection in this process', async () => {
  await sleep(50)
  assert.deepEqual(unhandled, [])
})

test("a process's first calls (their native call starts before lib/memo.js loads) share one request, and the memo keeps the answer", async () => {
  const key = newKey()
  const file = writeKeyFile(tmp, key, { name: 'first-call.json' })
  const script = fs.mkdtempSync(`${tmp}/first-`) + '/first.cjs'
  fs.writeFileSync(
    script,
    `const pkg = require(${JSON.stringify(createRequire(import.meta.url).resolve('../index.js'))})
    const testing = pkg[Symbol.for('yc-iam-token.testing')]
    process.on('unhandledRejection', (e) => { console.log(JSON.stringify({ unhandled: String(e?.code ?? e) })); process.exit(1) })
    const options = { endpoint: process.env.IAM_URL }
    Promise.all([pkg.tokenFromKey(process.env.KEY_FILE, options), pkg.tokenFromKey(process.env.KEY_FILE, options)]).then(async ([a, b]) => {
      const sizes = testing.memoSizes()
      const again = await pkg.tokenFromKey(process.env.KEY_FILE, options)
      console.log(JSON.stringify({ same: a.accessToken === b.accessToken && b.accessToken === again.accessToken, sizes }))
    })`,
  )
  const before = emu.count('iam')
  const out = await runNode(script, { env: { ...process.env, IAM_URL: emu.iamUrl, KEY_FILE: file } })
  assert.equal(out.code, 0, out.stderr)
  assert.deepEqual(out.json, { same: true, sizes: { identities: 0, texts: 0, paths: 1 } })
  assert.equal(emu.count('iam') - before, 1)

  fs.writeFileSync(
    script,
    `const pkg = require(${JSON.stringify(createRequire(import.meta.url).resolve('../index.js'))})
    process.on('unhandledRejection', (e) => { console.log(JSON.stringify({ unhandled: String(e?.code ?? e) })); process.exit(1) })
    const outcome = (p) => p.then((t) => 'token', (e) => e.code)
    const keyJson = JSON.parse(process.env.KEY)
    ;(async () => {
      if (process.env.MODE === 'fragile') {
        // Key objects each of whose fields throws at its second read: refused at the process's
        // first call (whose native call has read them once, before the memo reads them again)
        // as at the next.
        const fragile = () => {
          const key = {}
          for (const [k, v] of Object.entries(keyJson)) {
            let reads = 0
            Object.defineProperty(key, k, { enumerable: true, get() { if (++reads > 1) throw new Error('read twice'); return v } })
          }
          return key
        }
        const options = { endpoint: process.env.IAM_URL }
        console.log(JSON.stringify([await outcome(pkg.tokenFromKey(fragile(), options)), await outcome(pkg.tokenFromKey(fragile(), options))]))
      } else {
        // A key whose getter asks for a token with the very same key while the process's first
        // call reads it: the memo hands the outer call the inner call's flight, and the outer
        // call's own native failure may not go unhandled.
        const options = { endpoint: 'http://127.0.0.1:1/', retries: 0 }
        const reentrant = { ...keyJson }
        let inner
        Object.defineProperty(reentrant, 'private_key', {
          enumerable: true,
          get() {
            if (inner === undefined) {
              inner = null
              inner = pkg.tokenFromKey(reentrant, options)
            }
            return keyJson.private_key
          },
        })
        const outer = await outcome(pkg.tokenFromKey(reentrant, options))
        await new Promise((resolve) => setTimeout(resolve, 100))
        console.log(JSON.stringify([outer, await outcome(inner)]))
      }
    })()`,
  )
  for (const [mode, expected] of [['fragile', ['ERR_INVALID_ARG', 'ERR_INVALID_ARG']], ['reentrant', ['ERR_UNAVAILABLE', 'ERR_UNAVAILABLE']]]) {
    const out = await runNode(script, { env: { ...process.env, IAM_URL: emu.iamUrl, KEY: JSON.stringify(key), MODE: mode } })
    assert.equal(out.code, 0, out.stderr)
    assert.deepEqual(out.json, expected, mode)
  }
})
