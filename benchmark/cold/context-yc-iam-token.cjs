// Cold start of a Cloud Functions handler that takes its token from the context with this
// package: node cold/context-yc-iam-token.cjs. Prints its peak RSS and CPU time on stdout.
const { tokenFromContext } = require('../..') // i.e. require('yc-iam-token')

const handler = async (event, context) => {
  const token = await tokenFromContext(context)
  return token.accessToken
}

// What Cloud Functions passes a handler whose function version has a service account.
const context = { token: { access_token: 't1.9euelZqcold-start-context-token', expires_in: 43200, token_type: 'Bearer' } }
handler({}, context).then((accessToken) => {
  if (!accessToken.startsWith('t1.')) process.exitCode = 1
  process.stdout.write(JSON.stringify(usage()) + '\n')
})

/** Peak RSS (KiB) and CPU time (user + system, all threads, ms) so far. */
function usage() {
  const u = process.resourceUsage()
  return { maxRssKiB: u.maxRSS, cpuMs: (u.userCPUTime + u.systemCPUTime) / 1000 }
}
