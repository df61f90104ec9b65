// (a) This package, loaded from the repository root as an installed copy would be.
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
let lib

export default {
  name: 'yc-iam-token',
  short: 'yc-iam-token',
  deps: null, // this package: measured from the repository, see lib/footprint.mjs
  label: 'yc-iam-token (this package)',
  signer: 'createJwt: sync, native (aws-lc-rs) on the calling thread',
  memo: 'built in (tokenFromKey default: cache on)',
  async load() {
    lib = require('../..') // i.e. require('yc-iam-token')
  },
  /** createJwt is synchronous. */
  async sign(keyFile) {
    const key = JSON.parse(await readFile(keyFile, 'utf8'))
    return () => lib.createJwt(key)
  },
  async exchange(keyFile, endpoint) {
    const key = JSON.parse(await readFile(keyFile, 'utf8'))
    return () => lib.tokenFromKey(key, { endpoint, cache: false })
  },
  /** form: 'object' (the parsed key file, the main case), 'path' (the key file's path) or
   *  'json' (the file's JSON text, memoized in JS as the last JSON text passed). */
  async memoized(keyFile, endpoint, form = 'object') {
    const text = await readFile(keyFile, 'utf8')
    const key = form === 'path' ? keyFile : form === 'json' ? text : JSON.parse(text)
    return () => lib.tokenFromKey(key, { endpoint })
  },
}
