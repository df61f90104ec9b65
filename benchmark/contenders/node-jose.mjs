// (b) The Yandex Cloud docs recipe: node-jose signs, node-fetch posts.
import { createRequire } from 'node:module'
import { claims, peer, readAuthorizedKey } from './_user.mjs'

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

export default peer({
  name: 'node-jose',
  short: 'docs recipe',
  deps: ['node-jose', 'node-fetch'],
  label: 'docs recipe (node-jose + node-fetch)',
  signer: 'JWS.createSign: crypto.createSign with the PEM on the main thread (re-parsed per signature), wrapped in a promise',
  async load() {
    jose = require('node-jose')
    fetch = require('node-fetch')
  },
  makeSigner: signer,
  getFetch: () => fetch,
})
