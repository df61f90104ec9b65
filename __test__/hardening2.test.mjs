// Hostile inputs and hostile servers, second round: files that block or never end, secrets in
// URLs and in servers' messages, tokens that are not tokens, unusable proxy, metadata-address
// and CA-bundle variables. Cases that could hang a process for ever (a FIFO opened the
// blocking way) run in a child (fixtures/calls-child.mjs) with a kill timeout.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { closeSync, openSync, ftruncateSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, beforeEach, test } from 'node:test'

import { createJwt, tokenFromContext, tokenFromKey, tokenFromMetadata } from './package.mjs'
import {
  assertHides, closedPort, fixture, lastRequest, makeTestCA, registeredKey, rejectsWith, runNode, startBlackHole, startProxy,
  suiteEmulator, suiteTempDir, writeKeyFile,
} from './support.mjs'

const CHILD = fixture('calls-child.mjs')
/** What a call may take beyond its timeoutMs (scheduling, a loaded CI machine). */
const SLACK_MS = 400
/** A call that must fail at once (no network, nothing to wait for). */
const QUICK_MS = 1000

const dir = suiteTempDir('yc-hardening2-')
const ca = makeTestCA(join(dir, 'ca'))
const emu = await suiteEmulator({ reset: true }) // http
const temu = await suiteEmulator({ tls: { key: ca.key, cert: ca.cert }, reset: true }) // https, from the test CA
const { key } = registeredKey([emu, temu])
const proxy = await startProxy()
after(() => proxy.close())
beforeEach(() => proxy.reset())
const keyPath = writeKeyFile(dir, key)
const fifo = join(dir, 'key.fifo')
execFileSync('mkfifo', [fifo])
// 100 MB reported, nothing on disk: a file larger than any key.
const sparse = join(dir, 'sparse.json')
{
  const fd = openSync(sparse, 'w')
  ftruncateSync(fd, 100 << 20)
  closeSync(fd)
}
// Over the 64 KiB limit by one byte, and JSON-ish so that only its size is wrong.
const overLimit = join(dir, 'over.json')
writeFileSync(overLimit, '{' + ' '.repeat(64 * 1024))
const hole = await startBlackHole()
after(() => hole.close())

/** Runs `calls` at once in a child with `env` (plus PATH and the error log); its results. */
async function inChild(calls, env = {}, timeoutMs = 15_000, { after: afterImport } = {}) {
  const base = { PATH: process.env.PATH, YC_TEST_ERROR_LOG: process.env.YC_TEST_ERROR_LOG ?? '', YC_METADATA_ADDR: '127.0.0.1:9' }
  const { code, signal, stdout, stderr, json, timedOut } = await runNode(CHILD, {
    args: [JSON.stringify({ calls, env: afterImport })], env: { ...base, ...env }, timeoutMs,
  })
  const output = `stdout: ${stdout}; stderr: ${stderr}`
  assert.ok(!timedOut, `the child did not exit within ${timeoutMs} ms (a call blocked a thread?); ${output}`)
  assert.equal(code, 0, `child exited with ${code ?? signal}; ${output}`)
  assert.ok(json, `child printed no JSON; ${output}`)
  return json
}

/** `promise` (a call made with `timeoutMs`), checked to settle within timeoutMs + SLACK_MS. */
async function inTime(promise, timeoutMs, label = '') {
  const t0 = performance.now()
  try {
    return await promise
  } finally {
    const took = performance.now() - t0
    assert.ok(took < timeoutMs + SLACK_MS, `${label}: settled after ${Math.round(took)} ms (timeoutMs ${timeoutMs})`)
  }
}

function assertRefused(result, code, label, { within = QUICK_MS, message } = {}) {
  assert.equal(result.ok, false, `${label}: ${JSON.stringify(result)}`)
  assert.equal(result.isError, true, label)
  assert.equal(result.code, code, `${label}: ${result.message}`)
  assert.ok(result.elapsedMs < within, `${label}: took ${Math.round(result.elapsedMs)} ms`)
  if (message) assert.match(result.message, message, label)
}

// ---- 1, 2. files that block on open, never end, or are too large ----

const NOT_REGULAR = /not a regular file/

