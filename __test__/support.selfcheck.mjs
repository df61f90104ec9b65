// Self-check of the test-support modules (emulator, keys, proxy, tls).
// Run: node __test__/support.selfcheck.mjs   — prints OK lines, exits 0; exits 1 on any failure.
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import fs from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import os from 'node:os'
import path from 'node:path'
import tls from 'node:tls'
import { startEmulator } from './emulator.mjs'
import { generateAuthorizedKey, generateOtherKey, signJwt, stripPleaseLine, writeKeyFile } from './keys.mjs'
import { startProxy } from './proxy.mjs'
import { makeTestCA } from './tls.mjs'

const started = Date.now()
setTimeout(() => { console.log('FAIL selfcheck did not finish within 20 s'); process.exit(1) }, 20_000).unref()

let failures = 0
async function step(name, fn) {
  try { await fn(); console.log(`OK   ${name}`) } catch (err) { failures++; console.log(`FAIL ${name}\n${err.stack}`) }
}

const RFC3339_NANOS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/
const TOKEN = /^t1\.[A-Za-z0-9_-]{40}$/
const now = () => Math.floor(Date.now() / 1000)

async function postJwt(emu, jwt, init = {}) {
  const res = await fetch(emu.iamUrl, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jwt }), ...init,
  })
  const text = await res.text()
  let json
  try { json = JSON.parse(text) } catch {}
  return { status: res.status, headers: res.headers, text, json }
}

