// The test support checked on its own: the suites trust the emulator to refuse what IAM refuses
// and to misbehave exactly as told, and the proxy to forward to loopback only. What the suites
// already show through the package (key files in every form, RSA 4096 and PKCS#1 keys, TLS with
// the test CA, CONNECT tunnels) is not checked again here.
import assert from 'node:assert/strict'
import http from 'node:http'
import { test } from 'node:test'

import { generateAuthorizedKey, postJwt, registeredKey, signJwt, startEmulator, startProxy, suiteEmulator, until } from './support.mjs'

const RFC3339_NANOS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/
const TOKEN = /^t1\.[A-Za-z0-9_-]{40}$/
const REAL_AUDIENCE = 'https://iam.api.cloud.yandex.net/iam/v1/tokens'
const FLAVOR = { 'Metadata-Flavor': 'Google' }
const now = () => Math.floor(Date.now() / 1000)

const emu = await suiteEmulator({ reset: true })
const { key } = registeredKey(emu)

/** A plain node:http request (no pooling); resolves { status, headers, text }. */
function request(url, { method = 'GET', headers = {}, body, ...opts } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false, ...opts }, (res) => {
      const chunks = []
      res.on('data', (c) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.setTimeout(5000, () => req.destroy(new Error('request timed out')))
    req.end(body)
  })
}

// ---- IAM: what it accepts and what it refuses ----

test('iam: a valid PS256 JWT gets a token; the request and the answer are recorded', async () => {
  const r = await postJwt(emu, signJwt(key, { aud: emu.iamUrl }))
  assert.equal(r.status, 200, r.text)
  assert.deepEqual(Object.keys(r.json).sort(), ['expiresAt', 'iamToken'])
  assert.match(r.json.iamToken, TOKEN)
  assert.match(r.json.expiresAt, RFC3339_NANOS)
  const lifetime = (Date.parse(r.json.expiresAt) - Date.now()) / 1000
  assert.ok(lifetime > 43190 && lifetime <= 43200, `lifetime ${lifetime}`)
  const rec = emu.requests.at(-1)
  assert.equal(rec.kind, 'iam')
  assert.equal(rec.method, 'POST')
  assert.equal(rec.path, '/iam/v1/tokens')
  assert.equal(rec.headers['content-type'], 'application/json')
  assert.deepEqual(rec.jwt.header, { typ: 'JWT', alg: 'PS256', kid: key.id })
  assert.equal(rec.jwt.claims.iss, key.service_account_id)
  assert.equal(rec.jwt.claims.aud, emu.iamUrl)
  assert.equal(rec.status, 200)
  assert.equal(rec.response.iamToken, r.json.iamToken)
  assert.equal(emu.count('iam'), 1)
})

