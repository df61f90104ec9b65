// tokenFromKey and createJwt: every input form against the emulator (real HTTP), every bad
// input and option, the JWT itself (checked with the independent `jose` library), and what
// goes on the wire.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import util from 'node:util'
import { before, describe, test } from 'node:test'
import * as jose from 'jose'
import pkg from './package.mjs'
import {
  VERSION, assertHides, generateAuthorizedKey, generateOtherKey, lastRequest, postJwt, promiseFrom, registeredKey,
  rejection, stripPleaseLine, suiteEmulator, suiteTempDir, writeKeyFile,
} from './support.mjs'

const { tokenFromKey, createJwt } = pkg
const DEFAULT_AUDIENCE = 'https://iam.api.cloud.yandex.net/iam/v1/tokens'
const KZ_AUDIENCE = 'https://iam.api.yandexcloud.kz/iam/v1/tokens'
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/

// ---- helpers ----

/** The base64 body of a PEM (all lines that are not -----BEGIN/END----- or the PLEASE line). */
function pemBody(pem) {
  return stripPleaseLine(pem)
    .split(/\r?\n/)
    .filter((line) => line && !line.startsWith('-----'))
    .join('')
}

/** Fails if any text of `err` holds key material of any of `pems`. */
function assertNoKeyMaterial(err, pems, label = '') {
  const windows = new Set()
  for (const pem of pems) {
    const body = pemBody(pem)
    for (let i = 0; i + 20 <= body.length; i++) windows.add(body.slice(i, i + 20))
  }
  const texts = { message: String(err.message), stack: String(err.stack), inspect: util.inspect(err, { depth: 5 }) }
  for (const [where, text] of Object.entries(texts)) {
    assert.ok(!text.includes('MII'), `${label}: 'MII' in err.${where}: ${text.slice(0, 300)}`)
    for (let i = 0; i + 20 <= text.length; i++) {
      assert.ok(!windows.has(text.slice(i, i + 20)), `${label}: key material in err.${where}`)
    }
  }
}

/** tokenFromKey must return a promise (never throw) that rejects; resolves to the error. */
const rejectionOf = (input, options, label = '') => rejection(promiseFrom(() => tokenFromKey(input, options), label), label)

/** createJwt must throw synchronously; returns the error. */
function thrownBy(input, options, label = '') {
  try {
    const jwt = createJwt(input, options)
    assert.fail(`${label}: createJwt returned ${typeof jwt === 'string' ? 'a string' : util.inspect(jwt)}`)
  } catch (err) {
    if (err instanceof assert.AssertionError) throw err
    return err
  }
}

function assertCodedError(err, code, label) {
  assert.ok(err instanceof Error, `${label}: not an Error: ${util.inspect(err)}`)
  assert.equal(err.code, code, `${label}: code ${err.code}, message: ${err.message}`)
  assert.equal(typeof err.message, 'string')
  assert.ok(err.message.length > 10, `${label}: message too short to help: ${err.message}`)
}

/** ms since the epoch of an RFC 3339 time, truncated to the millisecond (as Date.parse does). */
const truncatedMs = (rfc3339) => Date.parse(rfc3339)

const emu = await suiteEmulator({ clearCache: true })
const tmp = suiteTempDir('yc-iam-key-test-')
const base = registeredKey(emu) // { key, privateKeyPem, publicKeyPem }

/**
 * Calls tokenFromKey through the emulator and checks the answer against the request the
 * emulator recorded. Returns { token, rec }.
 */
async function expectToken(input, options = {}, label = '') {
  const before = emu.count('iam')
  const token = await tokenFromKey(input, { endpoint: emu.iamUrl, cache: false, ...options })
  assert.equal(emu.count('iam'), before + 1, `${label}: one request to IAM`)
  const rec = lastRequest(emu, 'iam')
  assert.equal(rec.status, 200, `${label}: emulator answered ${rec.status}`)
  assert.ok(rec.response, `${label}: emulator recorded its answer`)
  assert.deepEqual(Object.keys(token).sort(), ['accessToken', 'expiresAt', 'tokenType'])
  assert.equal(token.accessToken, rec.response.iamToken, `${label}: accessToken`)
  assert.equal(token.tokenType, 'Bearer')
  assert.ok(token.expiresAt instanceof Date, `${label}: expiresAt is a Date`)
  const want = truncatedMs(rec.response.expiresAt)
  const got = token.expiresAt.getTime()
  // Exactness is checked deterministically in 'expiresAt keeps IAM's millisecond'; here a
  // random sub-millisecond fraction of .9997… may legitimately hit that test's bug.
  const subMs = Number('0.' + rec.response.expiresAt.slice(23, -1))
  if (subMs < 0.999) assert.equal(got, want, `${label}: expiresAt ${token.expiresAt.toISOString()} vs ${rec.response.expiresAt}`)
  else assert.ok(got === want || got === want + 1, `${label}: expiresAt`)
  return { token, rec }
}