test('a FIFO with no writer as the key path: ERR_INVALID_KEY at once, from every entry point', async () => {
  const { results } = await inChild([
    { fn: 'tokenFromKey', args: [fifo, { endpoint: emu.iamUrl, timeoutMs: 2000 }] },
    { fn: 'tokenFromKey', args: [fifo, { endpoint: emu.iamUrl, timeoutMs: 2000, cache: false }] },
    { fn: 'createJwt', args: [fifo] },
    { fn: 'getToken', args: [{ endpoint: emu.iamUrl, timeoutMs: 2000 }] },
  ], { YC_SERVICE_ACCOUNT_KEY_FILE: fifo })
  for (const [i, result] of results.entries()) {
    assertRefused(result, 'ERR_INVALID_KEY', `call ${i}`, { message: /FIFO/ })
    assert.match(result.message, NOT_REGULAR)
  }
  assert.equal(emu.count('iam'), 0)
})

test('key reads in flight do not hold the runtime: an unrelated tokenFromMetadata settles on time', async () => {
  const keyCalls = Array.from({ length: 4 }, (_, i) => ({
    fn: i % 2 ? 'getToken' : 'tokenFromKey', args: i % 2 ? [{ endpoint: emu.iamUrl, timeoutMs: 3000 }] : [fifo, { endpoint: emu.iamUrl, timeoutMs: 3000 }],
  }))
  // SSL_CERT_FILE is the FIFO too: read for the https endpoint, refused as not a regular file.
  const tlsCalls = Array.from({ length: 2 }, () => ({ fn: 'tokenFromKey', args: [key, { endpoint: temu.iamUrl, timeoutMs: 3000, cache: false }] }))
  const { results } = await inChild([
    ...keyCalls,
    ...tlsCalls,
    { fn: 'tokenFromMetadata', args: [{ endpoint: hole.metadataUrl, timeoutMs: 500, cache: false }] },
    ...keyCalls,
  ], { YC_SERVICE_ACCOUNT_KEY_FILE: fifo, SSL_CERT_FILE: fifo })
  const metadata = results.splice(6, 1)[0]
  assert.equal(metadata.code, 'ERR_TIMEOUT', metadata.message)
  assert.ok(metadata.elapsedMs >= 450 && metadata.elapsedMs < 500 + SLACK_MS, `metadata settled after ${Math.round(metadata.elapsedMs)} ms`)
  const tls = results.splice(4, 2)
  for (const [i, result] of results.entries()) assertRefused(result, 'ERR_INVALID_KEY', `key call ${i}`, { message: NOT_REGULAR })
  for (const [i, result] of tls.entries()) assertRefused(result, 'ERR_INVALID_ARG', `TLS call ${i}`, { message: /SSL_CERT_FILE.*FIFO/ })
  assert.equal(temu.count('iam'), 0)
})

test('/dev/zero, /dev/urandom, a directory: not regular files; memory does not grow', async () => {
  const calls = []
  for (const path of ['/dev/zero', '/dev/urandom', dir]) {
    calls.push({ fn: 'tokenFromKey', args: [path, { endpoint: emu.iamUrl, timeoutMs: 2000, cache: false }] })
    calls.push({ fn: 'createJwt', args: [path] })
  }
  calls.push({ fn: 'getToken', args: [{ endpoint: emu.iamUrl, timeoutMs: 2000 }] })
  const { results, rssGrowth } = await inChild(calls, { YC_SERVICE_ACCOUNT_KEY_FILE: '/dev/zero' })
  for (const [i, result] of results.entries()) {
    assertRefused(result, 'ERR_INVALID_KEY', `call ${i}: ${JSON.stringify(calls[i])}`, { message: NOT_REGULAR })
    assert.match(result.message, /character device|directory/)
  }
  assert.ok(rssGrowth < 50 << 20, `RSS grew by ${rssGrowth} bytes`)
  for (const device of ['/dev/zero', '/dev/urandom']) {
    const tls = await inChild(Array(3).fill({ fn: 'tokenFromKey', args: [key, { endpoint: temu.iamUrl, timeoutMs: 2000, cache: false }] }), { SSL_CERT_FILE: device })
    for (const result of tls.results) assertRefused(result, 'ERR_INVALID_ARG', `SSL_CERT_FILE=${device}`, { message: /SSL_CERT_FILE.*character device/ })
    assert.ok(tls.rssGrowth < 50 << 20, `SSL_CERT_FILE=${device}: RSS grew by ${tls.rssGrowth} bytes`)
  }
})

