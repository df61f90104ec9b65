'use strict'

// The sources that need no native code: a Cloud Functions context, and an IAM token taken as
// it is from the environment. They run in JavaScript so that they work, and start at once,
// where no binary is installed. The bounds match the core's (crates/core/src/limits.rs); a
// test checks that they stay equal.

const { codedError } = require('./errors.js')

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

const invalid = (message) => codedError('ERR_INVALID_ARG', message)
const typeName = (value) => (value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value)

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
      throw invalid('this is context.token, not the context: pass the handler\'s whole context (tokenFromContext(context))')
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

module.exports = { fromContext, tokenProblem, MAX_TOKEN_LIFETIME_SEC, MAX_TOKEN_CHARS }