// ---- every input form ----

describe('tokenFromKey: every input form', () => {
  test('key file object (snake_case) with the PLEASE DO NOT REMOVE line', async () => {
    assert.ok(base.key.private_key.startsWith('PLEASE DO NOT REMOVE'))
    const { rec } = await expectToken(base.key)
    assert.equal(rec.jwt.header.kid, base.key.id)
    assert.equal(rec.jwt.claims.iss, base.key.service_account_id)
  })

  test('key file object without the PLEASE line', async () => {
    await expectToken({ ...base.key, private_key: base.privateKeyPem })
  })

  test('key file object with only id, service_account_id and private_key', async () => {
    const { id, service_account_id, private_key } = base.key
    await expectToken({ id, service_account_id, private_key })
  })

  test('camelCase with id', async () => {
    await expectToken({ id: base.key.id, serviceAccountId: base.key.service_account_id, privateKey: base.key.private_key })
  })

  test('camelCase with keyId', async () => {
    const { rec } = await expectToken({ keyId: base.key.id, serviceAccountId: base.key.service_account_id, privateKey: base.privateKeyPem })
    assert.equal(rec.jwt.header.kid, base.key.id)
  })

  test('camelCase with accessKeyId', async () => {
    const { rec } = await expectToken({ accessKeyId: base.key.id, serviceAccountId: base.key.service_account_id, privateKey: base.key.private_key })
    assert.equal(rec.jwt.header.kid, base.key.id)
  })

  test('REST KeyService.Create answer {key: {id, serviceAccountId}, privateKey}', async () => {
    const answer = {
      key: {
        id: base.key.id, serviceAccountId: base.key.service_account_id, createdAt: base.key.created_at,
        description: '', keyAlgorithm: 'RSA_2048', publicKey: base.publicKeyPem,
      },
      privateKey: base.key.private_key,
    }
    const { rec } = await expectToken(answer)
    assert.equal(rec.jwt.header.kid, base.key.id)
    assert.equal(rec.jwt.claims.iss, base.key.service_account_id)
  })

  test('JSON text', async () => {
    await expectToken(JSON.stringify(base.key))
  })

  test('JSON text, pretty-printed with leading whitespace', async () => {
    await expectToken('\n  \t\r\n' + JSON.stringify(base.key, null, 2))
  })

  test('JSON text with a UTF-8 BOM', async () => {
    await expectToken('\uFEFF' + JSON.stringify(base.key, null, 2))
  })

  test('path to a key file', async () => {
    await expectToken(writeKeyFile(tmp, base.key))
  })

  test('path to a key file with CRLF line endings', async () => {
    const file = writeKeyFile(tmp, base.key, { crlf: true })
    assert.ok(fs.readFileSync(file, 'utf8').includes('\r\n'))
    await expectToken(file)
  })

  test('path to a key file with a UTF-8 BOM', async () => {
    await expectToken(writeKeyFile(tmp, base.key, { bom: true }))
  })

  test('path to a key file with CRLF and a BOM', async () => {
    await expectToken(writeKeyFile(tmp, base.key, { crlf: true, bom: true }))
  })

  test('Buffer of the key file', async () => {
    await expectToken(fs.readFileSync(writeKeyFile(tmp, base.key)))
  })

  test('Buffer of a key file with CRLF and a BOM', async () => {
    await expectToken(fs.readFileSync(writeKeyFile(tmp, base.key, { crlf: true, bom: true })))
  })

  test('PKCS#1 private key (BEGIN RSA PRIVATE KEY)', async () => {
    const k = registeredKey(emu, { pkcs1: true })
    assert.ok(k.privateKeyPem.startsWith('-----BEGIN RSA PRIVATE KEY-----'))
    await expectToken(k.key)
    await expectToken({ ...k.key, private_key: k.privateKeyPem })
  })

  test('RSA 4096 key', async () => {
    const k = registeredKey(emu, { bits: 4096, reuse: true })
    const { rec } = await expectToken(k.key)
    assert.equal(rec.jwt.header.kid, k.key.id)
    await expectToken(JSON.stringify(k.key))
  })

  test("expiresAt keeps IAM's millisecond (nanosecond fractions, offsets, no fraction)", async () => {
    // Six hours ahead: inside the 12 h an IAM token lives (a later expiresAt is not believed).
    const at = (shiftHours) => new Date(Date.now() + (6 + shiftHours) * 3600e3).toISOString().slice(0, 19)
    const cases = [
      `${at(0)}.911247532Z`,
      `${at(0)}.911000001Z`,
      `${at(0)}.911999999Z`,
      `${at(0)}.999999999Z`,
      `${at(0)}.000000000Z`,
      `${at(0)}Z`,
      `${at(0)}.5Z`,
      `${at(3)}.123456789+03:00`,
    ]
    const wrong = []
    for (const expiresAt of cases) {
      emu.fail('iam', { json: { iamToken: 't1.' + 'x'.repeat(40), expiresAt } })
      const token = await tokenFromKey(base.key, { endpoint: emu.iamUrl, cache: false })
      if (token.expiresAt.getTime() !== Date.parse(expiresAt)) {
        wrong.push(`${expiresAt} -> ${token.expiresAt.toISOString()} (want ${new Date(Date.parse(expiresAt)).toISOString()})`)
      }
    }
    assert.deepEqual(wrong, [], 'expiresAt must be IAM\'s time truncated to the millisecond')
  })

  test('the same key given in every form is one cache entry (one upstream request)', async () => {
    const file = writeKeyFile(tmp, base.key, { crlf: true, bom: true })
    const forms = [
      base.key, JSON.stringify(base.key), file, fs.readFileSync(file),
      { keyId: base.key.id, serviceAccountId: base.key.service_account_id, privateKey: base.privateKeyPem },
    ]
    const tokens = []
    for (const form of forms) tokens.push(await tokenFromKey(form, { endpoint: emu.iamUrl }))
    assert.equal(emu.count('iam'), 1)
    assert.ok(tokens.every((t) => t.accessToken === tokens[0].accessToken))
  })
})

