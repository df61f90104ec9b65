// A local emulator of the Yandex Cloud IAM token endpoint and of the (GCE-style) metadata
// service, with scripted faults. Listens on 127.0.0.1, random port; http or https.
import crypto from 'node:crypto'
import { appendFileSync } from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import net from 'node:net'

export const IAM_PATH = '/iam/v1/tokens'
export const METADATA_PATH = '/computeMetadata/v1/instance/service-accounts/default/token'

// clockOffsetMs: the emulated IAM's clock is this far from the local one (negative: IAM behind).
const DEFAULTS = { clockOffsetMs: 0, iatLeewaySec: 5, tokenLifetimeSec: 43200, metadataToken: undefined, metadataStatus: 200 }
// Default error bodies for status faults, with the gRPC code Yandex's gateway would use.
const GRPC = {
  400: [3, 'invalid argument'], 401: [16, 'unauthenticated'], 403: [7, 'permission denied'],
  404: [5, 'not found'], 429: [8, 'resource exhausted'], 500: [13, 'internal'],
  502: [14, 'bad gateway'], 503: [14, 'unavailable'], 504: [4, 'deadline exceeded'],
}
const B64URL = /^[A-Za-z0-9_-]+$/
const JSON_CT = 'application/json'

// Under __test__/run.mjs: every JWT the emulator was sent and every token it handed out, one
// JSON line each, for secrets.scan.mjs (no 20 characters of any of them may be in an error).
const SEEN_LOG = process.env.YC_TEST_SEEN_LOG
const saw = (kind, value) => {
  if (SEEN_LOG && typeof value === 'string' && value) appendFileSync(SEEN_LOG, JSON.stringify({ kind, value }) + '\n')
}

const randomToken = () => 't1.' + crypto.randomBytes(30).toString('base64url') // 40 chars
const rfc3339Nanos = (ms) =>
  new Date(ms).toISOString().slice(0, -1) + String(crypto.randomInt(1e6)).padStart(6, '0') + 'Z'
const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v)
const stripPleaseLine = (pem) => pem.replace(/^\uFEFF?PLEASE DO NOT REMOVE[^\n]*\n/, '')

function decodeJwt(jwt) {
  try {
    const [h, c] = jwt.split('.')
    return {
      header: JSON.parse(Buffer.from(h, 'base64url').toString('utf8')),
      claims: JSON.parse(Buffer.from(c, 'base64url').toString('utf8')),
    }
  } catch { return undefined }
}

function resetSocket(socket) {
  // resetAndDestroy() needs a TCP handle; on https the TLS socket wraps the TCP one.
  for (const s of [socket, socket._parent]) {
    try { if (s && typeof s.resetAndDestroy === 'function') return void s.resetAndDestroy() } catch {}
  }
  socket.destroy()
}

