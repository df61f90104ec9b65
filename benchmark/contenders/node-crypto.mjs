// (d) No library: node:crypto signs (a KeyObject parsed once), the global fetch posts.
import crypto from 'node:crypto'
import { claims, DEFAULT_ENDPOINT, exchangeJwt, memoize, readAuthorizedKey } from './_user.mjs'

const b64 = (value) => Buffer.from(JSON.stringify(value)).toString('base64url')

async function signer(keyFile, aud) {
  const k = await readAuthorizedKey(keyFile)
  const key = crypto.createPrivateKey(k.pem)
  const header = b64({ typ: 'JWT', alg: 'PS256', kid: k.id })
  return () => {
    const data = `${header}.${b64(claims(k.serviceAccountId, aud))}`
    const signature = crypto.sign('sha256', Buffer.from(data), {
      key,
      padding: crypto.constants.RSA_PKCS1_PSS_PADDING,
      saltLength: 32,
    })
    return `${data}.${signature.toString('base64url')}`
  }
}

export default {
  name: 'node-crypto',
  short: 'node:crypto',
  deps: [],
  label: 'node:crypto by hand + fetch',
  signer: 'crypto.sign: sync, OpenSSL on the main thread',
  memo: 'hand-written: cache the promise until 5 min before expiry',
  async load() {},
  /** Synchronous. */
  async sign(keyFile) {
    return signer(keyFile, DEFAULT_ENDPOINT)
  },
  async exchange(keyFile, endpoint) {
    const sign = await signer(keyFile, endpoint)
    return () => exchangeJwt(fetch, endpoint, sign())
  },
  async memoized(keyFile, endpoint) {
    return memoize(await this.exchange(keyFile, endpoint))
  },
}
