'use strict'

// The public API. The native addon (loaded at the first call that needs it: lib/native.js) does
// the work: key parsing, signing, HTTP, retries, the token cache and their errors. This file
// adds what only JavaScript can do cheaply: reading the caller's arguments into plain objects
// before the native side sees them (a throwing getter or Proxy trap becomes ERR_INVALID_ARG),
// the AbortSignal listener, the `Date`, the memo that
// answers a fresh cached token on the calling thread (lib/memo.js), and the sources that need
// no native code (lib/context.js).

const { codedError, asCallError } = require('./lib/errors.js')
const { fromContext } = require('./lib/context.js')

// The rest is loaded by the first call that needs it: a Cloud Functions handler's
// `require('yc-iam-token')` + `tokenFromContext(context)` reads this file, lib/errors.js and
// lib/context.js only (each further file, and node:util and node:diagnostics_channel for
// lib/debug.js, would add to its cold start).
let nativeModule, memoModule, debugModule, sourcesModule
const loadNative = () => (nativeModule ??= require('./lib/native.js'))
const native = () => loadNative().native()
let bounds
const limits = () => bounds ?? (bounds = loadNative().limits())
const isLoaded = () => nativeModule !== undefined && nativeModule.isLoaded()
const memo = () => (memoModule ??= require('./lib/memo.js'))
const sources = () => (sourcesModule ??= require('./lib/sources.js'))
const loadDebug = () => (debugModule ??= require('./lib/debug.js'))
// Debug lines only where NODE_DEBUG is set at all (util.debuglog then decides whether ours is
// named): getToken({ context }) must not load node:util and diagnostics_channel to say nothing.
const debugWanted = Boolean(process.env.NODE_DEBUG)
const debug = (format, ...args) => debugWanted && loadDebug().debug(format, ...args)
const reportOutcome = (promise, source, started) => loadDebug().reportOutcome(promise, source, started)

const NO_OPTIONS = Object.freeze({})
const CALL_OPTIONS = ['timeoutMs', 'retries', 'cache', 'signal']
const KEY_OPTIONS = [...CALL_OPTIONS, 'endpoint', 'audience']
const METADATA_OPTIONS = [...CALL_OPTIONS, 'endpoint']
const FEDERATION_OPTIONS = [...CALL_OPTIONS, 'endpoint', 'serviceAccountId', 'subjectToken', 'subjectTokenFile', 'audience']
const GET_TOKEN_OPTIONS = [...KEY_OPTIONS, 'context', 'key', 'metadataEndpoint', 'federationEndpoint']
const JWT_OPTIONS = ['audience', 'lifetimeSec']
/** What getToken reads: its options, and `token` to tell a context passed as the options. */
const GET_TOKEN_READS = [...GET_TOKEN_OPTIONS, 'token']
/** The fields of a key object the core reads (crates/core/src/key.rs; the last ones only to
 *  name what was passed by mistake: a context, a package.json, a public key). */
const KEY_FIELDS = [
  ...['id', 'keyId', 'accessKeyId', 'service_account_id', 'serviceAccountId', 'private_key', 'privateKey'],
  ...['token', 'requestId', 'access_token', 'dependencies', 'devDependencies', 'name', 'version', 'public_key', 'publicKey'],
]

const typeName = (value) => (value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value)

/**
 * The options the caller passed, each read once into a plain object: what the memo decides on
 * is what the native side reads. Checks what only JS can check (the signal); the native side
 * checks the rest.
 */
function readOptions(options, names) {
  if (options === undefined || options === null) return NO_OPTIONS
  if (typeof options !== 'object') throw notAnObject(options)
  const plain = {}
  for (const name of names) {
    const value = options[name]
    if (value !== undefined) plain[name] = value
  }
  const { signal } = plain
  if (signal === null) delete plain.signal
  else if (signal !== undefined && !isSignal(signal)) throw notASignal(signal)
  return plain
}

// readOptions unrolled for the calls a memo hit goes through (tokenFromKey has its copy inline):
// the same reads in the same order, into an object of one shape, where an option not passed is
// `undefined` (which every reader, here and native, takes as "not passed"). The loop's keyed
// reads and per-field shape changes cost ~130 ns a call; these ~10 ns.

