// Cold start of a program that takes its token from an authorized key file with this package,
// as a user writes it: node cold/key-yc-iam-token.cjs <keyFile> <endpoint>. The same work as
// `cold/run.mjs yc-iam-token` without the harness's ES module and contender indirection.
// Prints its peak RSS and CPU time.
const { tokenFromKey } = require('yc-iam-token') // benchmark/node_modules/yc-iam-token: a link to the repository

const [keyFile, endpoint] = process.argv.slice(2)
tokenFromKey(keyFile, { endpoint }).then(({ accessToken }) => {
  if (!accessToken.startsWith('t1.')) process.exitCode = 1
  // fs.writeSync, not process.stdout: making the stdout stream of a pipe costs a process ~5 ms.
  require('node:fs').writeSync(1, JSON.stringify(usage()) + '\n')
})

/** Peak RSS (KiB) and CPU time (user + system, all threads, ms) so far. */
function usage() {
  const u = process.resourceUsage()
  return { maxRssKiB: u.maxRSS, cpuMs: (u.userCPUTime + u.systemCPUTime) / 1000 }
}
