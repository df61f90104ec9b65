// (b) The Yandex Cloud docs recipe: node-jose signs, node-fetch posts.
import { createRequire } from 'node:module'
import { claims, DEFAULT_ENDPOINT, exchangeJwt, memoize, readAuthorizedKey } from './_user.mjs'

const require = createRequire(import.meta.url)
let jose, fetch

async function signer(keyFile, aud) {
  const k = await readAuthorizedKey(keyFile)
  const key = await jose.JWK.asKey(k.pem, 'pem', { kid: k.id, alg: 'PS256' })
  return () =>
    jose.JWS.createSign({ format: 'compact', fields: { typ: 'JWT', kid: k.id } }, key)
      .update(JSON.stringify(claims(k.serviceAccountId, aud)))
      .final()
}

export default {
  name: 'node-jose',
  short: 'docs recipe',
  deps: ['node-jose', 'node-fetch'],
  label: 'docs recipe (node-jose + node-fetch)',
  signer: 'JWS.createSign: crypto.createSign with the PEM on the main thread (re-parsed per signature), wrapped in a promise',
  memo: 'hand-written: cache the promise until 5 min before expiry',
  async load() {
    jose = require('node-jose')
    fetch = require('node-fetch')
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