test('a regular file over 64 KiB (sparse 100 MB, or one byte over): refused, memory does not grow', async () => {
  const calls = []
  for (const path of [sparse, overLimit]) {
    calls.push({ fn: 'tokenFromKey', args: [path, { endpoint: emu.iamUrl, timeoutMs: 2000, cache: false }] })
    calls.push({ fn: 'createJwt', args: [path] })
  }
  const { results, rssGrowth } = await inChild(calls)
  for (const [i, result] of results.entries()) assertRefused(result, 'ERR_INVALID_KEY', `call ${i}`, { message: /too large/ })
  assert.ok(rssGrowth < 50 << 20, `RSS grew by ${rssGrowth} bytes`)
})

test('a regular key file still works by path, in-process (tokenFromKey and createJwt)', async () => {
  const token = await inTime(tokenFromKey(keyPath, { endpoint: emu.iamUrl, cache: false, timeoutMs: 3000 }), 3000)
  assert.match(token.accessToken, /^t1\./)
  assert.equal(createJwt(keyPath).split('.').length, 3)
})

// ---- 7. tokens that are not tokens ----

const BAD_TOKENS = {
  'CR LF (header injection)': 't1.badtoken\r\nX-Injected: yes',
  'LF': 't1.badtoken\n',
  'NUL': 't1.bad\u0000token',
  'a space': 't1.bad token',
  'a leading space': ' t1.badtoken',
  'a tab': 't1.bad\ttoken',
  'non-ASCII': 't1.badtoken\u00e9',
  'an ANSI escape': 't1.bad\u001b[31mtoken',
  'over 16 KiB': 't1.' + 'A'.repeat(16 * 1024),
}
const inAnHour = () => new Date(Date.now() + 3600e3).toISOString()

test('IAM answering 200 with a token that is not visible ASCII, or too long: ERR_INVALID_RESPONSE', async () => {
  for (const [what, iamToken] of Object.entries(BAD_TOKENS)) {
    emu.fail('iam', { json: { iamToken, expiresAt: inAnHour() } })
    const error = await rejectsWith(inTime(tokenFromKey(key, { endpoint: emu.iamUrl, cache: false, timeoutMs: 3000 }), 3000, what), 'ERR_INVALID_RESPONSE', what)
    assert.equal(error.status, 200, what)
    assert.match(error.message, /iamToken/, what)
    assertHides(error, ['badtoken', 'bad token', 'AAAAAAAAAAAAAAAAAAAA'], what)
  }
})

test('the metadata service answering such a token: ERR_INVALID_RESPONSE', async () => {
  for (const [what, access_token] of Object.entries(BAD_TOKENS)) {
    emu.fail('metadata', { json: { access_token, expires_in: 3600, token_type: 'Bearer' } })
    const error = await rejectsWith(inTime(tokenFromMetadata({ endpoint: emu.metadataUrl, cache: false, timeoutMs: 3000 }), 3000, what), 'ERR_INVALID_RESPONSE', what)
    assert.equal(error.status, 200, what)
    assert.match(error.message, /access_token/, what)
    assertHides(error, ['badtoken', 'bad token', 'AAAAAAAAAAAAAAAAAAAA'], what)
  }
})

test('a context whose token is not visible ASCII, or too long: ERR_INVALID_ARG', async () => {
  for (const [what, access_token] of Object.entries(BAD_TOKENS)) {
    const error = await rejectsWith(inTime(tokenFromContext({ token: { access_token, expires_in: 3600, token_type: 'Bearer' } }), QUICK_MS, what), 'ERR_INVALID_ARG', what)
    assert.match(error.message, /context\.token\.access_token/, what)
    assertHides(error, ['badtoken', 'bad token', 'AAAAAAAAAAAAAAAAAAAA'], what)
  }
  const ok = await inTime(tokenFromContext({ token: { access_token: 't1.' + 'A'.repeat(16 * 1024 - 3), expires_in: 3600 } }), QUICK_MS)
  assert.equal(ok.accessToken.length, 16 * 1024)
})

// ---- 5. secrets in URLs and in servers' messages ----

const URL_SECRETS = ['hunter2', 'token=abc', 'user:']