export async function startEmulator({ tls } = {}) {
  const keys = new Map() // kid -> { publicKey: KeyObject, serviceAccountId }
  const faults = { iam: [], metadata: [] }
  const sockets = new Set()
  const timers = new Set()

  const server = tls ? https.createServer({ key: tls.key, cert: tls.cert }) : http.createServer()
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)) })
  server.on('request', (req, res) => {
    handle(req, res).catch((err) => {
      if (!res.headersSent) send(res, 500, { code: 13, message: `emulator bug: ${err.message}`, details: [] })
      else res.destroy()
    })
  })
  await new Promise((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve))
  const { port } = server.address()
  const origin = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`

  const emu = {
    origin,
    port,
    iamUrl: origin + IAM_PATH,
    metadataUrl: origin + METADATA_PATH,
    metadataAddr: `127.0.0.1:${port}`,
    audience: origin + IAM_PATH,
    ...DEFAULTS,
    requests: [],
    registerKey(key) {
      const pem = key.public_key ?? stripPleaseLine(key.private_key)
      keys.set(key.id, { publicKey: crypto.createPublicKey(pem), serviceAccountId: key.service_account_id })
    },
    deleteKey(id) { keys.delete(id) },
    count(kind) { return emu.requests.filter((r) => r.kind === kind).length },
    fail(kind, fault, times = 1) {
      if (!faults[kind]) throw new TypeError(`emu.fail: kind must be 'iam' or 'metadata', not ${kind}`)
      for (let i = 0; i < times; i++) faults[kind].push(fault)
    },
    reset() {
      emu.requests.length = 0
      faults.iam.length = 0
      faults.metadata.length = 0
      Object.assign(emu, DEFAULTS, { audience: emu.iamUrl })
    },
    async close() {
      for (const t of timers) clearInterval(t)
      timers.clear()
      for (const s of sockets) s.destroy()
      await new Promise((resolve) => server.close(() => resolve()))
    },
  }

  function send(res, status, body, headers = {}) {
    const text = typeof body === 'string' ? body : JSON.stringify(body)
    const ct = typeof body === 'string' ? 'text/plain; charset=utf-8' : JSON_CT
    res.writeHead(status, { 'content-type': ct, 'content-length': Buffer.byteLength(text), ...headers })
    res.end(text)
    if (res.rec) {
      res.rec.status = status
      if (status === 200 && typeof body !== 'string') res.rec.response = body
    }
    if (status === 200 && isObject(body)) saw('token', body.iamToken ?? body.access_token)
  }

  const iamSuccess = () => ({
    iamToken: randomToken(),
    expiresAt: rfc3339Nanos(Date.now() + emu.clockOffsetMs + emu.tokenLifetimeSec * 1000),
  })
  const metadataSuccess = async (rec) => {
    const t = emu.metadataToken
    if (typeof t === 'function') return await t(rec)
    return t ?? { access_token: randomToken(), expires_in: 43200, token_type: 'Bearer' }
  }

  // Returns an error message, or null when the JWT is acceptable. Never echoes the JWT.
  function checkJwt(jwt) {
    const parts = jwt.split('.')
    if (parts.length !== 3 || !parts.every((p) => B64URL.test(p))) return 'malformed JWT: expected three base64url parts'
    const decoded = decodeJwt(jwt)
    if (!decoded || !isObject(decoded.header) || !isObject(decoded.claims)) return 'malformed JWT: header or claims are not JSON objects'
    const { header, claims } = decoded
    if (header.alg !== 'PS256') return 'unsupported JWT algorithm: only PS256 is accepted'
    if (header.typ !== 'JWT') return 'JWT header typ must be "JWT"'
    if (typeof header.kid !== 'string') return 'JWT header has no kid'
    const key = keys.get(header.kid)
    if (!key) return `key ${JSON.stringify(header.kid.slice(0, 64))} not found`
    let ok = false
    try {
      ok = crypto.verify('sha256', Buffer.from(`${parts[0]}.${parts[1]}`), {
        key: key.publicKey, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32,
      }, Buffer.from(parts[2], 'base64url'))
    } catch {}
    if (!ok) return 'JWT signature verification failed'
    if (claims.iss !== key.serviceAccountId) return 'JWT iss does not match the key\'s service account'
    if (claims.aud !== emu.audience) return `JWT aud must be ${emu.audience}`
    const { iat, exp } = claims
    if (!Number.isFinite(iat) || !Number.isFinite(exp)) return 'JWT iat and exp must be numbers'
    const now = (Date.now() + emu.clockOffsetMs) / 1000
    if (exp <= iat) return 'JWT exp must be after iat'
    if (exp - iat > 3600) return 'JWT lifetime (exp - iat) exceeds 3600 seconds'
    if (exp <= now) return 'JWT has expired'
    if (iat > now + emu.iatLeewaySec) return 'JWT iat is in the future'
    return null
  }

  function applyFault(fault, kind, req, res) {
    if (fault.hang) return // never answer; close() destroys the socket
    if (fault.reset) return resetSocket(req.socket)
    if (fault.garbage) return send(res, 200, 'not json at all <<<', { 'content-type': JSON_CT })
    if ('json' in fault) return send(res, 200, JSON.stringify(fault.json), { 'content-type': JSON_CT })
    if (fault.redirect) return send(res, 302, '', { location: fault.redirect })
    if (fault.drip) {
      return (kind === 'iam' ? Promise.resolve(iamSuccess()) : metadataSuccess(res.rec)).then((obj) => {
        const bytes = Buffer.from(JSON.stringify(obj))
        res.writeHead(200, { 'content-type': JSON_CT, 'content-length': bytes.length })
        res.flushHeaders()
        let i = 0
        const timer = setInterval(() => {
          if (res.destroyed || i >= bytes.length) { clearInterval(timer); timers.delete(timer); return }
          res.write(bytes.subarray(i, ++i))
          if (i >= bytes.length) res.end()
        }, fault.intervalMs ?? 200)
        timers.add(timer)
        res.on('close', () => { clearInterval(timer); timers.delete(timer) })
      })
    }
    if (fault.bigBody) {
      const head = kind === 'iam' ? '{"iamToken":"t1.' : '{"access_token":"t1.'
      const tail = kind === 'iam' ? `","expiresAt":"${rfc3339Nanos(Date.now() + 3600e3)}"}` : '","expires_in":43200,"token_type":"Bearer"}'
      const text = head + 'A'.repeat(Math.max(0, fault.bigBody - head.length - tail.length)) + tail
      res.on('error', () => {})
      res.writeHead(200, { 'content-type': JSON_CT }) // no content-length: chunked
      for (let i = 0; i < text.length; i += 16384) res.write(text.slice(i, i + 16384))
      return res.end()
    }
    const status = fault.status ?? 500
    const [code, message] = GRPC[status] ?? [2, 'unknown']
    const headers = fault.retryAfter !== undefined ? { 'retry-after': String(fault.retryAfter) } : {}
    if (fault.contentType) headers['content-type'] = fault.contentType
    // A function makes the body from the request (an IAM that echoes the JWT it was sent).
    if (typeof fault.body === 'function') saw('echo', 'body made from the request')
    const body = typeof fault.body === 'function' ? fault.body(req.rec) : fault.body
    send(res, status, body ?? { code, message, details: [] }, headers)
  }

  async function handle(req, res) {
    const url = new URL(req.url, 'http://127.0.0.1') // also copes with absolute-form request lines
    const kind = url.pathname === IAM_PATH ? 'iam' : url.pathname === METADATA_PATH ? 'metadata' : 'other'
    const chunks = []
    for await (const c of req) chunks.push(c)
    const body = Buffer.concat(chunks).toString('utf8')
    const rec = { kind, method: req.method, path: url.pathname + url.search, headers: req.headers, body, jwt: undefined, at: Date.now() }
    if (kind === 'iam') {
      try {
        const j = JSON.parse(body).jwt
        if (typeof j === 'string') {
          rec.jwt = decodeJwt(j)
          rec.rawJwt = j
          saw('jwt', j)
        }
      } catch {}
    }
    emu.requests.push(rec)
    res.rec = rec
    req.rec = rec

    const fault = kind !== 'other' && faults[kind].shift()
    if (fault) return applyFault(fault, kind, req, res)

    if (kind === 'iam') {
      if (req.method !== 'POST') return send(res, 405, { code: 12, message: 'method not allowed', details: [] })
      let parsed
      try { parsed = JSON.parse(body) } catch {}
      if (!isObject(parsed) || typeof parsed.jwt !== 'string') {
        return send(res, 400, { code: 3, message: 'request body must be a JSON object with a string field "jwt"', details: [] })
      }
      const problem = checkJwt(parsed.jwt)
      if (problem) return send(res, 401, { code: 16, message: problem, details: [] })
      return send(res, 200, iamSuccess())
    }
    if (kind === 'metadata') {
      if (req.method !== 'GET') return send(res, 405, 'Method Not Allowed\n')
      if (req.headers['metadata-flavor'] !== 'Google') return send(res, 403, 'Missing required header "Metadata-Flavor": "Google"\n')
      if (emu.metadataStatus !== 200) return send(res, emu.metadataStatus, `${http.STATUS_CODES[emu.metadataStatus] ?? 'Error'}\n`)
      return send(res, 200, await metadataSuccess(rec))
    }
    send(res, 404, 'Not Found\n')
  }

  return emu
}

/** A port on 127.0.0.1 that nothing listens on (opened, then closed). */
export async function closedPort() {
  const server = net.createServer()
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address()
  await new Promise((resolve) => server.close(resolve))
  return port
}
