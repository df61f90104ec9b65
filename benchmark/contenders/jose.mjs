// (c) The modern JavaScript way: jose (WebCrypto) signs, the global fetch posts.
import { claims, DEFAULT_ENDPOINT, exchangeJwt, memoize, readAuthorizedKey } from './_user.mjs'

let jose

async function signer(keyFile, aud) {
  const k = await readAuthorizedKey(keyFile)
  const key = await jose.importPKCS8(k.pem, 'PS256')
  return () =>
    new jose.SignJWT(claims(k.serviceAccountId, aud))
      .setProtectedHeader({ alg: 'PS256', typ: 'JWT', kid: k.id })
      .sign(key)
}

export default {
  name: 'jose',
  short: 'jose',
  deps: ['jose'],
  label: 'jose + fetch',
  signer: 'SignJWT.sign: WebCrypto subtle.sign, async (libuv thread pool)',
  memo: 'hand-written: cache the promise until 5 min before expiry',
  async load() {
    jose = await import('jose')
  },
  async sign(keyFile) {
    return signer(keyFile, DEFAULT_ENDPOINT)
  },
  async exchange(keyFile, endpoint) {
    const sign = await signer(keyFile, endpoint)
    return async () => exchangeJwt(fetch, endpoint, await sign())
  },
  async memoized(keyFile, endpoint) {
    return memoize(await this.exchange(keyFile, endpoint))
  },
}