test('userinfo and query of an endpoint never appear in a message (refused, unreachable, hung, rejected)', async () => {
  const port = await closedPort()
  const cases = [
    ['refused', 2000, () => tokenFromKey(key, { endpoint: `http://user:hunter2@127.0.0.1:${port}/x?token=abc`, retries: 0, cache: false, timeoutMs: 2000 }), 'ERR_UNAVAILABLE'],
    ['hung', 300, () => tokenFromKey(key, { endpoint: `http://user:hunter2@127.0.0.1:${hole.port}/x?token=abc#frag`, cache: false, timeoutMs: 300 }), 'ERR_TIMEOUT'],
    ['rejected', 2000, () => tokenFromKey(key, { endpoint: `http://user:hunter2@127.0.0.1:${emu.port}/iam/v1/tokens?token=abc`, cache: false, timeoutMs: 2000 }), 'ERR_IAM_REJECTED'],
    ['not http', QUICK_MS, () => tokenFromKey(key, { endpoint: 'ftp://user:hunter2@127.0.0.1/x?token=abc' }), 'ERR_INVALID_ARG'],
    ['no scheme', QUICK_MS, () => tokenFromKey(key, { endpoint: 'user:hunter2@127.0.0.1:1/x?token=abc' }), 'ERR_INVALID_ARG'],
    ['metadata refused', 2000, () => tokenFromMetadata({ endpoint: `http://user:hunter2@127.0.0.1:${port}/x?token=abc`, cache: false, timeoutMs: 2000 }), 'ERR_UNAVAILABLE'],
    ['metadata hung', 300, () => tokenFromMetadata({ endpoint: `http://user:hunter2@127.0.0.1:${hole.port}/x?token=abc`, cache: false, timeoutMs: 300 }), 'ERR_TIMEOUT'],
    ['metadata not a URL', QUICK_MS, () => tokenFromMetadata({ endpoint: 'user:hunter2@127.0.0.1?token=abc' }), 'ERR_INVALID_ARG'],
  ]
  for (const [label, timeoutMs, call, code] of cases) {
    const error = await rejectsWith(inTime(call(), timeoutMs, label), code, label)
    assertHides(error, URL_SECRETS, label)
    if (code !== 'ERR_INVALID_ARG') assert.match(error.message, /127\.0\.0\.1/, `${label}: the host is still named`)
  }
})

/** Every 20-character window of `secret` that is absent from `text`. */
function assertNoWindow(text, secret, label) {
  for (const part of secret.split('.')) {
    for (let i = 0; i + 20 <= part.length; i++) {
      assert.ok(!text.includes(part.slice(i, i + 20)), `${label}: 20 characters of the JWT in: ${text}`)
    }
  }
}

test("IAM's 4xx messages: glued tokens, JWT pieces and terminal escapes are blanked, the rest is kept", async () => {
  const jwtOf = (rec) => rec.rawJwt
  const pieces = (jwt, size) => jwt.replace(/\./g, '').match(new RegExp(`.{1,${size}}`, 'g')).join(' ')
  const cases = [
    ['a glued token', 'bad token:t1.gluedSecret1 for key', [/bad \[redacted\] for key/]],
    ['a glued token in brackets', 'token (t1.gluedSecret2) is invalid', [/is invalid/]],
    ['a glued token in quotes', 'iamToken="t1.gluedSecret3" refused', [/refused/]],
    ['the whole JWT', (rec) => `JWT ${jwtOf(rec)} rejected`, [/rejected/]],
    ['the JWT glued to a prefix', (rec) => `jwt=${jwtOf(rec)}`, []],
    ['the JWT in 20-character pieces', (rec) => `pieces ${pieces(jwtOf(rec), 20)} end`, [/pieces/, /end/]],
    ['the JWT in 25-character pieces', (rec) => `pieces ${pieces(jwtOf(rec), 25)} end`, [/end/]],
    ['the JWT signature alone', (rec) => `signature ${jwtOf(rec).split('.')[2]} does not verify`, [/does not verify/]],
    ['the JWT parts with spaces', (rec) => jwtOf(rec).split('.').join(' '), []],
    ['ANSI escapes', '\u001b[31mkey\u001b[0m not \u001b]0;window title\u0007found\u001b[2J', [/key not found/]],
    ['bidi overrides', 'key \u202enot found\u202c here', [/key not found here/]],
  ]
  for (const [label, message, keeps] of cases) {
    emu.reset()
    emu.fail('iam', { status: 401, body: typeof message === 'function' ? (rec) => ({ code: 16, message: message(rec), details: [] }) : { code: 16, message, details: [] } })
    const error = await rejectsWith(inTime(tokenFromKey(key, { endpoint: emu.iamUrl, cache: false, timeoutMs: 3000 }), 3000, label), 'ERR_IAM_REJECTED', label)
    assert.equal(error.status, 401, label)
    const jwt = emu.requests.at(-1).rawJwt
    assert.ok(jwt, `${label}: the emulator saw the JWT`)
    for (const text of [error.message, error.stack]) assertNoWindow(text, jwt, label)
    assertHides(error, [/t1\.glued/i, /\u001b/, /\[31m/, /\[0m/, 'window title', '\u202e'], label)
    for (const keep of keeps) assert.match(error.message, keep, label)
  }
})

// ---- 8. YC_METADATA_ADDR is host[:port] only ----

function withEnv(vars, fn) {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]))
  Object.assign(process.env, vars)
  const restore = () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
  }
  return Promise.resolve().then(fn).finally(restore)
}

