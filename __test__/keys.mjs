// Test keys: Yandex Cloud authorized key files and odd keys for negative tests.
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'

const ALNUM = 'abcdefghijklmnopqrstuvwxyz0123456789'
const PLEASE = 'PLEASE DO NOT REMOVE THIS LINE! Yandex.Cloud SA Key ID'

/** An id shaped like Yandex Cloud's: `aje` + 17 random lowercase alnum characters. */
export function randomId(prefix = 'aje') {
  let s = prefix
  for (let i = 0; i < 17; i++) s += ALNUM[crypto.randomInt(ALNUM.length)]
  return s
}

/** RFC 3339 UTC with 9 fractional digits, as Yandex Cloud writes timestamps. */
export function rfc3339Nanos(ms = Date.now()) {
  return new Date(ms).toISOString().slice(0, -1) + String(crypto.randomInt(1e6)).padStart(6, '0') + 'Z'
}

const memo = new Map() // bits -> { privateKey, publicKey } (KeyObjects), only with { reuse: true }

function rsaPair(bits, reuse) {
  if (reuse && memo.has(bits)) return memo.get(bits)
  const pair = crypto.generateKeyPairSync('rsa', { modulusLength: bits })
  if (reuse) memo.set(bits, pair)
  return pair
}

/**
 * A fresh authorized key, as `yc iam key create` writes it.
 * Returns { key, privateKeyPem, publicKeyPem }; `key.private_key` carries the
 * "PLEASE DO NOT REMOVE THIS LINE!" marker unless `pleaseLine: false`.
 * `reuse: true` memoizes the RSA pair per `bits` (4096-bit generation is slow).
 */
export function generateAuthorizedKey({
  bits = 2048, pleaseLine = true, pkcs1 = false, id = randomId(), serviceAccountId = randomId(), reuse = false,
} = {}) {
  const { privateKey, publicKey } = rsaPair(bits, reuse)
  const privateKeyPem = privateKey.export({ type: pkcs1 ? 'pkcs1' : 'pkcs8', format: 'pem' })
  const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' })
  const key = {
    id,
    service_account_id: serviceAccountId,
    created_at: rfc3339Nanos(),
    key_algorithm: `RSA_${bits}`,
    public_key: publicKeyPem,
    private_key: (pleaseLine ? `${PLEASE} <${id}>\n` : '') + privateKeyPem,
  }
  return { key, privateKeyPem, publicKeyPem }
}

/** PKCS#8 PEM of a key the package must refuse: 'ec' (P-256) | 'ed25519' | 'rsa1024'. */
export function generateOtherKey(type) {
  let pair
  if (type === 'ec') pair = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' })
  else if (type === 'ed25519') pair = crypto.generateKeyPairSync('ed25519')
  else if (type === 'rsa1024') pair = crypto.generateKeyPairSync('rsa', { modulusLength: 1024 })
  else throw new TypeError(`generateOtherKey: unknown type ${type}`)
  return pair.privateKey.export({ type: 'pkcs8', format: 'pem' })
}

/** The PEM part of a `private_key` field (drops the "PLEASE DO NOT REMOVE" line). */
export function stripPleaseLine(privateKey) {
  return privateKey.replace(/^\uFEFF?PLEASE DO NOT REMOVE[^\n]*\n/, '')
}

/**
 * Sign a JWT by hand (PS256 = RSA-PSS, SHA-256, salt 32 unless overridden).
 * `claims` are merged over { iss, aud, iat: now, exp: now + 3600 }; `header` over the PS256 header.
 */
export function signJwt(key, { aud, claims = {}, header = {}, saltLength = 32 } = {}) {
  const now = Math.floor(Date.now() / 1000)
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url')
  const h = { typ: 'JWT', alg: 'PS256', kid: key.id, ...header }
  const c = { iss: key.service_account_id, aud, iat: now, exp: now + 3600, ...claims }
  const data = `${b64(h)}.${b64(c)}`
  const sig = crypto.sign('sha256', Buffer.from(data), {
    key: stripPleaseLine(key.private_key), padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength,
  })
  return `${data}.${sig.toString('base64url')}`
}

/**
 * Write `key` as pretty JSON into `dir`; returns the file's path.
 * `crlf`: the file's line endings AND the private_key value's own line endings become "\r\n".
 * `bom`: prefix a UTF-8 BOM.
 */
export function writeKeyFile(dir, key, { crlf = false, bom = false, name } = {}) {
  const k = crlf ? { ...key, private_key: key.private_key.replace(/\r?\n/g, '\r\n') } : key
  let text = JSON.stringify(k, null, 2) + '\n'
  if (crlf) text = text.replace(/\n/g, '\r\n') // escaped "\\n" in values are not real newlines
  if (bom) text = '\uFEFF' + text
  fs.mkdirSync(dir, { recursive: true })
  const file = path.join(dir, name ?? `key-${key.id ?? 'x'}-${crypto.randomBytes(4).toString('hex')}.json`)
  fs.writeFileSync(file, text, 'utf8')
  return file
}