// ---- endpoints and audiences ----

describe('tokenFromKey: endpoint and audience', () => {
  test('Kazakhstan-style endpoint: the audience defaults to the endpoint URL given', async () => {
    const endpoint = emu.iamUrl + '?region=kz'
    emu.audience = endpoint
    const { rec } = await expectToken(base.key, { endpoint })
    assert.equal(rec.jwt.claims.aud, endpoint)
    assert.equal(rec.path, '/iam/v1/tokens?region=kz')
  })

  test('a custom audience is put in the JWT sent to the endpoint', async () => {
    emu.audience = KZ_AUDIENCE
    const { rec } = await expectToken(base.key, { audience: KZ_AUDIENCE })
    assert.equal(rec.jwt.claims.aud, KZ_AUDIENCE)
  })

  test('a wrong audience is rejected by IAM with 401 (the JWT carries what the caller said)', async () => {
    const err = await rejectionOf(base.key, { endpoint: emu.iamUrl, cache: false, audience: DEFAULT_AUDIENCE })
    assertCodedError(err, 'ERR_IAM_REJECTED', 'wrong aud')
    assert.equal(err.status, 401)
    assert.equal(emu.count('iam'), 1, 'not retried')
  })
})

// ---- what IAM sees ----

describe('tokenFromKey: on the wire', () => {
  test('User-Agent, Content-Type, method and body', async () => {
    const { rec } = await expectToken(base.key)
    assert.equal(rec.method, 'POST')
    assert.equal(rec.headers['user-agent'], `yc-iam-token/${VERSION}`)
    assert.equal(rec.headers['content-type'], 'application/json')
    assert.match(rec.body, /^\{"jwt":"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+"\}$/)
    assert.deepEqual(Object.keys(JSON.parse(rec.body)), ['jwt'])
    assert.deepEqual(rec.jwt.header, { typ: 'JWT', alg: 'PS256', kid: base.key.id })
    const { iss, aud, iat, exp } = rec.jwt.claims
    assert.equal(iss, base.key.service_account_id)
    assert.equal(aud, emu.iamUrl)
    const now = Math.floor(rec.at / 1000)
    assert.ok(iat <= now && iat >= now - 60, `iat ${iat}, now ${now}`)
    assert.ok(exp - iat > 0 && exp - iat <= 3600, `exp - iat = ${exp - iat}`)
  })

  test('a deleted key: ERR_IAM_REJECTED, status 401, IAM\'s message, no JWT', async () => {
    const k = registeredKey(emu)
    await expectToken(k.key)
    emu.deleteKey(k.key.id)
    const err = await rejectionOf(k.key, { endpoint: emu.iamUrl, cache: false }, 'deleted key')
    assertCodedError(err, 'ERR_IAM_REJECTED', 'deleted key')
    assert.equal(err.status, 401)
    assert.match(err.message, /not found/, 'carries IAM\'s own message')
    assert.ok(err.message.includes(k.key.id), `names the key IAM named: ${err.message}`)
    assertHides(err, ['eyJ'], 'deleted key')
    assertNoKeyMaterial(err, [k.privateKeyPem], 'deleted key')
    assert.equal(emu.count('iam'), 2, 'a 401 is not retried')
  })

  test('a deleted key also evicts the cached token', async () => {
    const k = registeredKey(emu)
    const first = await tokenFromKey(k.key, { endpoint: emu.iamUrl })
    assert.equal((await tokenFromKey(k.key, { endpoint: emu.iamUrl })).accessToken, first.accessToken)
    assert.equal(emu.count('iam'), 1)
    emu.deleteKey(k.key.id)
    const err = await rejectionOf(k.key, { endpoint: emu.iamUrl, cache: false })
    assert.equal(err.code, 'ERR_IAM_REJECTED')
  })
})

