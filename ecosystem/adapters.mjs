// yc-iam-token as the credentials of the Yandex Cloud and YDB SDKs: the smallest adapters.
// Each SDK is loaded only when its adapter is used, from where this file is, so it is the
// caller's copy (the same @grpc/grpc-js classes: grpc-js checks `instanceof Metadata` and
// `instanceof ChannelCredentials`, so a second copy of grpc-js would not do).
//
//   tokenProvider(source?)           { getToken(force?, signal?): Promise<string> }
//   createSession(source?, config?)  @yandex-cloud/nodejs-sdk: a Session whose every call asks `source`
//   ydbAuthService(source?)          ydb-sdk: an IAuthService (x-ydb-auth-ticket)
//   ydbjsCredentialsProvider(source?) @ydbjs/core: a CredentialsProvider (x-ydb-auth-ticket)
//
// `source`: GetTokenOptions for yc-iam-token's getToken() (the default: {} — the first source
// that applies here), or a function ({ force, signal }) => IamToken | string | a promise of one
// (e.g. () => tokenFromKey(key)). The token is asked for on every call: the package's cache
// answers a fresh token in microseconds and refreshes it before it expires.
import { createRequire } from 'node:module'

import { getToken } from 'yc-iam-token'

const require = createRequire(import.meta.url)

/** A token provider: what nodejs-sdk calls a TokenService, and the shape of @ydbjs's getToken. */
export function tokenProvider(source = {}) {
  if (typeof source === 'function') {
    return {
      async getToken(force = false, signal = undefined) {
        return accessTokenOf(await source({ force, signal }))
      },
    }
  }
  if (source === null || typeof source !== 'object') throw new TypeError('tokenProvider: source must be GetTokenOptions or a function')
  return {
    async getToken(force = false, signal = undefined) {
      // force: the server refused the last token; ask past the cache.
      const options = { ...source, signal: signal ?? source.signal, cache: force ? false : source.cache }
      return accessTokenOf(await getToken(options))
    },
  }
}

function accessTokenOf(token) {
  const text = typeof token === 'string' ? token : token?.accessToken
  if (typeof text !== 'string' || text === '') throw new TypeError('token source gave no access token')
  return text
}

// ---- @yandex-cloud/nodejs-sdk ----
// Its Session takes { iamToken: string } (fixed: it never refreshes), { serviceAccountJson }
// (its own JWT exchange) or nothing (its own metadata client); there is no option for a token
// provider. So: a real Session, with the call credentials it builds swapped for ones that ask
// our provider on every call. Same TLS options (`ssl`), same extra `headers`, same client
// factory (retries, deadlines, tracing), same `pollInterval`: only the token differs.
export function createSession(source = {}, config = {}) {
  const { Session } = require('@yandex-cloud/nodejs-sdk')
  const grpc = createRequire(require.resolve('@yandex-cloud/nodejs-sdk'))('@grpc/grpc-js')
  const provider = tokenProvider(source)
  // iamToken: '' keeps the Session from constructing its own metadata token service.
  const session = new Session({ ...config, iamToken: '' })
  if (!('channelCredentials' in session)) {
    throw new Error('createSession: this @yandex-cloud/nodejs-sdk has no Session.channelCredentials to replace (tested with 2.9 and 3.2)')
  }
  const { ssl, headers } = config
  const callCredentials = grpc.credentials.createFromMetadataGenerator((_params, callback) => {
    provider.getToken().then(
      (token) => {
        const metadata = new grpc.Metadata()
        metadata.set('authorization', `Bearer ${token}`)
        for (const [name, value] of Object.entries(headers ?? {})) {
          if (name.toLowerCase() !== 'authorization') metadata.set(name.toLowerCase(), value)
        }
        callback(null, metadata)
      },
      (error) => callback(asGrpcError(grpc, error)),
    )
  })
  session.channelCredentials = grpc.credentials.combineChannelCredentials(
    grpc.credentials.createSsl(ssl?.rootCerts, ssl?.privateKey, ssl?.certChain),
    callCredentials,
  )
  return session
}

/** Our error as a gRPC status: a transient one is UNAVAILABLE (the SDK's retry middleware
 *  retries it), a refused credential UNAUTHENTICATED; the message stays ours. */
function asGrpcError(grpc, error) {
  const transient = ['ERR_UNAVAILABLE', 'ERR_TIMEOUT'].includes(error?.code)
  const refused = ['ERR_IAM_REJECTED', 'ERR_NO_SERVICE_ACCOUNT', 'ERR_INVALID_KEY'].includes(error?.code)
  const status = transient ? grpc.status.UNAVAILABLE : refused ? grpc.status.UNAUTHENTICATED : grpc.status.UNKNOWN
  return Object.assign(new Error(String(error?.message ?? error), { cause: error }), { code: status })
}

// ---- ydb-sdk ----
// IAuthService { getAuthMetadata(): Promise<grpc.Metadata> }. The Metadata is made by ydb-sdk's
// own TokenAuthService, so it is ydb-sdk's grpc-js class.
export function ydbAuthService(source = {}) {
  const provider = tokenProvider(source)
  return {
    async getAuthMetadata() {
      const { TokenAuthService } = require('ydb-sdk')
      return new TokenAuthService(await provider.getToken()).getAuthMetadata()
    },
  }
}

// ---- @ydbjs/core ----
// The driver takes a CredentialsProvider: an abstract class whose `middleware` (set in its
// constructor) puts getToken()'s answer in x-ydb-auth-ticket. So: a subclass. @ydbjs/auth is
// ESM only; require() loads it on Node.js >= 20.19 / 22.12 (require(esm)), as here.
let YcIamTokenCredentialsProvider
export function ydbjsCredentialsProvider(source = {}) {
  if (YcIamTokenCredentialsProvider === undefined) {
    const { CredentialsProvider } = require('@ydbjs/auth')
    YcIamTokenCredentialsProvider = class YcIamTokenCredentialsProvider extends CredentialsProvider {
      #provider
      constructor(provider) {
        super()
        this.#provider = provider
      }
      getToken(force, signal) {
        return this.#provider.getToken(force, signal)
      }
    }
  }
  return new YcIamTokenCredentialsProvider(tokenProvider(source))
}