/** readOptions(options, METADATA_OPTIONS). */
function readMetadataOptions(options) {
  if (options === undefined || options === null) return NO_OPTIONS
  if (typeof options !== 'object') throw notAnObject(options)
  return checkedSignal({
    timeoutMs: options.timeoutMs,
    retries: options.retries,
    cache: options.cache,
    signal: options.signal,
    endpoint: options.endpoint,
  })
}

function checkedSignal(plain) {
  const { signal } = plain
  if (signal === null) plain.signal = undefined
  else if (signal !== undefined && !isSignal(signal)) throw notASignal(signal)
  return plain
}

const notAnObject = (options) => codedError('ERR_INVALID_ARG', `options must be an object (got ${typeName(options)})`)
const notASignal = (signal) =>
  codedError('ERR_INVALID_ARG', `options.signal must be an AbortSignal (got ${typeName(signal)} without aborted, addEventListener and removeEventListener)`)

function isSignal(signal) {
  return (
    typeof signal === 'object' &&
    typeof signal.aborted === 'boolean' &&
    typeof signal.addEventListener === 'function' &&
    typeof signal.removeEventListener === 'function'
  )
}

/** A key object's fields, read once, as a plain object (strings and Buffers as they are). */
function readKey(key) {
  if (typeof key !== 'object' || key === null || Buffer.isBuffer(key) || Array.isArray(key)) return key
  const plain = {}
  for (const name of KEY_FIELDS) plain[name] = key[name]
  const inner = key.key
  plain.key = typeof inner === 'object' && inner !== null ? { id: inner.id, serviceAccountId: inner.serviceAccountId } : inner
  return plain
}

/** Whether the memo may answer a call with these options (else it goes to the native side). */
function memoizable(options, bounds) {
  const { cache, signal, timeoutMs, retries, endpoint, audience } = options
  return memoizableCall(cache, signal, timeoutMs, retries, endpoint, audience, bounds)
}

function memoizableCall(cache, signal, timeoutMs, retries, endpoint, audience, bounds) {
  if (cache !== undefined && cache !== true) return false
  if (signal !== undefined && signal.aborted) return false
  if (timeoutMs !== undefined && !(typeof timeoutMs === 'number' && timeoutMs > 0 && timeoutMs <= bounds.maxTimeoutMs)) return false
  if (retries !== undefined && !(Number.isInteger(retries) && retries >= 0 && retries <= bounds.maxRetries)) return false
  return (endpoint === undefined || typeof endpoint === 'string') && (audience === undefined || typeof audience === 'string')
}

/** Callers with the same options and no signal share one native call. */
const flightKey = (options) => (options.signal === undefined ? `${options.timeoutMs}|${options.retries}|${options.audience}` : undefined)

/**
 * The environment as this runtime keeps it, for the native side: Bun's `process.env` is not the
 * C environment the addon would otherwise read. Node's and Deno's are, so they pass nothing.
 */
const passEnvironment = typeof process.versions.bun === 'string'
function environment() {
  if (!passEnvironment) return undefined
  const env = {}
  for (const name of limits().envNames) {
    const value = process.env[name]
    if (typeof value === 'string') env[name] = value
  }
  return env
}

/** Starts a native call, wiring the caller's AbortSignal to its cancel handle. */
function startNative(source, options, call) {
  const started = process.hrtime() // not performance.now(): its first read loads ~1 ms of modules
  const { signal } = options
  let pending
  if (signal === undefined) {
    pending = call(undefined)
  } else {
    const cancel = new (native().Cancel)()
    if (signal.aborted) cancel.cancel()
    const onAbort = () => cancel.cancel()
    signal.addEventListener('abort', onAbort, { once: true })
    const done = () => {
      try {
        signal.removeEventListener('abort', onAbort)
      } catch {
        // A look-alike signal's own bug: nothing to undo, and nothing may escape into a `.then`.
      }
    }
    try {
      pending = call(cancel)
    } catch (thrown) {
      done()
      throw thrown
    }
    pending.then(done, done)
  }
  return reportOutcome(pending, source, started)
}

const toIamToken = (token) =>
  Object.freeze({ accessToken: token.accessToken, expiresAt: new Date(token.expiresAtMs), tokenType: 'Bearer' })

/** A call the memo did not answer: to the native side, shared among callers when memoizable.
 *  (The memo's own answer, `memo.freshAnswer`, is looked up by the caller first, so that a hit
 *  allocates nothing, not even the `call` closure.) */
function nativeCall(source, record, options, call) {
  if (record === undefined) return startNative(source, options, call).then(toIamToken)
  return memo().share(record, options.endpoint, flightKey(options), () => startNative(source, options, call), toIamToken)
}

