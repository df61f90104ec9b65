// Cold start: a fresh process loads the library and gets its first token from a key file.
// node cold/node-crypto.mjs <keyFile> <endpoint>
import contender from '../contenders/node-crypto.mjs'

const [keyFile, endpoint] = process.argv.slice(2)
await contender.load()
const getToken = await contender.memoized(keyFile, endpoint)
const { accessToken } = await getToken()
if (!accessToken.startsWith('t1.')) process.exitCode = 1
