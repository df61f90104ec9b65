// (a) This package, loaded from the repository root as an installed copy would be.
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
let lib

/** How many copies the cycled forms make before the loop (so no copy is made while timed). */
export const COPIES = 1000

/** `make(i)` for i < n, made now; the returned function hands them out in turn. */
function cycle(n, make) {
  const items = Array.from({ length: n }, (_, i) => make(i))
  let i = 0
  return () => {
    const item = items[i]
    i = i + 1 === n ? 0 : i + 1
    return item
  }
}

export default {
  name: 'yc-iam-token',
  short: 'yc-iam-token',
  deps: null, // this package: measured from the repository, see lib/footprint.mjs
  label: 'yc-iam-token (this package)',
  signer: 'createJwt: sync, native (aws-lc-rs) on the calling thread',
  memo: 'built in (tokenFromKey default: cache on)',
  async load() {
    lib = require('yc-iam-token') // benchmark/node_modules/yc-iam-token: a link to the repository
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
  /**
   * The cached call in one input form (bench.mjs "Cached call cost" says what each measures):
   * - 'object': the parsed key file, the same object every call (the main case);
   * - 'object-hoisted': the same, and the same options object every call too;
   * - 'object-copies': COPIES `JSON.parse(text)` copies made beforehand, cycled;
   * - 'object-fresh': a new object every call, `{ ...copy }` of those copies (none seen twice);
   * - 'json-copies': COPIES distinct strings of the file's text, cycled (as `process.env.KEY`
   *   gives a new string at each read);
   * - 'path': the key file's path;
   * - 'buffer-copies': COPIES Buffers of the file, cycled;
   * - 'rotation': the key objects of `keysFile` (a JSON array, each key registered at IAM), in turn.
   */
  async memoized(keyFile, endpoint, form = 'object', { keysFile } = {}) {
    const text = await readFile(keyFile, 'utf8')
    switch (form) {
      case 'object': {
        const key = JSON.parse(text)
        return () => lib.tokenFromKey(key, { endpoint })
      }
      case 'object-hoisted': {
        const key = JSON.parse(text)
        const options = { endpoint }
        return () => lib.tokenFromKey(key, options)
      }
      case 'object-copies': {
        const next = cycle(COPIES, () => JSON.parse(text))
        return () => lib.tokenFromKey(next(), { endpoint })
      }
      case 'object-fresh': {
        const next = cycle(COPIES, () => JSON.parse(text))
        return () => lib.tokenFromKey({ ...next() }, { endpoint })
      }
      case 'json-copies': {
        // Buffer → string decodes anew: a distinct flat string each, as an environment read gives.
        const next = cycle(COPIES, () => Buffer.from(text, 'utf8').toString('utf8'))
        return () => lib.tokenFromKey(next(), { endpoint })
      }
      case 'path':
        return () => lib.tokenFromKey(keyFile, { endpoint })
      case 'buffer-copies': {
        const next = cycle(COPIES, () => Buffer.from(text, 'utf8'))
        return () => lib.tokenFromKey(next(), { endpoint })
      }
      case 'rotation': {
        const keys = JSON.parse(await readFile(keysFile, 'utf8'))
        const next = cycle(keys.length, (i) => keys[i])
        const fn = () => lib.tokenFromKey(next(), { endpoint })
        fn.warmCalls = keys.length // one first call per key fills the cache
        return fn
      }
      default:
        throw new Error(`yc-iam-token: unknown form ${form}`)
    }
  },
}
