'use strict'

// Everything that talks to the native addon, loaded by the first call that needs it:
// - loading the addon (our own loader: napi-rs's generated one compiles 36 KB of JS into every
//   cold start, ~1.4 ms, to handle twenty targets; this package ships eight);
// - the calls: their options read into plain objects before the native side sees them, the
//   AbortSignal wired to a cancel handle, the memo (lib/memo.js) asked before the native side;
// - but the process's first memoizable call starts its native call before lib/memo.js is loaded
//   (nothing can be memoized yet), and the first outcome to report loads
//   node:diagnostics_channel: both load while that first request is on its way, off a cold
//   start's critical path;
// - reporting how each native call ended, the Node way and never with a secret in it:
//   NODE_DEBUG=yc-iam-token prints the source, the origin of each answer (fetched, from the
//   cache, stale while a refresh runs, the old token while IAM is down) or the failure, with its
//   time; diagnostics_channel `yc-iam-token:token` and `yc-iam-token:error` carry the same as
//   objects ({ source, origin, durationMs } / { source, code, status, durationMs }) for metrics.
//   Memo hits on the calling thread are not reported: they are the nanosecond path.
//
// `front` is what index.js holds for every file (the argument and error rules). The factory is
// parenthesized so that V8 compiles it at once, not once to skip over and again when it runs.