// ---- bad inputs ----

describe('bad key inputs: tokenFromKey rejects, createJwt throws, no key material leaks', () => {
  // Built lazily (key generation is slow-ish); each case: [label, input, code, pems that must not leak].
  let cases
  before(() => {
    const { key, privateKeyPem, publicKeyPem } = base
    const please = `PLEASE DO NOT REMOVE THIS LINE! Yandex.Cloud SA Key ID <${key.id}>\n`
    const ec = generateOtherKey('ec')
    const ed = generateOtherKey('ed25519')
    const small = generateOtherKey('rsa1024')
    const pkcs1 = generateAuthorizedKey({ pkcs1: true }).privateKeyPem
    const allPems = [privateKeyPem, ec, ed, small, pkcs1]
    const without = (field) => { const k = { ...key }; delete k[field]; return k }
    const half = privateKeyPem.slice(0, Math.floor(privateKeyPem.length / 2))
    cases = [
      ['EC P-256 key', { ...key, private_key: please + ec }, 'ERR_INVALID_KEY'],
      ['Ed25519 key', { ...key, private_key: please + ed }, 'ERR_INVALID_KEY'],
      ['RSA 1024 key', { ...key, private_key: please + small }, 'ERR_INVALID_KEY'],
      ['EC key as JSON text', JSON.stringify({ ...key, private_key: ec }), 'ERR_INVALID_KEY'],
      ['truncated PEM', { ...key, private_key: please + half }, 'ERR_INVALID_KEY'],
      ['PEM with a damaged body', { ...key, private_key: privateKeyPem.replace(/\n(.{10})/, '\n$1!!!') }, 'ERR_INVALID_KEY'],
      ['PEM body without BEGIN/END', { ...key, private_key: pemBody(privateKeyPem) }, 'ERR_INVALID_KEY'],
      ['public key in private_key', { ...key, private_key: publicKeyPem }, 'ERR_INVALID_KEY'],
      ['missing id', without('id'), 'ERR_INVALID_KEY'],
      ['missing service_account_id', without('service_account_id'), 'ERR_INVALID_KEY'],
      ['missing private_key', without('private_key'), 'ERR_INVALID_KEY'],
      ['empty id', { ...key, id: '' }, 'ERR_INVALID_KEY'],
      ['blank service_account_id', { ...key, service_account_id: '   ' }, 'ERR_INVALID_KEY'],
      ['empty private_key', { ...key, private_key: '' }, 'ERR_INVALID_KEY'],
      ['camelCase without privateKey', { keyId: key.id, serviceAccountId: key.service_account_id }, 'ERR_INVALID_KEY'],
      ['camelCase without serviceAccountId', { keyId: key.id, privateKey: privateKeyPem }, 'ERR_INVALID_KEY'],
      ['camelCase without any id', { serviceAccountId: key.service_account_id, privateKey: privateKeyPem }, 'ERR_INVALID_KEY'],
      ['REST answer without key.serviceAccountId', { key: { id: key.id }, privateKey: privateKeyPem }, 'ERR_INVALID_KEY'],
      ['REST answer without key.id', { key: { serviceAccountId: key.service_account_id }, privateKey: privateKeyPem }, 'ERR_INVALID_KEY'],
      ['REST answer without privateKey', { key: { id: key.id, serviceAccountId: key.service_account_id } }, 'ERR_INVALID_KEY'],
      ['REST answer with key a string', { key: 'x', privateKey: privateKeyPem }, 'ERR_INVALID_KEY'],
      ['empty object', {}, 'ERR_INVALID_KEY'],
      ['invalid UTF-8 Buffer', Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x00, 0x22, 0x7d]), 'ERR_INVALID_KEY'],
      ['empty Buffer', Buffer.alloc(0), 'ERR_INVALID_KEY'],
      ['Buffer of a PEM', Buffer.from(privateKeyPem), 'ERR_INVALID_KEY'],
      ['10 MB Buffer', Buffer.alloc(10 << 20, 0x20), 'ERR_INVALID_KEY'],
      ['10 MB JSON string', '{"x":"' + 'a'.repeat(10 << 20) + '"}', 'ERR_INVALID_KEY'],
      ['10 MB string (taken as a path)', 'a'.repeat(10 << 20), 'ERR_INVALID_KEY'],
      ['a path that does not exist', path.join(tmp, 'no-such-dir', 'key.json'), 'ERR_INVALID_KEY'],
      ['a path that is a directory', tmp, 'ERR_INVALID_KEY'],
      ['empty string', '', 'ERR_INVALID_KEY'],
      ['broken JSON text', '{"id": "aje", "service_account_id": ', 'ERR_INVALID_KEY'],
      ['truncated key JSON text', JSON.stringify(key).slice(0, -40), 'ERR_INVALID_KEY'],
      ['JSON text of an array-like object with a bad field', JSON.stringify({ ...key, id: [1] }), 'ERR_INVALID_KEY'],
      ['PEM text alone as the key string', privateKeyPem, 'ERR_INVALID_KEY'],
      ['PEM text with the PLEASE line alone as the key string', key.private_key, 'ERR_INVALID_KEY'],
      ['PKCS#1 PEM text alone', pkcs1, 'ERR_INVALID_KEY'],
      ['42', 42, 'ERR_INVALID_ARG'],
      ['null', null, 'ERR_INVALID_ARG'],
      ['undefined', undefined, 'ERR_INVALID_ARG'],
      ['true', true, 'ERR_INVALID_ARG'],
      ['a function', () => key, 'ERR_INVALID_ARG'],
      ['an array', [key], 'ERR_INVALID_ARG'],
      ['a Symbol', Symbol('key'), 'ERR_INVALID_ARG'],
      ['a bigint', 42n, 'ERR_INVALID_ARG'],
    ].map(([label, input, code]) => [label, input, code, allPems])
    // each field of the wrong type, in each of the three forms
    for (const bad of [42, null, {}, true, [key.id]]) {
      const shown = util.inspect(bad)
      for (const field of ['id', 'service_account_id', 'private_key']) {
        cases.push([`${field} = ${shown}`, { ...key, [field]: bad }, 'ERR_INVALID_KEY', allPems])
      }
      for (const field of ['keyId', 'serviceAccountId', 'privateKey']) {
        const camel = { keyId: key.id, serviceAccountId: key.service_account_id, privateKey: privateKeyPem, [field]: bad }
        cases.push([`camelCase ${field} = ${shown}`, camel, 'ERR_INVALID_KEY', allPems])
      }
      cases.push([`REST key.id = ${shown}`, { key: { id: bad, serviceAccountId: key.service_account_id }, privateKey: privateKeyPem }, 'ERR_INVALID_KEY', allPems])
      cases.push([`REST privateKey = ${shown}`, { key: { id: key.id, serviceAccountId: key.service_account_id }, privateKey: bad }, 'ERR_INVALID_KEY', allPems])
    }
  })

  test('tokenFromKey: each bad key input rejects with the right code, no request, no key material', async () => {
    const problems = []
    for (const [label, input, code, pems] of cases) {
      const err = await rejectionOf(input, { endpoint: emu.iamUrl, cache: false }, label)
      try {
        assertCodedError(err, code, label)
        assert.equal(err.status, undefined, `${label}: no HTTP status`)
        assertNoKeyMaterial(err, pems, label)
      } catch (e) {
        problems.push(e.message)
      }
    }
    assert.equal(emu.count('iam'), 0, 'no bad key reached IAM')
    assert.deepEqual(problems, [])
  })

  test('createJwt: each bad key input throws synchronously with the same code, no key material', () => {
    const problems = []
    for (const [label, input, code, pems] of cases) {
      const err = thrownBy(input, undefined, label)
      try {
        assertCodedError(err, code, label)
        assertNoKeyMaterial(err, pems, label)
      } catch (e) {
        problems.push(e.message)
      }
    }
    assert.deepEqual(problems, [])
  })

  test('the messages say what is wrong', async () => {
    const missing = { ...base.key }
    delete missing.service_account_id
    assert.match((await rejectionOf(missing, { endpoint: emu.iamUrl })).message, /service_account_id/)
    assert.match((await rejectionOf({ ...base.key, id: 42 }, { endpoint: emu.iamUrl })).message, /"id"|\bid\b/)
    assert.match((await rejectionOf({ ...base.key, private_key: base.publicKeyPem }, { endpoint: emu.iamUrl })).message, /public key/i)
    assert.match((await rejectionOf({ ...base.key, private_key: generateOtherKey('ec') }, { endpoint: emu.iamUrl })).message, /RSA/)
    assert.match((await rejectionOf({ ...base.key, private_key: generateOtherKey('rsa1024') }, { endpoint: emu.iamUrl })).message, /2048/)
    assert.match((await rejectionOf(path.join(tmp, 'nope.json'), { endpoint: emu.iamUrl })).message, /nope\.json/)
    assert.match((await rejectionOf(base.privateKeyPem, { endpoint: emu.iamUrl })).message, /PEM/)
    assert.match((await rejectionOf(42, { endpoint: emu.iamUrl })).message, /key/)
  })
})

