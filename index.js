'use strict'

// The public API. Every `require('yc-iam-token')` compiles this file, and a Cloud Functions
// handler's tokenFromContext(context) or getToken({ context }) needs nothing more: the context
// source and the rules for arguments and errors live here, in one small file, because each file
// a cold start loads costs it ~0.3 ms and each 10 KB compiled ~0.5 ms (benchmark/README.md).
// Everything that needs the native addon (loading it, the calls, the memo, debug output) is in
// lib/native.js and lib/memo.js, loaded by the first call that needs them; getToken's sources
// past the context are in lib/sources.js.

// ---- errors ----

/** The codes of the contract: an error carrying one of them is passed on as it is. */
const CODES = new Set([
  'ERR_INVALID_ARG',
  'ERR_INVALID_KEY',
  'ERR_NO_SERVICE_ACCOUNT',
  'ERR_IAM_REJECTED',
  'ERR_UNAVAILABLE',
  'ERR_TIMEOUT',
  'ABORT_ERR',
  'ERR_INVALID_RESPONSE',
  'ERR_NATIVE_BINDING_NOT_FOUND',
  'ERR_INTERNAL',
])

/** An error made on the JS side, shaped as the native side's (`code`; `name` AbortError). */
function codedError(code, message, options) {
  const error = new Error(message, options?.cause === undefined ? undefined : { cause: options.cause })
  error.code = code
  if (code === 'ABORT_ERR') error.name = 'AbortError'
  return error
}

/**
 * What a call rejects with when something threw while it read its arguments: the package's own
 * errors as they are; anything else (a throwing getter, a Proxy trap, `throw undefined`) becomes
 * ERR_INVALID_ARG, with what was thrown kept as `cause`.
 */
function asCallError(thrown, what) {
  if (thrown instanceof Error && CODES.has(thrown.code)) return thrown
  return codedError('ERR_INVALID_ARG', `${what} could not be read: reading it threw (a getter or Proxy trap?); pass a plain object`, {
    cause: thrown,
  })
}

const invalid = (message) => codedError('ERR_INVALID_ARG', message)
const typeName = (value) => (value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value)

// ---- options ----

const NO_OPTIONS = Object.freeze({})
const CALL_OPTIONS = ['timeoutMs', 'retries', 'cache', 'signal']
const GET_TOKEN_OPTIONS = [...CALL_OPTIONS, 'endpoint', 'audience', 'context', 'key', 'metadataEndpoint', 'federationEndpoint']
/** What getToken reads: its options, and `token` to tell a context passed as the options. */
const GET_TOKEN_READS = [...GET_TOKEN_OPTIONS, 'token']

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

const notAnObject = (options) => invalid(`options must be an object (got ${typeName(options)})`)
const notASignal = (signal) =>
  invalid(`options.signal must be an AbortSignal (got ${typeName(signal)} without aborted, addEventListener and removeEventListener)`)

function isSignal(signal) {
  return (
    typeof signal === 'object' &&
    typeof signal.aborted === 'boolean' &&
    typeof signal.addEventListener === 'function' &&
    typeof signal.removeEventListener === 'function'
  )
}

// ---- the context source ----
// Its bounds are the core's (crates/core/src/limits.rs); a test checks that they stay equal.

/** IAM tokens live at most 12 hours. */
const MAX_TOKEN_LIFETIME_SEC = 12 * 3600
/** Longest token accepted. */
const MAX_TOKEN_CHARS = 16 * 1024
/** A token goes into an `Authorization` header: visible ASCII only (no CR, LF, NUL, spaces). */
const VISIBLE_ASCII = /^[\x21-\x7e]+$/

const NO_TOKEN =
  'the function context has no token: give the function version a service account ' +
  '(yc serverless function version create --service-account-id …, or the console\'s "Service account" ' +
  'field) so Cloud Functions passes context.token'

/** Why `text` cannot be a token, or undefined when it can. */
function tokenProblem(text) {
  if (typeof text !== 'string') return `must be a string (got ${typeName(text)})`
  if (text.length === 0) return 'is empty'
  if (text.length > MAX_TOKEN_CHARS) return `is ${text.length} characters, longer than any token`
  if (!VISIBLE_ASCII.test(text)) return 'holds characters a token cannot have (spaces, CR/LF, NUL or non-ASCII)'
  return undefined
}

/** `context.token` as an IamToken; throws the documented errors. */
function fromContext(context) {
  if (typeof context !== 'object' || context === null || Array.isArray(context)) {
    throw invalid(`context must be the handler's context object, as in async (event, context) => … (got ${typeName(context)})`)
  }
  const token = context.token
  if (token === undefined || token === null) {
    if ('access_token' in context) {
      throw invalid("this is context.token, not the context: pass the handler's whole context (tokenFromContext(context))")
    }
    throw codedError('ERR_NO_SERVICE_ACCOUNT', NO_TOKEN)
  }
  if (typeof token !== 'object' || Array.isArray(token)) {
    throw invalid(`context.token must be an object {access_token, expires_in} (got ${typeName(token)})`)
  }
  const { access_token: accessToken, expires_in: expiresIn, token_type: tokenType } = token
  const problem = tokenProblem(accessToken)
  if (problem !== undefined) throw invalid(`context.token.access_token ${problem}`)
  if (typeof expiresIn !== 'number') {
    throw invalid(`context.token.expires_in must be a number of seconds (got ${typeName(expiresIn)})`)
  }
  if (!(expiresIn > 0 && expiresIn <= MAX_TOKEN_LIFETIME_SEC)) {
    throw invalid(`context.token.expires_in must be a positive number of seconds, at most ${MAX_TOKEN_LIFETIME_SEC} (got ${expiresIn})`)
  }
  if (tokenType !== undefined && tokenType !== null && !(typeof tokenType === 'string' && tokenType.toLowerCase() === 'bearer')) {
    const shown = typeof tokenType === 'string' && /^[A-Za-z0-9_]{1,16}$/.test(tokenType) ? `"${tokenType}"` : typeName(tokenType)
    throw invalid(`context.token.token_type must be "Bearer" (got ${shown})`)
  }
  return Object.freeze({ accessToken, expiresAt: new Date(Date.now() + expiresIn * 1000), tokenType: 'Bearer' })
}

