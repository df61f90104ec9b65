// What a user writes around a JWT library, once, by hand: read the authorized key file, build
// the IAM claims, and memoize the token. Shared by the three peer contenders, so that they
// differ only in the library calls.
import { readFile } from 'node:fs/promises'

export const DEFAULT_ENDPOINT = 'https://iam.api.cloud.yandex.net/iam/v1/tokens'

/** The authorized key file `yc iam key create` writes, with the PEM ready for a JWT library
 *  (the "PLEASE DO NOT REMOVE THIS LINE!" first line dropped: jose refuses it). */
export async function readAuthorizedKey(keyFile) {
  const key = JSON.parse(await readFile(keyFile, 'utf8'))
  return {
    id: key.id,
    serviceAccountId: key.service_account_id,
    pem: key.private_key.replace(/^PLEASE DO NOT REMOVE[^\n]*\n/, ''),
  }
}

/** IAM's claims: iss = the service account, aud = the endpoint, iat backdated 5 s, 1 h life. */
export function claims(serviceAccountId, aud) {
  const iat = Math.floor(Date.now() / 1000) - 5
  return { iss: serviceAccountId, aud, iat, exp: iat + 3600 }
}

/** The IAM answer as the contenders return it: the same shape as yc-iam-token's IamToken. */
export function toToken(body) {
  if (typeof body?.iamToken !== 'string') throw new Error('IAM answered without iamToken')
  return { accessToken: body.iamToken, expiresAt: new Date(body.expiresAt), tokenType: 'Bearer' }
}

/** POSTs the JWT with the given fetch (node-fetch or the global one). */
export async function exchangeJwt(fetchFn, endpoint, jwt) {
  const res = await fetchFn(endpoint, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ jwt }),
  })
  if (!res.ok) throw new Error(`IAM answered ${res.status}: ${(await res.text()).slice(0, 200)}`)
  return toToken(await res.json())
}

/**
 * The hand-written memo users put around a peer: cache the promise until 5 minutes before the
 * token expires; concurrent callers share one request; a failure is not cached.
 */
export function memoize(getToken) {
  let promise
  let refreshAt = 0
  return () => {
    if (promise === undefined || Date.now() >= refreshAt) {
      refreshAt = Infinity // while the request is in flight, everyone shares it
      promise = getToken().then(
        (token) => {
          refreshAt = token.expiresAt.getTime() - 5 * 60_000
          return token
        },
        (error) => {
          promise = undefined
          refreshAt = 0
          throw error
        },
      )
    }
    return promise
  }
}

/**
 * A peer contender from its library calls: `makeSigner(keyFile, aud)` resolves to a function that
 * signs one JWT, and `getFetch()` gives the fetch to post it with (both available after `load`).
 * The exchange, the memo and the descriptions around them are the same for every peer.
 */
export function peer({ makeSigner, getFetch, ...description }) {
  return {
    memo: 'hand-written: cache the promise until 5 min before expiry',
    ...description,
    async sign(keyFile) {
      return makeSigner(keyFile, DEFAULT_ENDPOINT)
    },
    async exchange(keyFile, endpoint) {
      const sign = await makeSigner(keyFile, endpoint)
      const fetchFn = getFetch()
      return async () => exchangeJwt(fetchFn, endpoint, await sign())
    },
    async memoized(keyFile, endpoint) {
      return memoize(await this.exchange(keyFile, endpoint))
    },
  }
}
