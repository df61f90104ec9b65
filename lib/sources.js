'use strict'

// getToken's sources past the context (index.js has that one), in the order of the design
// contract:
//   2. a key: options.key, YC_SERVICE_ACCOUNT_KEY_FILE, YC_SERVICE_ACCOUNT_KEY;
//   3. workload identity federation, when YC_SERVICE_ACCOUNT_ID is set with YC_ID_TOKEN,
//      YC_ID_TOKEN_FILE or GitHub Actions' two variables;
//   4. YC_IAM_TOKEN, else YC_TOKEN: an IAM token as it is, an OAuth token in YC_TOKEN exchanged;
//   5. the `yc` CLI's profile;
//   6. the metadata service.
// Which of them applies is decided here from `process.env`, so that an IAM token in the
// environment works where no binary is installed (lib/native.js loads the addon only when a
// native call starts); the rest (env fallbacks, reading files, the exchanges, the profile) is
// the core's. The federation rule is the core's `api::federation_applies`
// (crates/core/src/api.rs); a test checks that the two agree.

const ENV_KEY_FILE = 'YC_SERVICE_ACCOUNT_KEY_FILE'
const ENV_KEY = 'YC_SERVICE_ACCOUNT_KEY'
const SERVICE_ACCOUNT_ID = 'YC_SERVICE_ACCOUNT_ID'
const ID_TOKEN = 'YC_ID_TOKEN'
const ID_TOKEN_FILE = 'YC_ID_TOKEN_FILE'
const GITHUB_URL = 'ACTIONS_ID_TOKEN_REQUEST_URL'
const GITHUB_BEARER = 'ACTIONS_ID_TOKEN_REQUEST_TOKEN'
const ENV_TOKENS = ['YC_IAM_TOKEN', 'YC_TOKEN']
/** The metadata service's failures that mean "no credentials here", not "something broke". */
const NOT_HERE = ['ERR_UNAVAILABLE', 'ERR_TIMEOUT', 'ERR_NO_SERVICE_ACCOUNT']

/** A variable as the core sees it: an empty value is unset. */
const envVar = (name) => {
  const value = process.env[name]
  return typeof value === 'string' && value !== '' ? value : undefined
}

/** Whether `text` has the shape of a Yandex OAuth token (`y0_…`, `AQAAAA…`): the core's rule. */
const looksLikeOauth = (text) => /^(y[0-9]_|AQAA)/.test(text)

/** `front`: index.js's rules (errors, tokens, `chosen`); `calls()`: lib/native.js's calls, loaded
 *  by the first source that needs them (not by an IAM token from the environment). */
// Parenthesized, as lib/native.js's factory, to be compiled once.
module.exports = (function otherSources(front, calls) {
  const { codedError, tokenProblem, chosen, debugWanted } = front
  const debug = (...args) => debugWanted && calls().debug(...args)

  /**
   * getToken past a context that did not apply: `plain`, its options as read once; `tried`,
   * why each source so far did not apply (the ERR_NO_SERVICE_ACCOUNT message lists them).
   */
  function pastContext(plain, tried) {
    const { key, endpoint, audience, metadataEndpoint, federationEndpoint, timeoutMs, retries, cache, signal } = plain
    const call = { timeoutMs, retries, cache, signal }
    const keyOptions = { ...call, endpoint, audience }

    if (key != null) return calls().tokenFromKey(key, keyOptions).then(chosen('key'))
    const keyFile = process.env[ENV_KEY_FILE]
    if (keyFile) return calls().tokenFromKey(keyFile, keyOptions).then(chosen(ENV_KEY_FILE))
    const keyJson = process.env[ENV_KEY]
    if (keyJson) return calls().tokenFromKey(keyJson, keyOptions).then(chosen(ENV_KEY))
    tried.push(`key: options.key not given, ${ENV_KEY_FILE} and ${ENV_KEY} not set`)

    const federation = federationProblem()
    if (federation === undefined) {
      return calls().tokenFromFederation({ ...call, endpoint: federationEndpoint }).then(chosen('federation'))
    }
    tried.push(`federation: ${federation}`)

    const fromEnvironment = environmentToken(tried)
    if (fromEnvironment?.token !== undefined) {
      debug('getToken: source %s', fromEnvironment.token.source)
      return Promise.resolve(fromEnvironment.token)
    }
    if (fromEnvironment?.oauth !== undefined) {
      return calls().tokenFromOauth(fromEnvironment.oauth, { ...call, endpoint }).then(chosen('YC_TOKEN'))
    }

    const metadata = () =>
      calls().tokenFromMetadata({ ...call, endpoint: metadataEndpoint }).then(chosen('metadata'), (error) => {
        if (!NOT_HERE.includes(error.code)) throw error
        tried.push(`metadata service: ${error.message}`)
        throw noCredentials(tried, error)
      })
    const noProfile = calls().profileAbsent()
    if (noProfile !== null) {
      tried.push(`yc profile: ${noProfile}`)
      return metadata()
    }
    return calls().profileAnswer({ ...call, endpoint }).then((answer) => {
      const token = profileToken(answer, tried)
      if (token === undefined) return metadata()
      debug('getToken: source %s', token.source)
      return token
    })
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
  function profileToken(answer, tried) {
    if (answer.token == null) {
      tried.push(`yc profile: ${answer.reason}`)
      return undefined
    }
    const { token, source } = answer
    if (Number.isFinite(token.expiresAtMs)) return { ...calls().toIamToken(token), source }
    return { accessToken: token.accessToken, expiresAt: null, tokenType: 'Bearer', source }
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

  return { pastContext, federationProblem }
})