test('YC_METADATA_ADDR that is not host[:port]: ERR_INVALID_ARG naming the variable, secrets not shown', async () => {
  const cases = {
    'http://127.0.0.1:8080': /scheme/,
    'http://user:hunter2@127.0.0.1:1/x?token=abc': /scheme/,
    'user:hunter2@127.0.0.1': /userinfo/,
    '127.0.0.1:1/x': /path/,
    '127.0.0.1:1?token=abc': /query/,
    '127.0.0.1#frag': /fragment/,
    '127.0.0.1 :80': /space/,
    ' 127.0.0.1': /space/,
    '127.0.0.1:0': /port/,
    '127.0.0.1:65536': /port/,
    '127.0.0.1:': /port/,
    '::1': /brackets/,
    '[::1': /\]/,
    '999.0.0.1': /IPv4/,
    'bad_host!': /host name/,
  }
  for (const [addr, why] of Object.entries(cases)) {
    await withEnv({ YC_METADATA_ADDR: addr }, async () => {
      const error = await rejectsWith(inTime(tokenFromMetadata({ timeoutMs: 1000, cache: false }), QUICK_MS, addr), 'ERR_INVALID_ARG', addr)
      assert.match(error.message, /YC_METADATA_ADDR/, addr)
      assert.match(error.message, why, `${addr}: ${error.message}`)
      assertHides(error, URL_SECRETS, addr)
    })
  }
  for (const addr of [emu.metadataAddr, `[::ffff:127.0.0.1]:${emu.port}`]) {
    await withEnv({ YC_METADATA_ADDR: addr }, async () => {
      const token = await inTime(tokenFromMetadata({ timeoutMs: 3000, cache: false }), 3000, addr)
      assert.match(token.accessToken, /^t1\./, addr)
    })
  }
})

// ---- 6. proxies from the caller's environment ----

const viaKey = (server, extra = {}) => ({ fn: 'tokenFromKey', args: [key, { endpoint: server.iamUrl, timeoutMs: 3000, cache: false, ...extra }] })
const trustCA = { SSL_CERT_FILE: ca.caPath }

test('a set but unusable proxy variable: ERR_INVALID_ARG naming it, and no request at all (no direct connection)', async () => {
  const values = {
    ':::': /not a proxy URL/,
    'http://': /not a proxy URL/,
    'ftp://x': /http:\/\/ or https:\/\//,
    'socks5://127.0.0.1:1080': /SOCKS proxies are not supported/,
    'socks5h://user:hunter2@127.0.0.1:1080': /SOCKS proxies are not supported/,
    'http://user:hunter2@127.0.0.1:1/x?token=abc': /no path, query or fragment/,
    'http://127.0.0.1:0': /port is 0/,
  }
  const cases = [
    ['HTTP_PROXY', emu, {}], ['http_proxy', emu, {}], ['ALL_PROXY', emu, {}],
    ['HTTPS_PROXY', temu, trustCA], ['https_proxy', temu, trustCA], ['all_proxy', temu, trustCA],
  ]
  for (const [variable, server, env] of cases) {
    const entries = Object.entries(values)
    // NO_PROXY naming the host does not hide a broken setting either.
    const { results } = await inChild(entries.map(() => viaKey(server)), { ...env, [variable]: entries[0][0], NO_PROXY: 'example.com' })
    const each = await Promise.all(entries.map(([value]) => inChild([viaKey(server)], { ...env, [variable]: value, NO_PROXY: '*' })))
    for (const [i, [value, why]] of entries.entries()) {
      for (const result of [each[i].results[0], ...(i === 0 ? results : [])]) {
        const label = `${variable}=${value}`
        assertRefused(result, 'ERR_INVALID_ARG', label, { message: new RegExp(variable) })
        assert.match(result.message, why, label)
        for (const secret of URL_SECRETS) assert.ok(!result.message.includes(secret), `${label}: ${result.message}`)
      }
    }
    assert.equal(server.count('iam'), 0, `${variable}: a request got through`)
    assert.equal(proxy.requests.length, 0)
  }
})