test('iam: every bad JWT is refused with 401 code 16, bad bodies with 400 code 3; the JWT is never echoed', async () => {
  const other = generateAuthorizedKey({ id: key.id, serviceAccountId: key.service_account_id }).key // not registered
  const cases = {
    'bad signature': signJwt(other, { aud: emu.iamUrl }),
    'tampered signature': signJwt(key, { aud: emu.iamUrl }).slice(0, -4) + 'AAAA',
    'salt length 20': signJwt(key, { aud: emu.iamUrl, saltLength: 20 }),
    'alg RS256': signJwt(key, { aud: emu.iamUrl, header: { alg: 'RS256' } }),
    'typ missing': signJwt(key, { aud: emu.iamUrl, header: { typ: undefined } }),
    'unknown kid': signJwt({ ...key, id: 'ajeunknown00000000000' }, { aud: emu.iamUrl }),
    'wrong iss': signJwt({ ...key, service_account_id: 'ajeother000000000000' }, { aud: emu.iamUrl }),
    'wrong aud': signJwt(key, { aud: REAL_AUDIENCE }),
    'lifetime 3601': signJwt(key, { aud: emu.iamUrl, claims: { exp: now() + 3601 } }),
    'expired': signJwt(key, { aud: emu.iamUrl, claims: { iat: now() - 3000, exp: now() - 10 } }),
    'iat in future': signJwt(key, { aud: emu.iamUrl, claims: { iat: now() + 60, exp: now() + 600 } }),
    'two parts': 'abc.def',
    'not base64url': 'a+b.c/d.e=f',
  }
  for (const [name, jwt] of Object.entries(cases)) {
    const r = await postJwt(emu, jwt)
    assert.equal(r.status, 401, `${name}: ${r.text}`)
    assert.equal(r.json.code, 16, name)
    assert.deepEqual(r.json.details, [], name)
    assert.ok(!r.text.includes(jwt.split('.').at(-1)), `${name}: JWT echoed`)
  }
  const withinLeeway = signJwt(key, { aud: emu.iamUrl, claims: { iat: now() + 3, exp: now() + 600 } })
  assert.equal((await postJwt(emu, withinLeeway)).status, 200, 'iat within leeway')
  for (const body of ['not json', '{}', '{"jwt":5}', '[]']) {
    const res = await fetch(emu.iamUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
    assert.equal(res.status, 400, body)
    assert.equal((await res.json()).code, 3, body)
  }
  assert.equal((await fetch(emu.iamUrl)).status, 405)
})

test('iam: deleteKey, the audience, lifetime and leeway settings, and what reset() restores', async () => {
  emu.tokenLifetimeSec = 600
  emu.audience = REAL_AUDIENCE
  const r = await postJwt(emu, signJwt(key, { aud: emu.audience }))
  assert.equal(r.status, 200, r.text)
  const lifetime = (Date.parse(r.json.expiresAt) - Date.now()) / 1000
  assert.ok(lifetime > 590 && lifetime <= 600)
  emu.iatLeewaySec = 120
  assert.equal((await postJwt(emu, signJwt(key, { aud: emu.audience, claims: { iat: now() + 60 } }))).status, 200)
  emu.reset()
  assert.equal(emu.requests.length, 0)
  assert.equal(emu.audience, emu.iamUrl)
  assert.equal(emu.tokenLifetimeSec, 43200)
  assert.equal(emu.iatLeewaySec, 5)
  const k2 = registeredKey(emu).key
  assert.equal((await postJwt(emu, signJwt(k2, { aud: emu.iamUrl }))).status, 200)
  emu.reset()
  assert.equal((await postJwt(emu, signJwt(k2, { aud: emu.iamUrl }))).status, 200, 'keys survive reset')
  emu.deleteKey(k2.id)
  const gone = await postJwt(emu, signJwt(k2, { aud: emu.iamUrl }))
  assert.equal(gone.status, 401)
  assert.equal(gone.json.code, 16)
  assert.match(gone.json.message, /not found/)
})

// ---- metadata ----

test('metadata: Metadata-Flavor required; token shape; settable token and status; other paths 404', async () => {
  const noHeader = await fetch(emu.metadataUrl)
  assert.equal(noHeader.status, 403)
  assert.match(await noHeader.text(), /Metadata-Flavor/)
  const res = await fetch(emu.metadataUrl, { headers: FLAVOR })
  assert.equal(res.status, 200)
  const body = await res.json()
  assert.match(body.access_token, TOKEN)
  assert.equal(body.expires_in, 43200)
  assert.equal(body.token_type, 'Bearer')
  assert.equal(emu.metadataAddr, `127.0.0.1:${new URL(emu.origin).port}`)
  assert.equal(emu.metadataUrl, `http://${emu.metadataAddr}/computeMetadata/v1/instance/service-accounts/default/token`)
  emu.metadataToken = { access_token: 't1.fixed', expires_in: 42299, token_type: 'Bearer' }
  assert.deepEqual(await (await fetch(emu.metadataUrl, { headers: FLAVOR })).json(), emu.metadataToken)
  emu.metadataToken = (rec) => ({ access_token: 't1.fn', expires_in: 10, token_type: 'Bearer', seen: rec.kind })
  assert.equal((await (await fetch(emu.metadataUrl, { headers: FLAVOR })).json()).seen, 'metadata')
  emu.metadataStatus = 404
  assert.equal((await fetch(emu.metadataUrl, { headers: FLAVOR })).status, 404)
  assert.equal(emu.count('metadata'), 5)
  assert.equal((await fetch(emu.origin + '/elsewhere')).status, 404)
  assert.equal(emu.count('other'), 1)
  emu.reset()
  assert.equal(emu.metadataStatus, 200)
  assert.equal(emu.metadataToken, undefined)
})

// ---- faults ----

test('faults: status shapes, Retry-After, custom bodies, in order and as many times as asked', async () => {
  emu.fail('iam', { status: 503, retryAfter: 2 })
  emu.fail('iam', { status: 500 }, 2)
  emu.fail('iam', { status: 429 })
  emu.fail('iam', { status: 401 })
  emu.fail('iam', { status: 403, body: 'forbidden, plain text' })
  emu.fail('iam', { status: 400, body: { code: 3, message: 'custom' } })
  const jwt = signJwt(key, { aud: emu.iamUrl })
  let r = await postJwt(emu, jwt)
  assert.equal(r.status, 503)
  assert.equal(r.headers.get('retry-after'), '2')
  assert.equal(r.json.code, 14)
  for (let i = 0; i < 2; i++) {
    r = await postJwt(emu, jwt)
    assert.equal(r.status, 500)
    assert.equal(r.json.code, 13)
    assert.equal(r.headers.get('retry-after'), null)
  }
  r = await postJwt(emu, jwt)
  assert.deepEqual([r.status, r.json.code], [429, 8])
  r = await postJwt(emu, jwt)
  assert.equal(r.status, 401)
  assert.deepEqual(r.json, { code: 16, message: 'unauthenticated', details: [] })
  r = await postJwt(emu, jwt)
  assert.deepEqual([r.status, r.text], [403, 'forbidden, plain text'])
  r = await postJwt(emu, jwt)
  assert.deepEqual([r.status, r.json], [400, { code: 3, message: 'custom' }])
  assert.equal((await postJwt(emu, jwt)).status, 200, 'faults consumed')
  emu.fail('metadata', { status: 500 })
  const m = await fetch(emu.metadataUrl, { headers: FLAVOR })
  assert.equal(m.status, 500)
  await m.arrayBuffer()
  assert.equal((await fetch(emu.metadataUrl, { headers: FLAVOR })).status, 200)
  assert.equal(emu.count('iam'), 8)
  emu.fail('iam', { status: 500 }, 3)
  emu.reset()
  assert.equal((await postJwt(emu, jwt)).status, 200, 'reset clears faults')
})

test('faults: hang, reset, garbage, json, redirect', async () => {
  const jwt = signJwt(key, { aud: emu.iamUrl })
  emu.fail('iam', { hang: true })
  const t0 = Date.now()
  await assert.rejects(postJwt(emu, jwt, { signal: AbortSignal.timeout(300) }), { name: 'TimeoutError' })
  assert.ok(Date.now() - t0 < 2000)
  assert.equal(emu.requests.at(-1).body, JSON.stringify({ jwt }), 'hang read the request')
  emu.fail('iam', { reset: true })
  await assert.rejects(postJwt(emu, jwt), (err) => /ECONNRESET|other side closed|socket/i.test(`${err.cause?.code} ${err.cause?.message}`))
  emu.fail('metadata', { garbage: true })
  const g = await fetch(emu.metadataUrl, { headers: FLAVOR })
  assert.equal(g.status, 200)
  assert.equal(g.headers.get('content-type'), 'application/json')
  assert.equal(await g.text(), 'not json at all <<<')
  emu.fail('iam', { json: { iamToken: 42 } })
  let r = await postJwt(emu, jwt)
  assert.deepEqual([r.status, r.json], [200, { iamToken: 42 }])
  emu.fail('iam', { json: null })
  r = await postJwt(emu, jwt)
  assert.deepEqual([r.status, r.text], [200, 'null'])
  emu.fail('iam', { redirect: 'http://127.0.0.1:9/elsewhere' })
  r = await postJwt(emu, jwt, { redirect: 'manual' })
  assert.equal(r.status, 302)
  assert.equal(r.headers.get('location'), 'http://127.0.0.1:9/elsewhere')
  assert.equal((await postJwt(emu, jwt)).status, 200)
})

test('faults: drip (the body byte by byte) and bigBody (chunked, exactly that size)', async () => {
  const jwt = signJwt(key, { aud: emu.iamUrl })
  emu.fail('iam', { drip: true, intervalMs: 3 })
  const t0 = Date.now()
  const res = await fetch(emu.iamUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jwt }) })
  const tHeaders = Date.now() - t0
  const body = await res.json()
  const tBody = Date.now() - t0
  assert.equal(res.status, 200)
  assert.match(body.iamToken, TOKEN)
  assert.match(body.expiresAt, RFC3339_NANOS)
  assert.ok(tHeaders + 150 < tBody, `headers after ${tHeaders} ms, body after ${tBody} ms`)
  emu.fail('iam', { drip: true, intervalMs: 50 })
  await assert.rejects(postJwt(emu, jwt, { signal: AbortSignal.timeout(300) }), { name: 'TimeoutError' })
  emu.fail('metadata', { drip: true, intervalMs: 1 })
  const m = await fetch(emu.metadataUrl, { headers: FLAVOR })
  assert.equal((await m.json()).token_type, 'Bearer')
  for (const kind of ['iam', 'metadata']) {
    emu.fail(kind, { bigBody: 100 * 1024 })
    const big = kind === 'iam'
      ? await request(emu.iamUrl, { method: 'POST', body: JSON.stringify({ jwt }), headers: { 'content-type': 'application/json' } })
      : await request(emu.metadataUrl, { headers: FLAVOR })
    assert.equal(big.status, 200)
    assert.equal(big.headers['content-length'], undefined)
    assert.equal(big.headers['transfer-encoding'], 'chunked')
    assert.equal(Buffer.byteLength(big.text), 100 * 1024)
    assert.ok(big.text.startsWith(kind === 'iam' ? '{"iamToken":"t1.' : '{"access_token":"t1.'))
    JSON.parse(big.text)
  }
})