function tokenFromKey(key, options) {
  try {
    // readOptions(options, KEY_OPTIONS) unrolled into locals (the same names, in the same order):
    // the plain object is made only when the memo does not answer (on a hit it would be the one
    // allocation left).
    let timeoutMs, retries, cache, signal, endpoint, audience
    const given = options !== undefined && options !== null
    if (given) {
      if (typeof options !== 'object') throw notAnObject(options)
      timeoutMs = options.timeoutMs
      retries = options.retries
      cache = options.cache
      signal = options.signal
      endpoint = options.endpoint
      audience = options.audience
      if (signal === null) signal = undefined
      else if (signal !== undefined && !isSignal(signal)) throw notASignal(signal)
    }
    const bounds = limits()
    const record = memoizableCall(cache, signal, timeoutMs, retries, endpoint, audience, bounds) ? memo().recordOfKey(key, bounds) : undefined
    const answer = record === undefined ? undefined : memo().freshAnswer(record, endpoint)
    if (answer !== undefined) return answer
    const plain = given ? { timeoutMs, retries, cache, signal, endpoint, audience } : NO_OPTIONS
    return nativeCall('key', record, plain, (cancel) => native().tokenFromKey(readKey(key), plain, cancel, environment()))
  } catch (thrown) {
    return Promise.reject(asCallError(thrown, 'the key or options'))
  }
}

function tokenFromMetadata(options) {
  try {
    const plain = readMetadataOptions(options)
    const record = memoizable(plain, limits()) ? memo().metadataRecord() : undefined
    const answer = record === undefined ? undefined : memo().freshAnswer(record, plain.endpoint)
    if (answer !== undefined) return answer
    return nativeCall('metadata', record, plain, (cancel) => native().tokenFromMetadata(plain, cancel, environment()))
  } catch (thrown) {
    return Promise.reject(asCallError(thrown, 'the options'))
  }
}

function tokenFromFederation(options) {
  try {
    const plain = readOptions(options, FEDERATION_OPTIONS)
    return startNative('federation', plain, (cancel) => native().tokenFromFederation(plain, cancel, environment())).then(toIamToken)
  } catch (thrown) {
    return Promise.reject(asCallError(thrown, 'the options'))
  }
}

/** getToken's YC_TOKEN: a user's OAuth token exchanged at IAM (`options`: endpoint and call options). */
function tokenFromOauth(token, options) {
  return startNative('YC_TOKEN', options, (cancel) => native().tokenFromOauth(token, options, cancel, environment())).then(toIamToken)
}

/** getToken's yc profile step: resolves a native profile answer ({ token, source } or { reason }). */
function profileAnswer(options) {
  return startNative('profile', options, (cancel) => native().tokenFromProfile(options, cancel, environment()))
}

function tokenFromContext(context) {
  try {
    return Promise.resolve(fromContext(context))
  } catch (thrown) {
    return Promise.reject(asCallError(thrown, 'the context'))
  }
}

function createJwt(key, options) {
  try {
    return native().createJwt(readKey(key), readOptions(options, JWT_OPTIONS))
  } catch (thrown) {
    throw asCallError(thrown, 'the key or options')
  }
}

// ---- getToken: the first source that applies ----

const ENV_KEY_FILE = 'YC_SERVICE_ACCOUNT_KEY_FILE'
const ENV_KEY = 'YC_SERVICE_ACCOUNT_KEY'

const withSource = (source) => (token) => ({ ...token, source })

