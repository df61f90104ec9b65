// Cold start of the same handler written without a library: node cold/context-pure-js.cjs.
// Reads context.token and builds what tokenFromContext answers. Prints its peak RSS and CPU time.
const handler = async (event, context) => {
  const { access_token: accessToken, expires_in: expiresIn, token_type: tokenType } = context.token
  const token = { accessToken, expiresAt: new Date(Date.now() + expiresIn * 1000), tokenType }
  return token.accessToken
}

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
