// Proxies and real TLS. The IAM client reads HTTP_PROXY/HTTPS_PROXY/ALL_PROXY/NO_PROXY and
// SSL_CERT_FILE once per process, so every case runs tokenFromKey in a child process
// (fixtures/key-child.mjs) with an environment built from scratch.
import assert from 'node:assert/strict'
import path from 'node:path'
import { after, beforeEach, test } from 'node:test'
import {
  VERSION, fixture, lastRequest, makeTestCA, registeredKey, runNode, startProxy, suiteEmulator, suiteTempDir,
} from './support.mjs'

const FIXTURE = fixture('key-child.mjs')
const CHILD_TIMEOUT_MS = 15_000

const ca = makeTestCA(path.join(suiteTempDir('yc-iam-proxy-tls-'), 'ca'))
const emu = await suiteEmulator({ reset: true }) // http
const temu = await suiteEmulator({ tls: { key: ca.key, cert: ca.cert }, reset: true }) // https, certificate from the test CA
const proxy = await startProxy()
after(() => proxy.close())
beforeEach(() => proxy.reset())
const { key } = registeredKey([emu, temu])

/**
 * Runs tokenFromKey in a child with exactly `env` (plus PATH) and returns its JSON result.
 * The child must exit by itself, with code 0, within CHILD_TIMEOUT_MS.
 */
async function runChild(env, options) {
  const { code, signal, stdout, stderr, json, timedOut } = await runNode(FIXTURE, {
    args: [JSON.stringify({ key, options })],
    env: { PATH: process.env.PATH, ...env },
    timeoutMs: CHILD_TIMEOUT_MS,
  })
  const output = `stdout: ${stdout}; stderr: ${stderr}`
  if (timedOut) throw new Error(`child did not exit within ${CHILD_TIMEOUT_MS} ms; ${output}`)
  if (code !== 0) throw new Error(`child exited with ${code ?? signal}; ${output}`)
  if (json === undefined) throw new Error(`child printed no JSON; ${output}`)
  return json
}

function assertSucceeded(result, server, label) {
  assert.equal(result.ok, true, `${label}: ${JSON.stringify(result)}`)
  const rec = lastRequest(server, 'iam')
  assert.ok(rec, `${label}: the emulator saw no IAM request`)
  assert.equal(rec.status, 200)
  assert.equal(result.accessToken, rec.response.iamToken)
  assert.equal(result.tokenType, 'Bearer')
  assert.equal(rec.headers['user-agent'], `yc-iam-token/${VERSION}`)
  return rec
}

const opts = (server, extra = {}) => ({ endpoint: server.iamUrl, timeoutMs: 5000, ...extra })

// ---- proxies ----

test('no proxy variables: an http:// endpoint is reached directly', async () => {
  const result = await runChild({}, opts(emu))
  assertSucceeded(result, emu, 'direct')
  assert.equal(proxy.requests.length, 0)
})

test('HTTP_PROXY and HTTPS_PROXY: an http:// endpoint is reached through the proxy', async () => {
  const result = await runChild({ HTTP_PROXY: proxy.url, HTTPS_PROXY: proxy.url }, opts(emu))
  assertSucceeded(result, emu, 'via proxy')
  assert.equal(proxy.requests.length, 1, JSON.stringify(proxy.requests.map((r) => [r.method, r.target])))
  const [seen] = proxy.requests
  assert.equal(seen.method, 'POST')
  assert.equal(seen.target, emu.iamUrl, 'absolute-form request line to the proxy')
  assert.equal(seen.headers['user-agent'], `yc-iam-token/${VERSION}`)
  assert.equal(seen.headers['content-type'], 'application/json')
})

test('HTTP_PROXY alone (lowercase http_proxy too) is used for an http:// endpoint', async () => {
  for (const name of ['HTTP_PROXY', 'http_proxy']) {
    proxy.reset()
    const result = await runChild({ [name]: proxy.url }, opts(emu))
    assertSucceeded(result, emu, name)
    assert.deepEqual(proxy.requests.map((r) => r.method), ['POST'], name)
  }
})