// ---- what is loaded at first use ----

// Debug lines only where NODE_DEBUG is set at all: getToken({ context }) must not load
// lib/native.js (and node:util) to say nothing.
const debugWanted = Boolean(process.env.NODE_DEBUG)

/** getToken's `.then` for a token from `source`, which it names in a debug line now, as it
 *  chooses it (a failure of that source then follows it). */
function chosen(source) {
  if (debugWanted) calls().debug('getToken: source %s', source)
  return (token) => ({ ...token, source })
}

/** What lib/native.js and lib/sources.js take from this file (their one home). */
const front = {
  ...{ codedError, asCallError, readOptions, notAnObject, notASignal, isSignal, tokenProblem, chosen },
  ...{ debugWanted, NO_OPTIONS, CALL_OPTIONS },
}
let nativeCalls, otherSources

/** lib/native.js: the calls that need the addon (which it loads at the first of them). */
const calls = () => (nativeCalls ??= loadPart('lib/native.js', () => require('./lib/native.js'))(front))
/** lib/sources.js: getToken past the context. */
const sources = () => (otherSources ??= loadPart('lib/sources.js', () => require('./lib/sources.js'))(front, calls))

/** One of lib/'s files (literal requires: bundlers and file tracers see them); a package that
 *  lacks it is damaged, and ERR_INTERNAL says so. */
function loadPart(file, load) {
  try {
    return load()
  } catch (cause) {
    throw codedError('ERR_INTERNAL', `yc-iam-token is damaged: its ${file} could not be loaded; reinstall the package`, { cause })
  }
}

// ---- the API ----

function tokenFromContext(context) {
  try {
    return Promise.resolve(fromContext(context))
  } catch (thrown) {
    return Promise.reject(asCallError(thrown, 'the context'))
  }
}

function tokenFromKey(key, options) {
  try {
    return calls().tokenFromKey(key, options)
  } catch (damaged) {
    return Promise.reject(damaged) // lib/native.js's own calls never throw
  }
}

function tokenFromMetadata(options) {
  try {
    return calls().tokenFromMetadata(options)
  } catch (damaged) {
    return Promise.reject(damaged)
  }
}

function tokenFromFederation(options) {
  try {
    return calls().tokenFromFederation(options)
  } catch (damaged) {
    return Promise.reject(damaged)
  }
}

function createJwt(key, options) {
  return calls().createJwt(key, options)
}

/** getToken: the first source that applies, in the order of the design contract. */
function getToken(options) {
  try {
    const plain = readOptions(options, GET_TOKEN_READS)
    if (plain.token !== undefined && plain.context === undefined) {
      throw invalid('getToken was given a function context as its options: pass getToken({ context })')
    }
    const { context } = plain
    const tried = []
    if (context != null) {
      if (typeof context !== 'object' || context.token != null || 'access_token' in context) {
        return tokenFromContext(context).then(chosen('context'))
      }
      tried.push('context: given, but it has no token (the function version has no service account)')
    } else {
      tried.push('context: not given')
    }
    return sources().pastContext(plain, tried)
  } catch (thrown) {
    return Promise.reject(asCallError(thrown, 'the options'))
  }
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
  advanceClock: (ms) => calls().testing.advanceClock(ms),
  clearCache: () => calls().testing.clearCache(),
  memoSizes: () => calls().testing.memoSizes(),
  limits: () => calls().testing.limits(),
  /** The addon's own exports (loads it). */
  addon: () => calls().testing.addon(),
  /** Loads lib/native.js, not yet the addon (benchmark/breakdown.mjs times the two apart). */
  loadNativeJs: () => void calls(),
  isNativeLoaded: () => nativeCalls !== undefined && nativeCalls.testing.isLoaded(),
  contextBounds: Object.freeze({ MAX_TOKEN_CHARS, MAX_TOKEN_LIFETIME_SEC }),
  federationProblem: () => sources().federationProblem(),
})

module.exports.tokenFromKey = tokenFromKey
module.exports.tokenFromMetadata = tokenFromMetadata
module.exports.tokenFromContext = tokenFromContext
module.exports.tokenFromFederation = tokenFromFederation
module.exports.createJwt = createJwt
module.exports.getToken = getToken
module.exports.tokenProvider = tokenProvider
Object.defineProperty(module.exports, Symbol.for('yc-iam-token.testing'), { value: testing })