describe('bad options: tokenFromKey rejects with ERR_INVALID_ARG', () => {
  const cases = () => [
    ['endpoint not a URL', { endpoint: 'not a url' }],
    ['endpoint without a scheme', { endpoint: 'iam.api.cloud.yandex.net/iam/v1/tokens' }],
    ['endpoint ftp://', { endpoint: 'ftp://127.0.0.1/iam/v1/tokens' }],
    ['endpoint a number', { endpoint: 42 }],
    ['endpoint null', { endpoint: null }],
    ['endpoint empty', { endpoint: '' }],
    ['audience a number', { audience: 42 }],
    ['timeoutMs 0', { timeoutMs: 0 }],
    ['timeoutMs -1', { timeoutMs: -1 }],
    ['timeoutMs NaN', { timeoutMs: NaN }],
    ['timeoutMs Infinity', { timeoutMs: Infinity }],
    ["timeoutMs '100'", { timeoutMs: '100' }],
    ['timeoutMs true', { timeoutMs: true }],
    ['timeoutMs 3600001', { timeoutMs: 3_600_001 }],
    ['retries -1', { retries: -1 }],
    ['retries 11', { retries: 11 }],
    ['retries 1.5', { retries: 1.5 }],
    ['retries NaN', { retries: NaN }],
    ["retries '1'", { retries: '1' }],
    ["cache 'yes'", { cache: 'yes' }],
    ['cache 1', { cache: 1 }],
    ['signal {}', { signal: {} }],
    ["signal 'abort'", { signal: 'abort' }],
  ]

  test('each bad option rejects (never throws), no request is made', async () => {
    const problems = []
    for (const [label, opts] of cases()) {
      const options = { endpoint: emu.iamUrl, ...opts }
      // both with the cache on (the JS memo must not hide a bad option) and off
      for (const cache of [undefined, false]) {
        if (cache === false && 'cache' in opts) continue
        const o = cache === undefined ? options : { ...options, cache }
        const err = await rejectionOf(base.key, o, label)
        try {
          assertCodedError(err, 'ERR_INVALID_ARG', label)
        } catch (e) {
          problems.push(e.message)
        }
      }
    }
    assert.deepEqual(problems, [])
    assert.equal(emu.count('iam'), 0)
  })

  test('a bad option is reported even when a fresh token for the key is cached', async () => {
    await tokenFromKey(base.key, { endpoint: emu.iamUrl })
    const problems = []
    for (const [label, opts] of cases()) {
      if ('endpoint' in opts) continue
      try {
        const err = await rejectionOf(base.key, { endpoint: emu.iamUrl, ...opts }, label)
        assertCodedError(err, 'ERR_INVALID_ARG', `cached, ${label}`)
      } catch (e) {
        problems.push(e.message.split('\n')[0])
      }
    }
    assert.deepEqual(problems, [], 'a cached token must not hide an invalid option')
  })

  test("options = 'x', 42, true → ERR_INVALID_ARG", async () => {
    for (const options of ['x', 42, true]) {
      const err = await rejectionOf(base.key, options, util.inspect(options))
      assertCodedError(err, 'ERR_INVALID_ARG', util.inspect(options))
    }
    assert.equal(emu.count('iam'), 0)
  })

  test('the message names the option', async () => {
    for (const [name, opts] of [['endpoint', { endpoint: 'ftp://x/y' }], ['timeoutMs', { timeoutMs: -1 }], ['retries', { retries: 11 }], ['cache', { cache: 'yes' }], ['signal', { signal: {} }]]) {
      const err = await rejectionOf(base.key, opts)
      assert.ok(err.message.includes(name), `${name}: ${err.message}`)
    }
  })
})

