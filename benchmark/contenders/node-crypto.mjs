// (d) No library: node:crypto signs (a KeyObject parsed once), the global fetch posts.
import crypto from 'node:crypto'
import { claims, peer, readAuthorizedKey } from './_user.mjs'

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

// Its signer is synchronous; `await` on its result costs the exchange nothing measurable.
export default peer({
  name: 'node-crypto',
  short: 'node:crypto',
  deps: [],
  label: 'node:crypto by hand + fetch',
  signer: 'crypto.sign: sync, OpenSSL on the main thread',
  async load() {},
  makeSigner: signer,
  getFetch: () => fetch,
})
