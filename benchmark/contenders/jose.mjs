// (c) The modern JavaScript way: jose (WebCrypto) signs, the global fetch posts.
import { claims, peer, readAuthorizedKey } from './_user.mjs'

let jose

async function signer(keyFile, aud) {
  const k = await readAuthorizedKey(keyFile)
  const key = await jose.importPKCS8(k.pem, 'PS256')
  return () =>
    new jose.SignJWT(claims(k.serviceAccountId, aud))
      .setProtectedHeader({ alg: 'PS256', typ: 'JWT', kid: k.id })
      .sign(key)
}

export default peer({
  name: 'jose',
  short: 'jose',
  deps: ['jose'],
  label: 'jose + fetch',
  signer: 'SignJWT.sign: WebCrypto subtle.sign, async (libuv thread pool)',
  async load() {
    jose = await import('jose')
  },
  makeSigner: signer,
  getFetch: () => fetch,
})