test('ALL_PROXY: an http:// endpoint is reached through the proxy', async () => {
  const result = await runChild({ ALL_PROXY: proxy.url }, opts(emu))
  assertSucceeded(result, emu, 'ALL_PROXY')
  assert.deepEqual(proxy.requests.map((r) => [r.method, r.target]), [['POST', emu.iamUrl]])
})

test('NO_PROXY=127.0.0.1: the proxy sees nothing and the call still succeeds', async () => {
  const result = await runChild({ HTTP_PROXY: proxy.url, HTTPS_PROXY: proxy.url, NO_PROXY: '127.0.0.1' }, opts(emu))
  assertSucceeded(result, emu, 'NO_PROXY')
  assert.equal(proxy.requests.length, 0)
})

test('a proxy that is down: ERR_UNAVAILABLE naming the failure', async () => {
  const deadProxy = await startProxy()
  const url = deadProxy.url
  await deadProxy.close()
  const result = await runChild({ HTTP_PROXY: url }, opts(emu, { retries: 1 }))
  assert.equal(result.ok, false, JSON.stringify(result))
  assert.equal(result.code, 'ERR_UNAVAILABLE', result.message)
  assert.match(result.message, /refused|proxy/i)
  assert.equal(emu.requests.length, 0)
})

// ---- TLS ----

test('https emulator with SSL_CERT_FILE=<test CA>: real TLS succeeds', async () => {
  const result = await runChild({ SSL_CERT_FILE: ca.caPath }, opts(temu))
  assertSucceeded(result, temu, 'TLS')
  assert.ok(temu.iamUrl.startsWith('https://127.0.0.1:'))
})

test('https emulator without SSL_CERT_FILE: ERR_UNAVAILABLE about the certificate, says to set SSL_CERT_FILE', async () => {
  const result = await runChild({}, opts(temu))
  assert.equal(result.ok, false, JSON.stringify(result))
  assert.equal(result.isError, true)
  assert.equal(result.code, 'ERR_UNAVAILABLE', result.message)
  assert.equal(result.status, undefined)
  assert.match(result.message, /certificate|UnknownIssuer|TLS/i)
  assert.match(result.message, /SSL_CERT_FILE/)
  assert.equal(temu.requests.length, 0, 'no HTTP request got through an untrusted TLS connection')
  assert.ok(result.elapsedMs < 3000, `an untrusted certificate is not retried until the deadline (${result.elapsedMs} ms)`)
})

test('https endpoint through HTTPS_PROXY with SSL_CERT_FILE: a CONNECT tunnel to 127.0.0.1:port', async () => {
  const result = await runChild({ HTTPS_PROXY: proxy.url, SSL_CERT_FILE: ca.caPath }, opts(temu))
  assertSucceeded(result, temu, 'TLS via proxy')
  assert.deepEqual(proxy.requests.map((r) => [r.method, r.target]), [['CONNECT', `127.0.0.1:${temu.port}`]])
})

test('HTTP_PROXY alone is not used for an https endpoint', async () => {
  const result = await runChild({ HTTP_PROXY: proxy.url, SSL_CERT_FILE: ca.caPath }, opts(temu))
  assertSucceeded(result, temu, 'https with HTTP_PROXY only')
  assert.equal(proxy.requests.length, 0)
})

test('https endpoint, HTTPS_PROXY and NO_PROXY=127.0.0.1: direct TLS', async () => {
  const result = await runChild({ HTTPS_PROXY: proxy.url, NO_PROXY: 'localhost,127.0.0.1', SSL_CERT_FILE: ca.caPath }, opts(temu))
  assertSucceeded(result, temu, 'https NO_PROXY')
  assert.equal(proxy.requests.length, 0)
})
