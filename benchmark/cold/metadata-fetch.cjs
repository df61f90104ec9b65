// The same without a library: Node's global fetch to the metadata service, as a user writes it.
// node cold/metadata-fetch.cjs, with YC_METADATA_ADDR set. Prints its peak RSS and CPU time.
const url = `http://${process.env.YC_METADATA_ADDR}/computeMetadata/v1/instance/service-accounts/default/token`

fetch(url, { headers: { 'Metadata-Flavor': 'Google' } })
  .then((res) => {
    if (!res.ok) throw new Error(`metadata service answered ${res.status}`)
    return res.json()
  })
  .then((body) => {
    const token = { accessToken: body.access_token, expiresAt: new Date(Date.now() + body.expires_in * 1000), tokenType: 'Bearer' }
    if (!token.accessToken.startsWith('t1.')) process.exitCode = 1
    // fs.writeSync, not process.stdout: making the stdout stream of a pipe costs a process ~5 ms.
    require('node:fs').writeSync(1, JSON.stringify(usage()) + '\n')
  })

/** Peak RSS (KiB) and CPU time (user + system, all threads, ms) so far. */
function usage() {
  const u = process.resourceUsage()
  return { maxRssKiB: u.maxRSS, cpuMs: (u.userCPUTime + u.systemCPUTime) / 1000 }
}
