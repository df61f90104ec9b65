'use strict'

// Errors made on the JS side, with the same shape as the native side's (`code`, and `status`
// where an HTTP answer caused them).

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
  return codedError(
    'ERR_INVALID_ARG',
    `${what} could not be read: reading it threw (a getter or Proxy trap?); pass a plain object`,
    { cause: thrown },
  )
}

module.exports = { codedError, asCallError }
