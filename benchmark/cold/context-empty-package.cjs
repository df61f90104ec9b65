// Cold start of the pure-JS handler that also requires a package with nothing in it
// (fixtures/empty-package, linked into node_modules by lib/installed.mjs): what any package's
// `require` adds to a cold start. node cold/context-empty-package.cjs. context-pure-js.cjs and
// one line: the handlers repeat themselves rather than share a module, which would be one more
// file each measured process loads. Prints its peak RSS and CPU time.
require('empty-package')
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
