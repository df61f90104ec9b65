// Cold start: a fresh process loads one contender's library and gets its first token from a key file.
// node cold/run.mjs <contender> <keyFile> <endpoint>      (contender: a module in ../contenders)
import { writeSync } from 'node:fs'

const [name, keyFile, endpoint] = process.argv.slice(2)
if (!/^[a-z][a-z-]*$/.test(name ?? '') || !keyFile || !endpoint) {
  console.error('usage: node cold/run.mjs <contender> <keyFile> <endpoint>')
  process.exit(2)
}
// Only that contender's module is imported, as a program that uses it would.
const { default: contender } = await import(`../contenders/${name}.mjs`)
await contender.load()
const getToken = await contender.memoized(keyFile, endpoint)
const { accessToken } = await getToken()
if (!accessToken.startsWith('t1.')) process.exitCode = 1
// fs.writeSync, not process.stdout: making the stdout stream of a pipe costs a process ~5 ms.
writeSync(1, JSON.stringify(usage()) + '\n')

/** Peak RSS (KiB) and CPU time (user + system, all threads, ms) so far. */
function usage() {
  const u = process.resourceUsage()
  return { maxRssKiB: u.maxRSS, cpuMs: (u.userCPUTime + u.systemCPUTime) / 1000 }
}
