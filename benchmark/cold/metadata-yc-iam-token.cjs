// Cold start on a VM or in a function with a service account: the first token from the metadata
// service with this package. node cold/metadata-yc-iam-token.cjs, with YC_METADATA_ADDR set to
// the emulator's host:port (as on a VM it is 169.254.169.254). Prints its peak RSS and CPU time.
const { tokenFromMetadata } = require('yc-iam-token') // benchmark/node_modules/yc-iam-token: a link to the repository

tokenFromMetadata().then(({ accessToken }) => {
  if (!accessToken.startsWith('t1.')) process.exitCode = 1
  // fs.writeSync, not process.stdout: making the stdout stream of a pipe costs a process ~5 ms.
  require('node:fs').writeSync(1, JSON.stringify(usage()) + '\n')
})

/** Peak RSS (KiB) and CPU time (user + system, all threads, ms) so far. */
function usage() {
  const u = process.resourceUsage()
  return { maxRssKiB: u.maxRSS, cpuMs: (u.userCPUTime + u.systemCPUTime) / 1000 }
}
