'use strict'

// getToken's keyless and laptop sources (after the key, before the metadata service), in the
// order of the design contract:
//   3. workload identity federation, when YC_SERVICE_ACCOUNT_ID is set with YC_ID_TOKEN,
//      YC_ID_TOKEN_FILE or GitHub Actions' two variables;
//   4. YC_IAM_TOKEN, else YC_TOKEN: an IAM token as it is, an OAuth token in YC_TOKEN exchanged;
//   5. the `yc` CLI's profile.
// Which of them applies is decided here from `process.env` with no native code, so that an IAM
// token in the environment works where no binary is installed; the rest (env fallbacks, reading
// files, the exchanges, the profile) is the core's. The federation rule is the core's
// `api::federation_applies` (crates/core/src/api.rs); a test checks that the two agree.

const { codedError } = require('./errors.js')
const { tokenProblem } = require('./context.js')

const SERVICE_ACCOUNT_ID = 'YC_SERVICE_ACCOUNT_ID'
const ID_TOKEN = 'YC_ID_TOKEN'
const ID_TOKEN_FILE = 'YC_ID_TOKEN_FILE'
const GITHUB_URL = 'ACTIONS_ID_TOKEN_REQUEST_URL'
const GITHUB_BEARER = 'ACTIONS_ID_TOKEN_REQUEST_TOKEN'
const ENV_TOKENS = ['YC_IAM_TOKEN', 'YC_TOKEN']

/** A variable as the core sees it: an empty value is unset. */
const envVar = (name) => {
  const value = process.env[name]
  return typeof value === 'string' && value !== '' ? value : undefined
}

/** Why federation is not getToken's source here, or undefined when it is. */
function federationProblem() {
  const github = envVar(GITHUB_URL) !== undefined && envVar(GITHUB_BEARER) !== undefined
  const subject = envVar(ID_TOKEN) !== undefined || envVar(ID_TOKEN_FILE) !== undefined || github
  const account = envVar(SERVICE_ACCOUNT_ID) !== undefined
  if (account && subject) return undefined
  if (subject) return `an OIDC token is at hand, but ${SERVICE_ACCOUNT_ID} is not set (the service account to exchange it for)`
  if (account) {
    return `${SERVICE_ACCOUNT_ID} is set, but none of ${ID_TOKEN}, ${ID_TOKEN_FILE}, or GitHub Actions' ${GITHUB_URL} + ${GITHUB_BEARER} (permissions: id-token: write)`
  }
  return `${SERVICE_ACCOUNT_ID} not set`
}

/** Whether `text` has the shape of a Yandex OAuth token (`y0_…`, `AQAAAA…`): the core's rule. */
const looksLikeOauth = (text) => /^(y[0-9]_|AQAA)/.test(text)

/**
 * getToken's step 4. Returns `{ token }` (an IAM token as it is, expiry unknown), `{ oauth }`
 * (YC_TOKEN's OAuth token, to exchange), or undefined after pushing why neither variable
 * applies onto `tried`.
 */
function environmentToken(tried) {
  for (const name of ENV_TOKENS) {
    const value = envVar(name)
    if (value === undefined) {
      tried.push(`${name}: not set`)
      continue
    }
    const trimmed = value.trim()
    if (trimmed.startsWith('t1.')) {
      const problem = tokenProblem(trimmed)
      if (problem !== undefined) throw codedError('ERR_INVALID_ARG', `${name} ${problem}`)
      return { token: { accessToken: trimmed, expiresAt: null, tokenType: 'Bearer', source: name } }
    }
    if (name === 'YC_TOKEN' && looksLikeOauth(trimmed)) return { oauth: trimmed }
    tried.push(
      name === 'YC_TOKEN'
        ? `${name}: set, but neither an IAM token (t1.…) nor an OAuth token (y0_…, AQAAAA…)`
        : `${name}: set, but not an IAM token (t1.…)`,
    )
  }
  return undefined
}

/**
 * A native profile answer as getToken resolves it: a token with `source` ('profile', or 'yc'
 * when `yc iam create-token` printed it), its expiry null where it is not known; or undefined
 * after pushing why the profile does not apply onto `tried`.
 */
function profileToken(answer, tried, toIamToken) {
  if (answer.token == null) {
    tried.push(`yc profile: ${answer.reason}`)
    return undefined
  }
  const { token, source } = answer
  if (Number.isFinite(token.expiresAtMs)) return { ...toIamToken(token), source }
  return { accessToken: token.accessToken, expiresAt: null, tokenType: 'Bearer', source }
}

module.exports = { federationProblem, environmentToken, profileToken, looksLikeOauth }