// ---- createJwt ----

describe('createJwt', () => {
  const verify = async (jwt, publicKeyPem, { audience = DEFAULT_AUDIENCE, issuer }) => {
    const key = await jose.importSPKI(publicKeyPem, 'PS256')
    return jose.jwtVerify(jwt, key, { algorithms: ['PS256'], audience, issuer })
  }

  test('the JWT verifies with jose: header, iss, default aud, iat, exp', async () => {
    const jwt = createJwt(base.key)
    const now = Math.floor(Date.now() / 1000)
    assert.equal(typeof jwt, 'string')
    assert.match(jwt, JWT_SHAPE)
    const { payload, protectedHeader } = await verify(jwt, base.publicKeyPem, { issuer: base.key.service_account_id })
    assert.deepEqual(protectedHeader, { typ: 'JWT', alg: 'PS256', kid: base.key.id })
    assert.deepEqual(Object.keys(protectedHeader).sort(), ['alg', 'kid', 'typ'])
    assert.equal(payload.iss, base.key.service_account_id)
    assert.equal(payload.aud, DEFAULT_AUDIENCE)
    assert.ok(Number.isInteger(payload.iat) && Number.isInteger(payload.exp))
    assert.ok(payload.iat <= now && payload.iat >= now - 60, `iat ${payload.iat}, now ${now}`)
    // iat is backdated a few seconds; exp is an hour after iat at most, as IAM requires.
    assert.equal(payload.exp - payload.iat, 3600)
    assert.ok(payload.exp > now + 3500, `exp ${payload.exp}, now ${now}`)
  })

  test('every input form gives a JWT with the same header and claims', async () => {
    const file = writeKeyFile(tmp, base.key, { crlf: true, bom: true })
    const forms = {
      object: base.key,
      camel: { accessKeyId: base.key.id, serviceAccountId: base.key.service_account_id, privateKey: base.privateKeyPem },
      rest: { key: { id: base.key.id, serviceAccountId: base.key.service_account_id }, privateKey: base.key.private_key },
      text: ' ' + JSON.stringify(base.key),
      path: file,
      buffer: fs.readFileSync(file),
    }
    for (const [name, input] of Object.entries(forms)) {
      const { payload, protectedHeader } = await verify(createJwt(input), base.publicKeyPem, { issuer: base.key.service_account_id })
      assert.deepEqual(protectedHeader, { typ: 'JWT', alg: 'PS256', kid: base.key.id }, name)
      assert.equal(payload.aud, DEFAULT_AUDIENCE, name)
    }
  })

  test('a PKCS#1 and an RSA 4096 key sign verifiable JWTs', async () => {
    for (const k of [generateAuthorizedKey({ pkcs1: true }), generateAuthorizedKey({ bits: 4096, reuse: true })]) {
      const { protectedHeader } = await verify(createJwt(k.key), k.publicKeyPem, { issuer: k.key.service_account_id })
      assert.equal(protectedHeader.kid, k.key.id)
    }
  })

  test('a custom audience is honoured (Kazakhstan endpoint)', async () => {
    const jwt = createJwt(base.key, { audience: KZ_AUDIENCE })
    const { payload } = await verify(jwt, base.publicKeyPem, { audience: KZ_AUDIENCE, issuer: base.key.service_account_id })
    assert.equal(payload.aud, KZ_AUDIENCE)
    await assert.rejects(verify(jwt, base.publicKeyPem, { audience: DEFAULT_AUDIENCE }), { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED' })
  })

  test('lifetimeSec counts from now: even a 1 s JWT is valid when made', async () => {
    const key = await jose.importSPKI(base.publicKeyPem, 'PS256')
    for (const lifetimeSec of [1, 60, 3600]) {
      const before = Math.floor(Date.now() / 1000)
      const jwt = createJwt(base.key, { lifetimeSec })
      const after = Math.ceil(Date.now() / 1000)
      const { payload } = await jose.compactVerify(jwt, key, { algorithms: ['PS256'] })
      const claims = JSON.parse(new TextDecoder().decode(payload))
      assert.ok(claims.iat < before && claims.iat >= before - 60, `iat ${claims.iat}`)
      assert.ok(claims.exp - claims.iat <= 3600, `exp - iat = ${claims.exp - claims.iat}`)
      // exp is lifetimeSec from now, less the backdating where an hour after iat comes first.
      const expected = Math.min(before + lifetimeSec, claims.iat + 3600)
      assert.ok(claims.exp >= expected && claims.exp <= Math.min(after + lifetimeSec, claims.iat + 3600), `lifetimeSec ${lifetimeSec}: exp ${claims.exp}`)
      if (lifetimeSec < 3600) assert.ok(claims.exp >= before + lifetimeSec, 'not expired when made')
    }
  })

  test('bad lifetimeSec throws ERR_INVALID_ARG', () => {
    for (const lifetimeSec of [0, 3601, 1.5, -1, '60', NaN, Infinity, null, 1e9]) {
      const label = `lifetimeSec ${util.inspect(lifetimeSec)}`
      assertCodedError(thrownBy(base.key, { lifetimeSec }, label), 'ERR_INVALID_ARG', label)
    }
  })

  test("bad options throw ERR_INVALID_ARG: options 'x', audience 42", () => {
    for (const options of ['x', 42, { audience: 42 }, { audience: null }]) {
      const label = util.inspect(options)
      assertCodedError(thrownBy(base.key, options, label), 'ERR_INVALID_ARG', label)
    }
  })

  test('the emulator accepts a createJwt JWT POSTed by hand', async () => {
    const jwt = createJwt(base.key, { audience: emu.iamUrl })
    const res = await postJwt(emu, jwt)
    assert.equal(res.status, 200, res.text)
    assert.match(res.json.iamToken, /^t1\./)
  })

  test('a JWT for another audience is refused by the emulator', async () => {
    const jwt = createJwt(base.key) // aud = the real IAM endpoint
    assert.equal((await postJwt(emu, jwt)).status, 401)
  })

  test('each JWT is freshly signed (PS256 is randomized)', () => {
    const a = createJwt(base.key)
    const b = createJwt(base.key)
    assert.notEqual(a.split('.')[2], b.split('.')[2])
  })
})