test('a proxy host that does not resolve: the failure names the variable and the proxy', async () => {
  const { results: [result] } = await inChild([viaKey(emu, { retries: 0, timeoutMs: 2000 })], { HTTP_PROXY: 'garbage' })
  assert.ok(['ERR_UNAVAILABLE', 'ERR_TIMEOUT'].includes(result.code), result.message)
  assert.match(result.message, /through the proxy http:\/\/garbage\/ \(HTTP_PROXY\)/)
  assert.ok(result.elapsedMs < 2000 + SLACK_MS, `${result.elapsedMs} ms`)
  assert.equal(emu.count('iam'), 0)
})

test('NO_PROXY=* bypasses the proxy for every host, IP literals included', async () => {
  for (const [server, env] of [[emu, { HTTP_PROXY: proxy.url }], [temu, { HTTPS_PROXY: proxy.url, ...trustCA }], [emu, { ALL_PROXY: proxy.url }]]) {
    for (const list of ['*', 'example.com, *', 'localhost 127.0.0.0/8']) {
      const { results: [result] } = await inChild([viaKey(server)], { ...env, NO_PROXY: list })
      assert.equal(result.ok, true, `NO_PROXY=${list}: ${JSON.stringify(result)}`)
      assert.equal(result.accessToken, lastRequest(server, 'iam').response.iamToken)
    }
  }
  assert.equal(proxy.requests.length, 0)
  // A list that does not name the host: through the proxy.
  const { results: [result] } = await inChild([viaKey(emu)], { HTTP_PROXY: proxy.url, no_proxy: 'example.com,10.0.0.0/8' })
  assert.equal(result.ok, true, JSON.stringify(result))
  assert.deepEqual(proxy.requests.map((r) => [r.method, r.target]), [['POST', emu.iamUrl]])
})

test('httpoxy: in a CGI program (REQUEST_METHOD set) HTTP_PROXY is not read, http_proxy is', async () => {
  const direct = await inChild([viaKey(emu)], { REQUEST_METHOD: 'GET', HTTP_PROXY: proxy.url })
  assert.equal(direct.results[0].ok, true, JSON.stringify(direct.results[0]))
  assert.equal(proxy.requests.length, 0)
  const proxied = await inChild([viaKey(emu)], { REQUEST_METHOD: 'GET', HTTP_PROXY: 'http://127.0.0.1:9', http_proxy: proxy.url })
  assert.equal(proxied.results[0].ok, true, JSON.stringify(proxied.results[0]))
  assert.deepEqual(proxy.requests.map((r) => r.method), ['POST'])
})

test('a changed process.env takes effect at the next call (clients are kept per proxy, not per process)', async () => {
  const call = () => inTime(tokenFromKey(key, { endpoint: emu.iamUrl, cache: false, timeoutMs: 3000 }), 3000)
  const vars = { HTTP_PROXY: undefined, http_proxy: undefined, ALL_PROXY: undefined, all_proxy: undefined, NO_PROXY: undefined, no_proxy: undefined }
  await withEnv(vars, async () => {
    for (const name of Object.keys(vars)) delete process.env[name]
    await call()
    assert.equal(proxy.requests.length, 0, 'no proxy variable: direct')
    process.env.HTTP_PROXY = proxy.url
    await call()
    assert.equal(proxy.requests.length, 1, 'HTTP_PROXY set: through the proxy')
    process.env.NO_PROXY = '*'
    await call()
    assert.equal(proxy.requests.length, 1, 'NO_PROXY=*: direct')
    delete process.env.NO_PROXY
    process.env.HTTP_PROXY = ':::'
    const error = await rejectsWith(call(), 'ERR_INVALID_ARG', 'HTTP_PROXY=:::')
    assert.match(error.message, /^HTTP_PROXY /)
    delete process.env.HTTP_PROXY
    await call()
    assert.equal(proxy.requests.length, 1, 'unset again: direct')
    assert.equal(emu.count('iam'), 4)
  })
})

