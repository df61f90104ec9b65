// A local emulator of the Yandex Cloud IAM token endpoint (JWT and OAuth exchanges), of the
// (GCE-style) metadata service, of the token-exchange service of workload identity federation
// (with an OIDC issuer of its own that mints subject tokens) and of GitHub Actions' ID-token
// endpoint, with scripted faults. Listens on 127.0.0.1, random port; http or https.
import crypto from 'node:crypto'
import { appendFileSync } from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import net from 'node:net'

export const IAM_PATH = '/iam/v1/tokens'
export const METADATA_PATH = '/computeMetadata/v1/instance/service-accounts/default/token'
export const EXCHANGE_PATH = '/oauth/token'
export const GITHUB_PATH = '/github/idtoken'
export const JWKS_PATH = '/jwks'
export const OIDC_CONFIG_PATH = '/.well-known/openid-configuration'

const GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:token-exchange'
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token'
const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token'
const KINDS = { [IAM_PATH]: 'iam', [METADATA_PATH]: 'metadata', [EXCHANGE_PATH]: 'exchange', [GITHUB_PATH]: 'github' }

// clockOffsetMs: the emulated IAM's clock is this far from the local one (negative: IAM behind).
// subjectAudiences: the audiences the federation trusts in a subject token; githubStatus: what
// the GitHub ID-token endpoint answers (403: the workflow lacks `id-token: write`).
const DEFAULTS = {
  clockOffsetMs: 0, iatLeewaySec: 5, tokenLifetimeSec: 43200, metadataToken: undefined, metadataStatus: 200,
  subjectAudiences: ['yc-iam-token-tests'], githubStatus: 200, githubDefaultAudience: 'https://github.com/yc-iam-token',
  githubSubject: 'repo:yc-iam-token/yc-iam-token:ref:refs/heads/main',
}
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
  const faults = { iam: [], metadata: [], exchange: [], github: [] }
  const credentials = new Map() // serviceAccountId -> Set of subjects (federated credentials)
  const oauthTokens = new Set() // OAuth tokens IAM knows
  let issuerKey // the OIDC issuer's RSA key, made at first use: { privateKey, publicKey, kid }
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
      if (!faults[kind]) throw new TypeError(`emu.fail: kind must be one of ${Object.keys(faults).join(', ')}, not ${kind}`)
      for (let i = 0; i < times; i++) faults[kind].push(fault)
    },
    reset() {
      emu.requests.length = 0
      for (const list of Object.values(faults)) list.length = 0
      Object.assign(emu, DEFAULTS, { audience: emu.iamUrl, subjectAudiences: [...DEFAULTS.subjectAudiences] })
    },

    // ---- workload identity federation ----
    /** The token-exchange endpoint, and the OIDC issuer (this origin) whose tokens it trusts. */
    exchangeUrl: origin + EXCHANGE_PATH,
    issuer: origin,
    /** GitHub Actions' ID-token endpoint, as ACTIONS_ID_TOKEN_REQUEST_URL gives it, and its bearer. */
    githubUrl: origin + GITHUB_PATH + '?api-version=2.0',
    githubBearer: 'ghs_emulator-request-token-' + crypto.randomBytes(9).toString('base64url'),
    /** A federated credential: `subject` (a token's `sub`) may act as `serviceAccountId`. */
    bindSubject(serviceAccountId, subject) {
      if (!credentials.has(serviceAccountId)) credentials.set(serviceAccountId, new Set())
      credentials.get(serviceAccountId).add(subject)
    },
    unbindSubject(serviceAccountId, subject) { credentials.get(serviceAccountId)?.delete(subject) },
    /**
     * A subject token (an RS256 OIDC JWT) from this issuer: `sub`, `aud` (default the first
     * trusted audience), `iss` (default this issuer), `expiresInSec` (negative: expired), or
     * `foreignKey: true` to sign with a key the issuer does not publish.
     */
    mintSubjectToken({ sub = 'system:serviceaccount:default:app', aud = emu.subjectAudiences[0], iss = emu.issuer, expiresInSec = 600, foreignKey = false, claims = {} } = {}) {
      const key = issuer()
      const now = Math.floor((Date.now() + emu.clockOffsetMs) / 1000)
      const header = { alg: 'RS256', typ: 'JWT', kid: key.kid }
      const body = { iss, sub, aud, iat: now, nbf: now - 5, exp: now + expiresInSec, jti: crypto.randomUUID(), ...claims }
      const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url')
      const signed = `${b64(header)}.${b64(body)}`
      const signer = foreignKey ? crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey : key.privateKey
      return `${signed}.${crypto.sign('sha256', Buffer.from(signed), signer).toString('base64url')}`
    },

    // ---- a user's OAuth tokens, exchanged at the IAM endpoint ----
    /** A new OAuth token IAM accepts (`y0_…`), or `token` itself made known. */
    registerOauthToken(token = 'y0_' + crypto.randomBytes(42).toString('base64url')) {
      oauthTokens.add(token)
      return token
    },
    revokeOauthToken(token) { oauthTokens.delete(token) },
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

  function issuer() {
    if (issuerKey === undefined) {
      const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 })
      issuerKey = { privateKey, publicKey, kid: 'emu-' + crypto.randomBytes(6).toString('hex') }
    }
    return issuerKey
  }

  const oauthError = (res, status, error, description) => send(res, status, { error, error_description: description })
  const exchangeSuccess = () => ({ access_token: randomToken(), token_type: 'Bearer', expires_in: emu.tokenLifetimeSec })

  // Returns a problem with the subject token (for error_description), or null. Never echoes it.
  function checkSubject(jwt) {
    const parts = jwt.split('.')
    if (parts.length !== 3 || !parts.every((p) => B64URL.test(p))) return 'subject_token is not a JWT'
    const decoded = decodeJwt(jwt)
    if (!decoded || !isObject(decoded.header) || !isObject(decoded.claims)) return 'subject_token is not a JWT'
    const { header, claims } = decoded
    const key = issuer()
    if (header.alg !== 'RS256' || header.kid !== key.kid) return 'subject token is not signed by a key of the issuer\'s JWKS'
    let ok = false
    try { ok = crypto.verify('sha256', Buffer.from(`${parts[0]}.${parts[1]}`), key.publicKey, Buffer.from(parts[2], 'base64url')) } catch {}
    if (!ok) return 'subject token signature verification failed'
    if (claims.iss !== emu.issuer) return 'subject token issuer is not trusted by any federation'
    const auds = [claims.aud].flat()
    if (!auds.some((a) => emu.subjectAudiences.includes(a))) return 'subject token audience is not one of the federation\'s audiences'
    const now = (Date.now() + emu.clockOffsetMs) / 1000
    if (!Number.isFinite(claims.exp) || claims.exp <= now) return 'subject token has expired'
    if (Number.isFinite(claims.nbf) && claims.nbf > now + 60) return 'subject token is not valid yet'
    return null
  }

  function handleExchange(req, res, body, rec) {
    if (req.method !== 'POST') return oauthError(res, 405, 'invalid_request', 'use POST')
    if (!String(req.headers['content-type']).startsWith('application/x-www-form-urlencoded')) {
      return oauthError(res, 400, 'invalid_request', 'the body must be application/x-www-form-urlencoded')
    }
    const form = Object.fromEntries(new URLSearchParams(body))
    rec.form = { ...form, subject_token: form.subject_token === undefined ? undefined : '[redacted]' }
    if (typeof form.subject_token === 'string') {
      rec.subject = decodeJwt(form.subject_token)
      saw('jwt', form.subject_token)
    }
    if (form.grant_type !== GRANT_TYPE) return oauthError(res, 400, 'unsupported_grant_type', 'grant_type must be token-exchange')
    if (form.requested_token_type !== ACCESS_TOKEN_TYPE) return oauthError(res, 400, 'invalid_request', 'requested_token_type must be access_token')
    if (form.subject_token_type !== ID_TOKEN_TYPE) return oauthError(res, 400, 'invalid_request', 'subject_token_type must be id_token')
    if (!form.audience) return oauthError(res, 400, 'invalid_request', 'audience (the service account id) is required')
    if (!form.subject_token) return oauthError(res, 400, 'invalid_request', 'subject_token is required')
    const problem = checkSubject(form.subject_token)
    if (problem) return oauthError(res, 400, 'invalid_grant', problem)
    const sub = rec.subject.claims.sub
    if (!credentials.get(form.audience)?.has(sub)) {
      return oauthError(res, 400, 'invalid_grant', `no federated credential binds subject ${JSON.stringify(String(sub).slice(0, 80))} to service account ${JSON.stringify(form.audience.slice(0, 40))}`)
    }
    return send(res, 200, exchangeSuccess())
  }

  function handleGithub(req, res, url) {
    if (req.method !== 'GET') return send(res, 405, { message: 'Method Not Allowed' })
    if (req.headers.authorization !== `Bearer ${emu.githubBearer}`) return send(res, 401, { message: 'Bad credentials' })
    if (emu.githubStatus !== 200) return send(res, emu.githubStatus, { message: 'Resource not accessible by integration' })
    const aud = url.searchParams.get('audience') ?? emu.githubDefaultAudience
    return send(res, 200, { count: 1800, value: emu.mintSubjectToken({ sub: emu.githubSubject, aud }) })
  }

  function applyFault(fault, kind, req, res) {
    if (fault.hang) return // never answer; close() destroys the socket
    if (fault.reset) return resetSocket(req.socket)
    if (fault.garbage) return send(res, 200, 'not json at all <<<', { 'content-type': JSON_CT })
    if ('json' in fault) return send(res, 200, JSON.stringify(fault.json), { 'content-type': JSON_CT })
    if (fault.redirect) return send(res, 302, '', { location: fault.redirect })
    if (fault.drip) {
      const success = kind === 'iam' ? Promise.resolve(iamSuccess()) : kind === 'exchange' ? Promise.resolve(exchangeSuccess()) : metadataSuccess(res.rec)
      return success.then((obj) => {
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
    const oauthStyle = kind === 'exchange' ? { error: status >= 500 ? 'server_error' : 'invalid_request', error_description: message } : undefined
    // A function makes the body from the request (an IAM that echoes the JWT it was sent).
    if (typeof fault.body === 'function') saw('echo', 'body made from the request')
    const body = typeof fault.body === 'function' ? fault.body(req.rec) : fault.body
    send(res, status, body ?? oauthStyle ?? { code, message, details: [] }, headers)
  }

  async function handle(req, res) {
    const url = new URL(req.url, 'http://127.0.0.1') // also copes with absolute-form request lines
    const kind = KINDS[url.pathname] ?? (url.pathname === JWKS_PATH || url.pathname === OIDC_CONFIG_PATH ? 'oidc' : 'other')
    const chunks = []
    for await (const c of req) chunks.push(c)
    const body = Buffer.concat(chunks).toString('utf8')
    const rec = { kind, method: req.method, path: url.pathname + url.search, headers: req.headers, body, jwt: undefined, at: Date.now() }
    if (kind === 'iam') {
      try {
        const parsed = JSON.parse(body)
        if (typeof parsed.jwt === 'string') {
          rec.jwt = decodeJwt(parsed.jwt)
          rec.rawJwt = parsed.jwt
          saw('jwt', parsed.jwt)
        }
        rec.grant = typeof parsed.yandexPassportOauthToken === 'string' ? 'oauth' : 'jwt'
      } catch {}
    }
    emu.requests.push(rec)
    res.rec = rec
    req.rec = rec

    const fault = faults[kind]?.shift()
    if (fault) return applyFault(fault, kind, req, res)

    if (kind === 'iam') {
      if (req.method !== 'POST') return send(res, 405, { code: 12, message: 'method not allowed', details: [] })
      let parsed
      try { parsed = JSON.parse(body) } catch {}
      if (isObject(parsed) && typeof parsed.yandexPassportOauthToken === 'string') {
        if (!oauthTokens.has(parsed.yandexPassportOauthToken)) {
          return send(res, 401, { code: 16, message: 'The OAuth token is invalid or has expired', details: [] })
        }
        return send(res, 200, iamSuccess())
      }
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
    if (kind === 'exchange') return handleExchange(req, res, body, rec)
    if (kind === 'github') return handleGithub(req, res, url)
    if (url.pathname === OIDC_CONFIG_PATH) {
      return send(res, 200, { issuer: emu.issuer, jwks_uri: origin + JWKS_PATH, id_token_signing_alg_values_supported: ['RS256'] })
    }
    if (url.pathname === JWKS_PATH) {
      const { publicKey, kid } = issuer()
      return send(res, 200, { keys: [{ ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' }] })
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
