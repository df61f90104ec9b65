// Cold start on a VM or in a function with a service account: the first token from the metadata
// service with this package. node cold/metadata-yc-iam-token.cjs, with YC_METADATA_ADDR set to
// the emulator's host:port (as on a VM it is 169.254.169.254). Prints its peak RSS and CPU time.
const { tokenFromMetadata } = require('../..') // i.e. require('yc-iam-token')

tokenFromMetadata().then(({ accessToken }) => {
  if (!accessToken.startsWith('t1.')) process.exitCode = 1
  process.stdout.write(JSON.stringify(usage()) + '\n')
})

/** Peak RSS (KiB) and CPU time (user + system, all threads, ms) so far. */
function usage() {
  const u = process.resourceUsage()
  return { maxRssKiB: u.maxRSS, cpuMs: (u.userCPUTime + u.systemCPUTime) / 1000 }
}