test('the metadata service never goes through a proxy, not even a broken one', async () => {
  const env = {}
  for (const name of ['HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY', 'http_proxy', 'https_proxy', 'all_proxy']) env[name] = ':::'
  await withEnv(env, async () => {
    const token = await inTime(tokenFromMetadata({ endpoint: emu.metadataUrl, cache: false, timeoutMs: 3000 }), 3000)
    assert.match(token.accessToken, /^t1\./)
  })
  const { results: [result] } = await inChild([{ fn: 'tokenFromMetadata', args: [{ endpoint: emu.metadataUrl, cache: false, timeoutMs: 3000 }] }], { HTTP_PROXY: proxy.url, ALL_PROXY: proxy.url })
  assert.equal(result.ok, true, JSON.stringify(result))
  assert.equal(proxy.requests.length, 0)
})

// ---- 9. SSL_CERT_FILE that cannot be used ----

test('SSL_CERT_FILE set but unusable: ERR_INVALID_ARG saying the file could not be used and why, no request', async () => {
  const write = (name, content) => {
    const path = join(dir, name)
    writeFileSync(path, content)
    return path
  }
  const cases = {
    [join(dir, 'no-such-ca.pem')]: /no such file/,
    [write('empty.pem', '')]: /is empty/,
    [write('text.pem', 'these are not the certificates you are looking for\n')]: /no PEM certificate/,
    [write('ca.der', execFileSync('openssl', ['x509', '-in', ca.caPath, '-outform', 'DER']))]: /no PEM certificate/,
    [write('cut.pem', ca.caPem.slice(0, -40))]: /damaged/,
    [write('bad.pem', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n')]: /could be parsed/,
    [dir]: /directory/,
    [fifo]: /FIFO/,
    '/dev/zero': /character device/,
    [sparse]: /too large/,
  }
  const paths = Object.keys(cases)
  const { results } = await inChild(paths.map(() => viaKey(temu)))
  // One child per path (SSL_CERT_FILE is the child's environment), all at once.
  const each = await Promise.all(paths.map((path) => inChild([viaKey(temu), viaKey(emu)], { SSL_CERT_FILE: path })))
  assert.equal(results.length, paths.length)
  for (const [i, path] of paths.entries()) {
    const [https, http] = each[i].results
    assertRefused(https, 'ERR_INVALID_ARG', `SSL_CERT_FILE=${path}`, { message: /the file named by SSL_CERT_FILE .* could not be used/ })
    assert.match(https.message, cases[path], `SSL_CERT_FILE=${path}`)
    assert.doesNotMatch(https.message, /UnknownIssuer/)
    // An http:// endpoint needs no CA: the file is not even read.
    assert.equal(http.ok, true, `http endpoint with SSL_CERT_FILE=${path}: ${JSON.stringify(http)}`)
  }
  assert.equal(temu.count('iam'), 0, 'no request went out with an unusable SSL_CERT_FILE')
  // Without SSL_CERT_FILE: the platform roots, which do not hold the test CA (the call fails at the handshake).
  for (const result of results) assert.equal(result.code, 'ERR_UNAVAILABLE', result.message)
})

test('SSL_CERT_FILE with the CA among other certificates: trusted (also through HTTPS_PROXY)', async () => {
  const bundle = join(dir, 'bundle.pem')
  const system = ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt'].find((p) => { try { return readFileSync(p).length > 0 } catch { return false } })
  writeFileSync(bundle, (system ? readFileSync(system, 'utf8') : '') + '\n' + ca.caPem)
  const { results } = await inChild([viaKey(temu), viaKey(temu)], { SSL_CERT_FILE: bundle })
  for (const result of results) assert.equal(result.ok, true, JSON.stringify(result))
  const tunnel = await inChild([viaKey(temu)], { SSL_CERT_FILE: bundle, HTTPS_PROXY: proxy.url })
  assert.equal(tunnel.results[0].ok, true, JSON.stringify(tunnel.results[0]))
  assert.deepEqual(proxy.requests.map((r) => [r.method, r.target]), [['CONNECT', `127.0.0.1:${temu.port}`]])
})

// ---- the newer sources under the same rules: federation's subject token files, the yc config ----

test('a subject token file or yc config that is a FIFO or a device: refused at once, nothing blocks', async () => {
  const sa = 'ajehardening2federation'
  const home = join(dir, 'home')
  execFileSync('mkdir', ['-p', join(home, '.config', 'yandex-cloud')])
  execFileSync('mkfifo', [join(home, '.config', 'yandex-cloud', 'config.yaml')])
  const federation = (file) => ({ fn: 'tokenFromFederation', args: [{ endpoint: emu.exchangeUrl, serviceAccountId: sa, subjectTokenFile: file, timeoutMs: 2000, cache: false }] })
  const { results } = await inChild([
    federation(fifo),
    federation('/dev/zero'),
    federation(dir),
    { fn: 'tokenFromFederation', args: [{ endpoint: emu.exchangeUrl, timeoutMs: 2000, cache: false }] },
    { fn: 'tokenFromMetadata', args: [{ endpoint: hole.metadataUrl, timeoutMs: 500, cache: false }] },
  ], { YC_SERVICE_ACCOUNT_ID: sa, YC_ID_TOKEN_FILE: fifo })
  const metadata = results.pop()
  assert.equal(metadata.code, 'ERR_TIMEOUT', metadata.message)
  assert.ok(metadata.elapsedMs < 500 + SLACK_MS, `metadata settled after ${Math.round(metadata.elapsedMs)} ms`)
  for (const [i, result] of results.entries()) {
    assertRefused(result, 'ERR_INVALID_ARG', `federation call ${i}`, { message: NOT_REGULAR })
    assert.match(result.message, /FIFO|character device|directory/)
  }
  assert.equal(emu.count('exchange'), 0)
  // getToken reaching the yc profile step with a FIFO for the config.
  const profile = await inChild([{ fn: 'getToken', args: [{ timeoutMs: 2000 }] }], {}, 15_000, { after: { HOME: home } })
  assertRefused(profile.results[0], 'ERR_INVALID_ARG', 'yc config FIFO', { message: /yc config .*not a regular file/ })
})

test('the token exchange and GitHub ID-token requests follow the proxy rules too', async () => {
  const sa = 'ajehardening2federation'
  emu.bindSubject(sa, 'system:serviceaccount:default:app')
  const call = { fn: 'tokenFromFederation', args: [{ endpoint: emu.exchangeUrl, serviceAccountId: sa, subjectToken: emu.mintSubjectToken(), timeoutMs: 3000, cache: false }] }
  const broken = await inChild([call], { HTTP_PROXY: 'socks5://127.0.0.1:1080' })
  assertRefused(broken.results[0], 'ERR_INVALID_ARG', 'HTTP_PROXY=socks5', { message: /^HTTP_PROXY .*SOCKS/ })
  assert.equal(emu.count('exchange'), 0)
  const proxied = await inChild([call], { HTTP_PROXY: proxy.url })
  assert.equal(proxied.results[0].ok, true, JSON.stringify(proxied.results[0]))
  assert.deepEqual(proxy.requests.map((r) => [r.method, r.target]), [['POST', emu.exchangeUrl]])
  proxy.reset()
  const github = { fn: 'tokenFromFederation', args: [{ endpoint: emu.exchangeUrl, serviceAccountId: sa, audience: emu.subjectAudiences[0], timeoutMs: 3000, cache: false }] }
  emu.bindSubject(sa, emu.githubSubject)
  const viaGithub = await inChild([github], { HTTP_PROXY: proxy.url, ACTIONS_ID_TOKEN_REQUEST_URL: emu.githubUrl, ACTIONS_ID_TOKEN_REQUEST_TOKEN: emu.githubBearer })
  assert.equal(viaGithub.results[0].ok, true, JSON.stringify(viaGithub.results[0]))
  assert.deepEqual(proxy.requests.map((r) => r.method), ['GET', 'POST'])
})