function getToken(options) {
  try {
    const plain = readOptions(options, GET_TOKEN_READS)
    if (plain.token !== undefined && plain.context === undefined) {
      throw codedError('ERR_INVALID_ARG', 'getToken was given a function context as its options: pass getToken({ context })')
    }
    const { context, key, endpoint, audience, metadataEndpoint, federationEndpoint, timeoutMs, retries, cache, signal } = plain
    const call = { timeoutMs, retries, cache, signal }
    const keyOptions = { ...call, endpoint, audience }
    const tried = []
    const chosen = (source) => {
      debug('getToken: source %s', source)
      return withSource(source)
    }

    if (context != null) {
      if (typeof context !== 'object' || context.token != null || 'access_token' in context) {
        return tokenFromContext(context).then(chosen('context'))
      }
      tried.push('context: given, but it has no token (the function version has no service account)')
    } else {
      tried.push('context: not given')
    }

    if (key != null) return tokenFromKey(key, keyOptions).then(chosen('key'))
    const keyFile = process.env[ENV_KEY_FILE]
    if (keyFile) return tokenFromKey(keyFile, keyOptions).then(chosen(ENV_KEY_FILE))
    const keyJson = process.env[ENV_KEY]
    if (keyJson) return tokenFromKey(keyJson, keyOptions).then(chosen(ENV_KEY))
    tried.push(`key: options.key not given, ${ENV_KEY_FILE} and ${ENV_KEY} not set`)

    const federationProblem = sources().federationProblem()
    if (federationProblem === undefined) {
      return tokenFromFederation({ ...call, endpoint: federationEndpoint }).then(chosen('federation'))
    }
    tried.push(`federation: ${federationProblem}`)

    const fromEnvironment = sources().environmentToken(tried)
    if (fromEnvironment?.token !== undefined) {
      debug('getToken: source %s', fromEnvironment.token.source)
      return Promise.resolve(fromEnvironment.token)
    }
    if (fromEnvironment?.oauth !== undefined) {
      return tokenFromOauth(fromEnvironment.oauth, { ...call, endpoint }).then(chosen('YC_TOKEN'))
    }

    const metadata = () =>
      tokenFromMetadata({ ...call, endpoint: metadataEndpoint }).then(chosen('metadata'), (error) => {
        if (!['ERR_UNAVAILABLE', 'ERR_TIMEOUT', 'ERR_NO_SERVICE_ACCOUNT'].includes(error.code)) throw error
        tried.push(`metadata service: ${error.message}`)
        throw noCredentials(tried, error)
      })
    const noProfile = native().profileAbsent(environment())
    if (noProfile !== null) {
      tried.push(`yc profile: ${noProfile}`)
      return metadata()
    }
    return profileAnswer({ ...call, endpoint }).then((answer) => {
      const token = sources().profileToken(answer, tried, toIamToken)
      if (token === undefined) return metadata()
      debug('getToken: source %s', token.source)
      return token
    })
  } catch (thrown) {
    return Promise.reject(asCallError(thrown, 'the options'))
  }
}

function noCredentials(tried, cause) {
  return codedError(
    'ERR_NO_SERVICE_ACCOUNT',
    `no source of an IAM token applies here. Tried, in order:\n  - ${tried.join('\n  - ')}\n` +
      `Pass options.context in a Cloud Functions handler, options.key or ${ENV_KEY_FILE} elsewhere; ` +
      'in CI or Kubernetes set YC_SERVICE_ACCOUNT_ID with an OIDC token (YC_ID_TOKEN, YC_ID_TOKEN_FILE, ' +
      'or GitHub Actions with permissions id-token: write); on a laptop run yc init; ' +
      'or run on a VM or function with a service account.',
    { cause },
  )
}

/**
 * A token provider for SDKs that ask for a token on every call (@ydbjs's `getToken(force,
 * signal)`, the Yandex Cloud SDK's TokenService shape): `getToken` answers the access token of
 * `getToken(options)`; `force` (the server refused the last token) asks past the cache.
 */
function tokenProvider(options) {
  const base = readOptions(options, GET_TOKEN_OPTIONS)
  return Object.freeze({
    getToken(force = false, signal = undefined) {
      const call = { ...base, cache: force ? false : base.cache, signal: signal ?? base.signal }
      return getToken(call).then((token) => token.accessToken)
    },
  })
}

/** Test hooks, under a symbol so that no `import *` or key listing shows them. */
const testing = Object.freeze({
  advanceClock(ms) {
    native()._advanceClockForTesting(ms)
    memo().advanceClock(ms)
  },
  clearCache() {
    if (isLoaded()) native()._clearCacheForTesting()
    memo().clear()
  },
  isNativeLoaded: isLoaded,
  memoSizes: () => memo().sizes(),
  limits: () => limits(),
})

module.exports.tokenFromKey = tokenFromKey
module.exports.tokenFromMetadata = tokenFromMetadata
module.exports.tokenFromContext = tokenFromContext
module.exports.tokenFromFederation = tokenFromFederation
module.exports.createJwt = createJwt
module.exports.getToken = getToken
module.exports.tokenProvider = tokenProvider
Object.defineProperty(module.exports, Symbol.for('yc-iam-token.testing'), { value: testing })