// A plain node:http(s) request; resolves { status, headers, text }.
function request(url, { method = 'GET', headers = {}, body, ...opts } = {}) {
  const u = new URL(url)
  const mod = u.protocol === 'https:' ? https : http
  return new Promise((resolve, reject) => {
    const req = mod.request(u, { method, headers, agent: false, ...opts }, (res) => {
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

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'yc-iam-selfcheck-'))
const servers = []
try {
  const emu = await startEmulator()
  servers.push(emu)
  const { key, privateKeyPem, publicKeyPem } = generateAuthorizedKey()
  emu.registerKey(key)

  await step('keys: authorized key shape', () => {
    assert.match(key.id, /^aje[a-z0-9]{17}$/)
    assert.match(key.service_account_id, /^aje[a-z0-9]{17}$/)
    assert.equal(key.key_algorithm, 'RSA_2048')
    assert.match(key.created_at, RFC3339_NANOS)
    assert.ok(key.public_key.startsWith('-----BEGIN PUBLIC KEY-----\n'))
    assert.ok(key.private_key.startsWith(`PLEASE DO NOT REMOVE THIS LINE! Yandex.Cloud SA Key ID <${key.id}>\n-----BEGIN PRIVATE KEY-----\n`))
    assert.equal(stripPleaseLine(key.private_key), privateKeyPem)
    assert.equal(key.public_key, publicKeyPem)
    assert.equal(crypto.createPrivateKey(privateKeyPem).asymmetricKeyDetails.modulusLength, 2048)
    const bare = generateAuthorizedKey({ pleaseLine: false, pkcs1: true, id: 'ajefixedid00000000000' })
    assert.equal(bare.key.id, 'ajefixedid00000000000')
    assert.ok(bare.key.private_key.startsWith('-----BEGIN RSA PRIVATE KEY-----\n'))
    assert.notEqual(generateAuthorizedKey().privateKeyPem, privateKeyPem, 'fresh by default')
  })

  await step('keys: generateOtherKey', () => {
    const ec = crypto.createPrivateKey(generateOtherKey('ec'))
    assert.equal(ec.asymmetricKeyType, 'ec')
    assert.equal(ec.asymmetricKeyDetails.namedCurve, 'prime256v1')
    assert.equal(crypto.createPrivateKey(generateOtherKey('ed25519')).asymmetricKeyType, 'ed25519')
    const small = generateOtherKey('rsa1024')
    assert.ok(small.startsWith('-----BEGIN PRIVATE KEY-----'))
    assert.equal(crypto.createPrivateKey(small).asymmetricKeyDetails.modulusLength, 1024)
    assert.throws(() => generateOtherKey('dsa'))
  })

  await step('keys: writeKeyFile plain, crlf, bom', () => {
    const plain = fs.readFileSync(writeKeyFile(tmp, key), 'utf8')
    assert.deepEqual(JSON.parse(plain), key)
    assert.ok(plain.includes('\n  "id": ') && !plain.includes('\r'))
    const text = fs.readFileSync(writeKeyFile(tmp, key, { crlf: true, bom: true }), 'utf8')
    assert.equal(text[0], '\uFEFF')
    assert.ok(text.includes('\r\n'))
    assert.ok(!/[^\r]\n/.test(text), 'every newline of the file is CRLF')
    assert.ok(text.includes('\\r\\n-----BEGIN PRIVATE KEY-----\\r\\n'), 'escaped CRLF inside private_key')
    const parsed = JSON.parse(text.slice(1))
    assert.ok(!/[^\r]\n/.test(parsed.private_key))
    assert.equal(parsed.private_key.replace(/\r\n/g, '\n'), key.private_key)
    const pem = parsed.private_key.slice(parsed.private_key.indexOf('-----BEGIN'))
    assert.equal(crypto.createPrivateKey(pem).asymmetricKeyDetails.modulusLength, 2048)
  })

  await step('iam: valid PS256 JWT -> 200 token', async () => {
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

  await step('iam: hand-made crypto.sign JWT (no helper)', async () => {
    const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url')
    const data = `${b64({ typ: 'JWT', alg: 'PS256', kid: key.id })}.${b64({ iss: key.service_account_id, aud: emu.iamUrl, iat: now() - 5, exp: now() + 3595 })}`
    const sig = crypto.sign('sha256', Buffer.from(data), { key: privateKeyPem, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 })
    const r = await postJwt(emu, `${data}.${sig.toString('base64url')}`)
    assert.equal(r.status, 200, r.text)
  })

  await step('iam: PKCS#1 and reused 4096-bit keys', async () => {
    const k1 = generateAuthorizedKey({ pkcs1: true }).key
    emu.registerKey(k1)
    assert.equal((await postJwt(emu, signJwt(k1, { aud: emu.iamUrl }))).status, 200)
    const a = generateAuthorizedKey({ bits: 4096, reuse: true })
    const b = generateAuthorizedKey({ bits: 4096, reuse: true })
    assert.equal(a.privateKeyPem, b.privateKeyPem, 'memoized with reuse')
    assert.notEqual(a.key.id, b.key.id)
    assert.equal(a.key.key_algorithm, 'RSA_4096')
    emu.registerKey(a.key)
    assert.equal((await postJwt(emu, signJwt(a.key, { aud: emu.iamUrl }))).status, 200)
  })

  await step('iam: rejections -> 401 code 16 / 400 code 3, JWT never echoed', async () => {
    const other = generateAuthorizedKey({ id: key.id, serviceAccountId: key.service_account_id }).key
    const cases = {
      'bad signature': signJwt(other, { aud: emu.iamUrl }),
      'tampered signature': signJwt(key, { aud: emu.iamUrl }).slice(0, -4) + 'AAAA',
      'salt length 20': signJwt(key, { aud: emu.iamUrl, saltLength: 20 }),
      'alg RS256': signJwt(key, { aud: emu.iamUrl, header: { alg: 'RS256' } }),
      'typ missing': signJwt(key, { aud: emu.iamUrl, header: { typ: undefined } }),
      'unknown kid': signJwt({ ...key, id: 'ajeunknown00000000000' }, { aud: emu.iamUrl }),
      'wrong iss': signJwt({ ...key, service_account_id: 'ajeother000000000000' }, { aud: emu.iamUrl }),
      'wrong aud': signJwt(key, { aud: 'https://iam.api.cloud.yandex.net/iam/v1/tokens' }),
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
    assert.equal((await postJwt(emu, signJwt(key, { aud: emu.iamUrl, claims: { iat: now() + 3, exp: now() + 600 } }))).status, 200, 'iat within leeway')
    for (const body of ['not json', '{}', '{"jwt":5}', '[]']) {
      const res = await fetch(emu.iamUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
      assert.equal(res.status, 400, body)
      assert.equal((await res.json()).code, 3, body)
    }
    assert.equal((await fetch(emu.iamUrl)).status, 405)
  })

  await step('iam: deleteKey, audience/lifetime settings, reset()', async () => {
    emu.tokenLifetimeSec = 600
    emu.audience = 'https://iam.api.cloud.yandex.net/iam/v1/tokens'
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
    const k2 = generateAuthorizedKey().key
    emu.registerKey(k2)
    assert.equal((await postJwt(emu, signJwt(k2, { aud: emu.iamUrl }))).status, 200, 'keys survive reset')
    emu.deleteKey(k2.id)
    const gone = await postJwt(emu, signJwt(k2, { aud: emu.iamUrl }))
    assert.equal(gone.status, 401)
    assert.equal(gone.json.code, 16)
    assert.match(gone.json.message, /not found/)
  })

  await step('metadata: header required, token shape, settable token and status', async () => {
    emu.reset()
    const noHeader = await fetch(emu.metadataUrl)
    assert.equal(noHeader.status, 403)
    assert.match(await noHeader.text(), /Metadata-Flavor/)
    const h = { 'Metadata-Flavor': 'Google' }
    const res = await fetch(emu.metadataUrl, { headers: h })
    assert.equal(res.status, 200)
    const body = await res.json()
    assert.match(body.access_token, TOKEN)
    assert.equal(body.expires_in, 43200)
    assert.equal(body.token_type, 'Bearer')
    assert.equal(emu.metadataAddr, `127.0.0.1:${new URL(emu.origin).port}`)
    assert.equal(emu.metadataUrl, `http://${emu.metadataAddr}/computeMetadata/v1/instance/service-accounts/default/token`)
    emu.metadataToken = { access_token: 't1.fixed', expires_in: 42299, token_type: 'Bearer' }
    assert.deepEqual(await (await fetch(emu.metadataUrl, { headers: h })).json(), emu.metadataToken)
    emu.metadataToken = (rec) => ({ access_token: 't1.fn', expires_in: 10, token_type: 'Bearer', seen: rec.kind })
    assert.equal((await (await fetch(emu.metadataUrl, { headers: h })).json()).seen, 'metadata')
    emu.metadataStatus = 404
    assert.equal((await fetch(emu.metadataUrl, { headers: h })).status, 404)
    assert.equal(emu.count('metadata'), 5)
    assert.equal((await fetch(emu.origin + '/elsewhere')).status, 404)
    assert.equal(emu.count('other'), 1)
    emu.reset()
    assert.equal(emu.metadataStatus, 200)
    assert.equal(emu.metadataToken, undefined)
  })

  await step('faults: status shapes, Retry-After, custom bodies, FIFO and times', async () => {
    emu.reset()
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
    assert.equal(r.status, 429)
    assert.equal(r.json.code, 8)
    r = await postJwt(emu, jwt)
    assert.equal(r.status, 401)
    assert.deepEqual(r.json, { code: 16, message: 'unauthenticated', details: [] })
    r = await postJwt(emu, jwt)
    assert.equal(r.status, 403)
    assert.equal(r.text, 'forbidden, plain text')
    r = await postJwt(emu, jwt)
    assert.deepEqual([r.status, r.json], [400, { code: 3, message: 'custom' }])
    assert.equal((await postJwt(emu, jwt)).status, 200, 'faults consumed')
    emu.fail('metadata', { status: 500 })
    const m = await fetch(emu.metadataUrl, { headers: { 'Metadata-Flavor': 'Google' } })
    assert.equal(m.status, 500)
    await m.arrayBuffer()
    assert.equal((await fetch(emu.metadataUrl, { headers: { 'Metadata-Flavor': 'Google' } })).status, 200)
    assert.equal(emu.count('iam'), 8)
    emu.fail('iam', { status: 500 }, 3)
    emu.reset()
    assert.equal((await postJwt(emu, jwt)).status, 200, 'reset clears faults')
  })

  await step('faults: hang, reset, garbage, json, redirect', async () => {
    const jwt = signJwt(key, { aud: emu.iamUrl })
    emu.fail('iam', { hang: true })
    const t0 = Date.now()
    await assert.rejects(postJwt(emu, jwt, { signal: AbortSignal.timeout(300) }), { name: 'TimeoutError' })
    assert.ok(Date.now() - t0 < 2000)
    assert.equal(emu.requests.at(-1).body, JSON.stringify({ jwt }), 'hang read the request')
    emu.fail('iam', { reset: true })
    await assert.rejects(postJwt(emu, jwt), (err) => /ECONNRESET|other side closed|socket/i.test(`${err.cause?.code} ${err.cause?.message}`))
    emu.fail('metadata', { garbage: true })
    const g = await fetch(emu.metadataUrl, { headers: { 'Metadata-Flavor': 'Google' } })
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

  await step('faults: drip and bigBody', async () => {
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
    const m = await fetch(emu.metadataUrl, { headers: { 'Metadata-Flavor': 'Google' } })
    assert.equal((await m.json()).token_type, 'Bearer')
    for (const kind of ['iam', 'metadata']) {
      emu.fail(kind, { bigBody: 100 * 1024 })
      const big = kind === 'iam'
        ? await request(emu.iamUrl, { method: 'POST', body: JSON.stringify({ jwt }), headers: { 'content-type': 'application/json' } })
        : await request(emu.metadataUrl, { headers: { 'Metadata-Flavor': 'Google' } })
      assert.equal(big.status, 200)
      assert.equal(big.headers['content-length'], undefined)
      assert.equal(big.headers['transfer-encoding'], 'chunked')
      assert.equal(Buffer.byteLength(big.text), 100 * 1024)
      assert.ok(big.text.startsWith(kind === 'iam' ? '{"iamToken":"t1.' : '{"access_token":"t1.'))
      JSON.parse(big.text)
    }
  })

  await step('emulator: close() is prompt with hanging and dripping requests', async () => {
    const e2 = await startEmulator()
    e2.fail('iam', { hang: true })
    e2.fail('metadata', { drip: true, intervalMs: 1000 })
    const hung = request(e2.iamUrl, { method: 'POST', body: '{}' }).catch((err) => err)
    const dripping = request(e2.metadataUrl, { headers: { 'Metadata-Flavor': 'Google' } }).catch((err) => err)
    while (e2.requests.length < 2) await new Promise((r) => setTimeout(r, 10))
    const t0 = Date.now()
    await e2.close()
    assert.ok(Date.now() - t0 < 500, `close took ${Date.now() - t0} ms`)
    assert.ok((await hung) instanceof Error)
    assert.ok((await dripping) instanceof Error)
  })

  const ca = makeTestCA(path.join(tmp, 'ca'))
  const temu = await startEmulator({ tls: { key: ca.key, cert: ca.cert } })
  servers.push(temu)
  temu.registerKey(key)

  await step('tls: https emulator verified with the test CA (IP and DNS SAN)', async () => {
    assert.ok(temu.iamUrl.startsWith('https://127.0.0.1:'))
    assert.ok(fs.existsSync(ca.caPath))
    const body = JSON.stringify({ jwt: signJwt(key, { aud: temu.iamUrl }) })
    const r = await request(temu.iamUrl, { method: 'POST', body, headers: { 'content-type': 'application/json' }, ca: ca.caPem })
    assert.equal(r.status, 200, r.text)
    assert.match(JSON.parse(r.text).iamToken, TOKEN)
    const m = await request(temu.metadataUrl, { headers: { 'Metadata-Flavor': 'Google' }, ca: ca.caPem, servername: 'localhost' })
    assert.equal(m.status, 200)
    await assert.rejects(request(temu.iamUrl, { method: 'POST', body }), /self-signed|unable to (get|verify)/i)
    temu.fail('iam', { reset: true })
    await assert.rejects(request(temu.iamUrl, { method: 'POST', body, ca: ca.caPem }), /ECONNRESET|socket hang up/)
  })

  const proxy = await startProxy()
  servers.push(proxy)

  await step('proxy: absolute-URI HTTP forwarding to the emulator', async () => {
    emu.reset()
    const r = await request(proxy.url, { path: emu.metadataUrl, headers: { 'Metadata-Flavor': 'Google' } })
    assert.equal(r.status, 200, r.text)
    assert.equal(JSON.parse(r.text).token_type, 'Bearer')
    assert.deepEqual(proxy.requests.map(({ method, target }) => ({ method, target })), [{ method: 'GET', target: emu.metadataUrl }])
    assert.equal(emu.requests.at(-1).path, '/computeMetadata/v1/instance/service-accounts/default/token')
    const body = JSON.stringify({ jwt: signJwt(key, { aud: emu.iamUrl }) })
    const p = await request(proxy.url, { method: 'POST', path: emu.iamUrl, body, headers: { 'content-type': 'application/json' } })
    assert.equal(p.status, 200, p.text)
    emu.fail('iam', { bigBody: 100 * 1024 })
    const big = await request(proxy.url, { method: 'POST', path: emu.iamUrl, body })
    assert.equal(big.text.length, 100 * 1024)
    const denied = await request(proxy.url, { path: 'http://example.invalid/x' })
    assert.equal(denied.status, 403)
    assert.equal(proxy.requests.at(-1).target, 'http://example.invalid/x')
  })

  await step('proxy: CONNECT tunnel to the TLS emulator; non-loopback CONNECT refused', async () => {
    const connect = (target) => new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: proxy.port, method: 'CONNECT', path: target, agent: false })
      req.on('connect', (res, socket) => resolve({ status: res.statusCode, socket }))
      req.on('error', reject)
      req.end()
    })
    const { status, socket } = await connect(`localhost:${temu.port}`)
    assert.equal(status, 200)
    const tlsSocket = tls.connect({ socket, ca: ca.caPem, servername: 'localhost' })
    const r = await request(temu.metadataUrl, { headers: { 'Metadata-Flavor': 'Google' }, agent: undefined, createConnection: () => tlsSocket })
    assert.equal(r.status, 200, r.text)
    assert.equal(JSON.parse(r.text).token_type, 'Bearer')
    tlsSocket.destroy()
    const refused = await connect('example.invalid:443')
    assert.equal(refused.status, 403)
    refused.socket.destroy()
    assert.deepEqual(proxy.requests.filter((x) => x.method === 'CONNECT').map((x) => x.target), [`localhost:${temu.port}`, 'example.invalid:443'])
  })
} catch (err) {
  failures++
  console.log(`FAIL setup\n${err.stack}`)
} finally {
  const t0 = Date.now()
  await Promise.all(servers.map((s) => s.close()))
  fs.rmSync(tmp, { recursive: true, force: true })
  console.log(`${failures ? 'FAIL' : 'OK  '} all servers closed in ${Date.now() - t0} ms; total ${Date.now() - started} ms`)
}
process.exit(failures ? 1 : 0)