test('close() is prompt with hanging and dripping requests', async () => {
  const e2 = await startEmulator()
  e2.fail('iam', { hang: true })
  e2.fail('metadata', { drip: true, intervalMs: 1000 })
  const hung = request(e2.iamUrl, { method: 'POST', body: '{}' }).catch((err) => err)
  const dripping = request(e2.metadataUrl, { headers: FLAVOR }).catch((err) => err)
  assert.ok(await until(() => e2.requests.length >= 2), 'both requests reached the emulator')
  const t0 = Date.now()
  await e2.close()
  assert.ok(Date.now() - t0 < 500, `close took ${Date.now() - t0} ms`)
  assert.ok((await hung) instanceof Error)
  assert.ok((await dripping) instanceof Error)
})

// ---- the proxy ----

test('proxy: forwards absolute-URI requests to loopback; refuses other targets, CONNECT included', async (t) => {
  const proxy = await startProxy()
  t.after(() => proxy.close())
  const r = await request(proxy.url, { path: emu.metadataUrl, headers: FLAVOR })
  assert.equal(r.status, 200, r.text)
  assert.equal(JSON.parse(r.text).token_type, 'Bearer')
  assert.equal(emu.requests.at(-1).path, '/computeMetadata/v1/instance/service-accounts/default/token')
  emu.fail('iam', { bigBody: 100 * 1024 })
  const big = await request(proxy.url, { method: 'POST', path: emu.iamUrl, body: JSON.stringify({ jwt: signJwt(key, { aud: emu.iamUrl }) }) })
  assert.equal(big.text.length, 100 * 1024)
  const denied = await request(proxy.url, { path: 'http://example.invalid/x' })
  assert.equal(denied.status, 403)
  const refused = await new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: proxy.port, method: 'CONNECT', path: 'example.invalid:443', agent: false })
    req.on('connect', (res, socket) => { socket.destroy(); resolve(res.statusCode) })
    req.on('error', reject)
    req.end()
  })
  assert.equal(refused, 403)
  assert.deepEqual(proxy.requests.map(({ method, target }) => [method, target]), [
    ['GET', emu.metadataUrl], ['POST', emu.iamUrl], ['GET', 'http://example.invalid/x'], ['CONNECT', 'example.invalid:443'],
  ])
})
