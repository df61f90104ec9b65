'use strict'

// Debug output the Node way, never with a secret in it:
// - NODE_DEBUG=yc-iam-token prints which source was chosen and each native answer (fetched,
//   from the cache, a stale token while a refresh runs, the old token while IAM is down) or
//   failure, with its time;
// - diagnostics_channel `yc-iam-token:token` and `yc-iam-token:error` carry the same as objects
//   ({ source, origin, durationMs } / { source, code, status, durationMs }) for metrics.
// Memo hits on the calling thread are not reported: they are the nanosecond path.

const util = require('node:util')
const diagnostics = require('node:diagnostics_channel')

let log = util.debuglog('yc-iam-token', (fn) => {
  log = fn
})
const tokenChannel = diagnostics.channel('yc-iam-token:token')
const errorChannel = diagnostics.channel('yc-iam-token:error')

function enabled() {
  return log.enabled !== false
}

/** A line for NODE_DEBUG=yc-iam-token. Only names, codes and timings go in. */
function debug(format, ...args) {
  if (enabled()) log(format, ...args)
}

/** Milliseconds since `started`, a process.hrtime() reading (the global `performance`'s first
 *  read would load ~1 ms of modules into every cold start). */
function msSince(started) {
  const [seconds, nanoseconds] = process.hrtime(started)
  return seconds * 1e3 + nanoseconds / 1e6
}

/** Reports how a native call (a promise of a NativeToken) started at `started` ended. */
function reportOutcome(promise, source, started) {
  if (!enabled() && !tokenChannel.hasSubscribers && !errorChannel.hasSubscribers) return promise
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

module.exports = { debug, enabled, reportOutcome }