module.exports = (function nativeCalls(front) {
  const { codedError, asCallError, readOptions, notAnObject, notASignal, isSignal, debugWanted, NO_OPTIONS, CALL_OPTIONS } = front

  // ---- the addon ----

  let addon
  let failure
  let bounds
  let memo // lib/memo.js, loaded by the first memoizable call once its request is on its way

  /** The addon's exports; throws ERR_NATIVE_BINDING_NOT_FOUND (the same error every time). */
  function loaded() {
    if (addon !== undefined) return addon
    if (failure === undefined) {
      try {
        addon = load()
        return addon
      } catch (cause) {
        failure = notFound(cause)
      }
    }
    throw failure
  }

  /** The bounds the native side enforces (crates/core/src/limits.rs: their one home). */
  function limits() {
    bounds ??= loaded().limits()
    return bounds
  }

  function loadMemo() {
    if (memo === undefined) {
      try {
        memo = require('./memo.js')
      } catch (cause) {
        throw codedError('ERR_INTERNAL', 'yc-iam-token is damaged: its lib/memo.js could not be loaded; reinstall the package', { cause })
      }
      memo.setMaxEntries(limits().maxCacheEntries)
    }
    return memo
  }

  // ---- debug output and diagnostics channels ----

  let tokenChannel, errorChannel // made by the first outcome to report (after its call started)
  // node:util only where NODE_DEBUG is set at all (util.debuglog then decides whether ours is named).
  let log = debugWanted
    ? require('node:util').debuglog('yc-iam-token', (fn) => {
        log = fn
      })
    : undefined
  const debugOn = () => log !== undefined && log.enabled !== false

  /** A line for NODE_DEBUG=yc-iam-token. Only names, codes and timings go in. */
  function debug(format, ...args) {
    if (debugOn()) log(format, ...args)
  }

  /** Milliseconds since `started`, a process.hrtime() reading (the global `performance`'s first
   *  read would load ~1 ms of modules into every cold start). */
  function msSince(started) {
    const [seconds, nanoseconds] = process.hrtime(started)
    return seconds * 1e3 + nanoseconds / 1e6
  }

  /** Reports how a native call (a promise of a NativeToken) started at `started` ended. */
  function reportOutcome(promise, source, started) {
    if (tokenChannel === undefined) {
      const diagnostics = require('node:diagnostics_channel')
      tokenChannel = diagnostics.channel('yc-iam-token:token')
      errorChannel = diagnostics.channel('yc-iam-token:error')
    }
    if (!debugOn() && !tokenChannel.hasSubscribers && !errorChannel.hasSubscribers) return promise
    promise.then(
      (token) => {
        const durationMs = msSince(started)
        if (typeof token.reason === 'string') {
          debug('%s: does not apply, in %s ms', source, durationMs.toFixed(1))
          return
        }
        // A profile answer holds its token; a token as yc printed it has no known expiry (NaN).
        const { origin = 'fetched', expiresAtMs } = token.token ?? token
        const expires = Number.isFinite(expiresAtMs) ? new Date(expiresAtMs).toISOString() : 'unknown'
        debug('%s: token %s in %s ms, expires at %s', source, origin, durationMs.toFixed(1), expires)
        if (tokenChannel.hasSubscribers) tokenChannel.publish({ source, origin, durationMs })
      },
      (error) => {
        const durationMs = msSince(started)
        debug('%s: failed with %s in %s ms', source, error?.code, durationMs.toFixed(1))
        if (errorChannel.hasSubscribers) errorChannel.publish({ source, code: error?.code, status: error?.status, durationMs })
      },
    )
    return promise
  }

  // ---- options and key objects ----

  const FEDERATION_OPTIONS = [...CALL_OPTIONS, 'endpoint', 'serviceAccountId', 'subjectToken', 'subjectTokenFile', 'audience']
  const JWT_OPTIONS = ['audience', 'lifetimeSec']
  /** The fields of a key object the core reads (crates/core/src/key.rs; the last ones only to
   *  name what was passed by mistake: a context, a package.json, a public key). */
  const KEY_FIELDS = [
    ...['id', 'keyId', 'accessKeyId', 'service_account_id', 'serviceAccountId', 'private_key', 'privateKey'],
    ...['token', 'requestId', 'access_token', 'dependencies', 'devDependencies', 'name', 'version', 'public_key', 'publicKey'],
  ]

  // readOptions unrolled for the calls a memo hit goes through (tokenFromKey has its copy inline):
  // the same reads in the same order, into an object of one shape, where an option not passed is
  // `undefined` (which every reader, here and native, takes as "not passed"). The loop's keyed
  // reads and per-field shape changes cost ~130 ns a call; these ~10 ns.

  /** readOptions(options, [...CALL_OPTIONS, 'endpoint']). */
  function readMetadataOptions(options) {
    if (options === undefined || options === null) return NO_OPTIONS
    if (typeof options !== 'object') throw notAnObject(options)
    const plain = {
      timeoutMs: options.timeoutMs,
      retries: options.retries,
      cache: options.cache,
      signal: options.signal,
      endpoint: options.endpoint,
    }
    if (plain.signal === null) plain.signal = undefined
    else if (plain.signal !== undefined && !isSignal(plain.signal)) throw notASignal(plain.signal)
    return plain
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
  function memoizable(cache, signal, timeoutMs, retries, endpoint, audience, bounds) {
    if (cache !== undefined && cache !== true) return false
    if (signal !== undefined && signal.aborted) return false
    if (timeoutMs !== undefined && !(typeof timeoutMs === 'number' && timeoutMs > 0 && timeoutMs <= bounds.maxTimeoutMs)) return false
    if (retries !== undefined && !(Number.isInteger(retries) && retries >= 0 && retries <= bounds.maxRetries)) return false
    return (endpoint === undefined || typeof endpoint === 'string') && (audience === undefined || typeof audience === 'string')
  }

  /** Callers with the same options and no signal share one native call. */
  const flightKey = (options) => (options.signal === undefined ? `${options.timeoutMs}|${options.retries}|${options.audience}` : undefined)

  /**
   * The environment as this runtime keeps it, for the native side: Bun's `process.env` is not
   * the C environment the addon would otherwise read. Node's and Deno's are, so they pass nothing.
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

  // ---- the calls ----

  /** Starts a native call, wiring the caller's AbortSignal to its cancel handle. */
  function startNative(source, options, call) {
    const started = process.hrtime() // not performance.now(): its first read loads ~1 ms of modules
    const { signal } = options
    let pending
    if (signal === undefined) {
      pending = call(undefined)
    } else {
      const cancel = new (loaded().Cancel)()
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
    return memo.share(record, options.endpoint, flightKey(options), () => startNative(source, options, call), toIamToken)
  }

  /** The first memoizable call of the process: its native call starts, then the memo loads and
   *  keeps its answer (`recordOf(memo)`: the call's record; undefined when it has none). */
  function firstCall(source, options, call, recordOf) {
    const pending = startNative(source, options, call)
    // Whatever this caller ends up waiting on (the memo may hand it a flight that a getter of
    // its own key started meanwhile), this call's own failure must not go unhandled.
    pending.catch(() => {})
    // Thrown as later calls throw it (their memo lookup comes first): a key whose getters throw
    // at a second read is refused the same way at every call.
    const record = recordOf(loadMemo())
    if (record === undefined) return pending.then(toIamToken)
    return memo.share(record, options.endpoint, flightKey(options), () => pending, toIamToken)
  }

  function tokenFromKey(key, options) {
    try {
      // readOptions(options, [...CALL_OPTIONS, 'endpoint', 'audience']) unrolled into locals
      // (the same names, in the same order): the plain object is made only when the memo does
      // not answer (on a hit it would be the one allocation left).
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
      const useMemo = memoizable(cache, signal, timeoutMs, retries, endpoint, audience, bounds)
      const record = useMemo && memo !== undefined ? memo.recordOfKey(key, bounds) : undefined
      const answer = record === undefined ? undefined : memo.freshAnswer(record, endpoint)
      if (answer !== undefined) return answer
      const plain = given ? { timeoutMs, retries, cache, signal, endpoint, audience } : NO_OPTIONS
      return keyCall(key, plain, record, useMemo && memo === undefined, bounds)
    } catch (thrown) {
      return Promise.reject(asCallError(thrown, 'the key or options'))
    }
  }

  /** tokenFromKey past the memo (out of line: a hit stays small enough for V8 to inline). */
  function keyCall(key, plain, record, first, bounds) {
    const call = (cancel) => loaded().tokenFromKey(readKey(key), plain, cancel, environment())
    if (first) return firstCall('key', plain, call, (memo) => memo.recordOfKey(key, bounds))
    return nativeCall('key', record, plain, call)
  }

  function tokenFromMetadata(options) {
    try {
      const plain = readMetadataOptions(options)
      const { cache, signal, timeoutMs, retries, endpoint } = plain
      const useMemo = memoizable(cache, signal, timeoutMs, retries, endpoint, undefined, limits())
      const record = useMemo && memo !== undefined ? memo.metadataRecord() : undefined
      const answer = record === undefined ? undefined : memo.freshAnswer(record, endpoint)
      if (answer !== undefined) return answer
      return metadataCall(plain, record, useMemo && memo === undefined)
    } catch (thrown) {
      return Promise.reject(asCallError(thrown, 'the options'))
    }
  }

  /** tokenFromMetadata past the memo. */
  function metadataCall(plain, record, first) {
    const call = (cancel) => loaded().tokenFromMetadata(plain, cancel, environment())
    if (first) return firstCall('metadata', plain, call, (memo) => memo.metadataRecord())
    return nativeCall('metadata', record, plain, call)
  }

  function tokenFromFederation(options) {
    try {
      const plain = readOptions(options, FEDERATION_OPTIONS)
      return startNative('federation', plain, (cancel) => loaded().tokenFromFederation(plain, cancel, environment())).then(toIamToken)
    } catch (thrown) {
      return Promise.reject(asCallError(thrown, 'the options'))
    }
  }

  /** getToken's YC_TOKEN: a user's OAuth token exchanged at IAM (`options`: endpoint and call options). */
  function tokenFromOauth(token, options) {
    return startNative('YC_TOKEN', options, (cancel) => loaded().tokenFromOauth(token, options, cancel, environment())).then(toIamToken)
  }

  /** getToken's yc profile step: resolves a native profile answer ({ token, source } or { reason }). */
  function profileAnswer(options) {
    return startNative('profile', options, (cancel) => loaded().tokenFromProfile(options, cancel, environment()))
  }

  /** Why no yc profile applies (a string), or null when one may: the native side reads the config. */
  const profileAbsent = () => loaded().profileAbsent(environment())

  function createJwt(key, options) {
    try {
      return loaded().createJwt(readKey(key), readOptions(options, JWT_OPTIONS))
    } catch (thrown) {
      throw asCallError(thrown, 'the key or options')
    }
  }

  // ---- loading the addon ----

  const PACKAGE = 'yc-iam-token'
  const SUPPORTED = 'Linux x64/arm64 (glibc, musl), macOS x64/arm64, Windows x64/arm64'

  // The eight targets of package.json's napi.targets: the build in the package's folder (a
  // clone), then the platform package. Literal requires, so that bundlers and file tracers
  // (@vercel/nft: Next.js standalone output) see the platform packages.
  const BUILDS = {
    'linux-x64-gnu': [() => require('../yc-iam-token.linux-x64-gnu.node'), () => require('yc-iam-token-linux-x64-gnu')],
    'linux-x64-musl': [() => require('../yc-iam-token.linux-x64-musl.node'), () => require('yc-iam-token-linux-x64-musl')],
    'linux-arm64-gnu': [() => require('../yc-iam-token.linux-arm64-gnu.node'), () => require('yc-iam-token-linux-arm64-gnu')],
    'linux-arm64-musl': [() => require('../yc-iam-token.linux-arm64-musl.node'), () => require('yc-iam-token-linux-arm64-musl')],
    'darwin-x64': [() => require('../yc-iam-token.darwin-x64.node'), () => require('yc-iam-token-darwin-x64')],
    'darwin-arm64': [() => require('../yc-iam-token.darwin-arm64.node'), () => require('yc-iam-token-darwin-arm64')],
    'win32-x64-msvc': [() => require('../yc-iam-token.win32-x64-msvc.node'), () => require('yc-iam-token-win32-x64-msvc')],
    'win32-arm64-msvc': [() => require('../yc-iam-token.win32-arm64-msvc.node'), () => require('yc-iam-token-win32-arm64-msvc')],
  }

  /** The addon for this platform: NAPI_RS_NATIVE_LIBRARY_PATH when it is set (napi-rs's own
   *  override; a relative path from the package's folder, as napi-rs's loader resolves it), else
   *  the build in the package's folder, else the platform package. Throws what failed. */
  function load() {
    const override = process.env.NAPI_RS_NATIVE_LIBRARY_PATH
    if (override) return require(override.startsWith('.') ? require('node:path').join(__dirname, '..', override) : override)
    const target = targetName()
    if (target === undefined) throw new Error(`no build of ${PACKAGE} exists for ${process.platform}-${process.arch}`)
    const [local, published] = BUILDS[target]
    let localFailure
    try {
      return local()
    } catch (error) {
      // Not there (an installed package), or there and broken (a clone's build for a newer
      // glibc): either way the platform package may still serve.
      if (error?.code !== 'MODULE_NOT_FOUND') localFailure = error
    }
    try {
      const addon = published()
      checkVersion(`${PACKAGE}-${target}`)
      return addon
    } catch (error) {
      throw localFailure === undefined ? error : new AggregateError([localFailure, error], `the build in the package's folder and ${PACKAGE}-${target} both failed to load`)
    }
  }

  /** napi-rs's check, kept as it works there: on only when NAPI_RS_ENFORCE_VERSION_CHECK is set. */
  function checkVersion(name) {
    const enforce = process.env.NAPI_RS_ENFORCE_VERSION_CHECK
    if (!enforce || enforce === '0') return
    const expected = require('../package.json').version
    const found = require(`${name}/package.json`).version
    if (found !== expected) throw new Error(`${name} is version ${found}, ${PACKAGE} needs ${expected}: reinstall the dependencies`)
  }

  /** The napi-rs name of this platform's build (a key of BUILDS), or undefined where none is made. */
  function targetName() {
    const { platform, arch } = process
    if (arch !== 'x64' && arch !== 'arm64') return undefined
    if (platform === 'linux') return `linux-${arch}-${libc()}`
    if (platform === 'darwin') return `darwin-${arch}`
    if (platform === 'win32') return `win32-${arch}-msvc`
    return undefined
  }

  /** 'gnu' or 'musl': the ldd script names musl on musl systems (napi-rs's first test); where
   *  there is no ldd (distroless images), whether musl's dynamic loader is there. Not Node's
   *  report, napi-rs's next test: it costs ~10 ms, and a reverse lookup per open socket. */
  function libc() {
    const fs = require('node:fs')
    try {
      return fs.readFileSync('/usr/bin/ldd', 'latin1').includes('musl') ? 'musl' : 'gnu'
    } catch {
      try {
        return fs.existsSync(`/lib/ld-musl-${process.arch === 'x64' ? 'x86_64' : 'aarch64'}.so.1`) ? 'musl' : 'gnu'
      } catch {
        return 'gnu' // Deno without --allow-read: glibc, the common case; a wrong guess fails to load
      }
    }
  }

  function notFound(cause) {
    const { platform, arch } = process
    const deno = typeof globalThis.Deno === 'object'
    const target = targetName()
    const messages = (cause?.errors ?? [cause]).map((e) => String(e?.message))
    let advice
    if (target === undefined) {
      advice = `No build is made for this platform. Supported: ${SUPPORTED}.`
    } else if (deno && messages.some((m) => /NotCapable|PermissionDenied|Requires .* access/.test(m))) {
      advice =
        'Deno denied a permission the native addon needs: run with --allow-ffi --allow-env --allow-read ' +
        '(--allow-read=/usr/bin/ldd is enough for telling glibc from musl).'
    } else if (insideClone()) {
      advice = 'This is a clone of the yc-iam-token repository: build the addon with `npm run build` (Rust stable needed).'
    } else {
      advice =
        `The package ${PACKAGE}-${target} was expected in node_modules. It is an optional ` +
        'dependency: reinstall without --omit=optional / --no-optional (npm install yc-iam-token), and install ' +
        'on the platform you run on (a node_modules copied from macOS or Windows to Linux, or from glibc to ' +
        'Alpine/musl, lacks it). Bundlers (esbuild, webpack) must keep yc-iam-token external. Supported: ' +
        `${SUPPORTED}.`
    }
    return codedError('ERR_NATIVE_BINDING_NOT_FOUND', `yc-iam-token has no native binary loaded for ${target ?? `${platform}-${arch}`}. ${advice}`, {
      cause,
    })
  }

  function insideClone() {
    try {
      return require('node:fs').existsSync(require('node:path').join(__dirname, '..', 'crates', 'core', 'Cargo.toml'))
    } catch {
      return false
    }
  }

  const testing = Object.freeze({
    addon: loaded,
    limits,
    isLoaded: () => addon !== undefined,
    memoSizes: () => loadMemo().sizes(),
    advanceClock(ms) {
      loaded()._advanceClockForTesting(ms)
      loadMemo().advanceClock(ms)
    },
    clearCache() {
      if (addon !== undefined) addon._clearCacheForTesting()
      memo?.clear()
    },
  })

  return {
    tokenFromKey,
    tokenFromMetadata,
    tokenFromFederation,
    tokenFromOauth,
    profileAnswer,
    profileAbsent,
    createJwt,
    toIamToken,
    debug,
    testing,
  }
})
