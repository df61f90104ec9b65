// The contenders, in report order: this package first, then the peers.
import ycIamToken from './yc-iam-token.mjs'
import nodeJose from './node-jose.mjs'
import jose from './jose.mjs'
import nodeCrypto from './node-crypto.mjs'

export const contenders = [ycIamToken, nodeJose, jose, nodeCrypto]
export const byName = (name) => {
  const c = contenders.find((x) => x.name === name)
  if (!c) throw new Error(`no contender ${name}`)
  return c
}
