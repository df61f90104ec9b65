// Cold start of a Cloud Functions handler that takes its token from the context with this
// package: node cold/context-yc-iam-token.cjs. Prints its peak RSS and CPU time on stdout.
const { tokenFromContext } = require('yc-iam-token') // benchmark/node_modules/yc-iam-token: a link to the repository

const handler = async (event, context) => {
  const token = await tokenFromContext(context)
  return token.accessToken
}

// What Cloud Functions passes a handler whose function version has a service account.
const context = { token: { access_token: 't1.9euelZqcold-start-context-token', expires_in: 43200, token_type: 'Bearer' } }
handler({}, context).then((accessToken) => {
  if (!accessToken.startsWith('t1.')) process.exitCode = 1
  // fs.writeSync, not process.stdout: making the stdout stream of a pipe costs a process ~5 ms.
  require('node:fs').writeSync(1, JSON.stringify(usage()) + '\n')
})

/** Peak RSS (KiB) and CPU time (user + system, all threads, ms) so far. */
function usage() {
  const u = process.resourceUsage()
  return { maxRssKiB: u.maxRSS, cpuMs: (u.userCPUTime + u.systemCPUTime) / 1000 }
}
