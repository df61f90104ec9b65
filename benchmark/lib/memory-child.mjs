// Memory and threads of a fresh process: node lib/memory-child.mjs <name|floor> keyFile endpoint cached uncached
// Prints one JSON line: after load + first token, after `cached` memoized calls plus
// `uncached` exchanges (16 in flight), and after a forced GC (with node --expose-gc).
import { byName } from '../contenders/index.mjs'
import { lanes, processSnapshot } from './stats.mjs'

const [name, keyFile, endpoint, cachedArg, uncachedArg] = process.argv.slice(2)
const out = {}
if (name === 'floor') {
  out.afterLoad = await processSnapshot()
} else {
  const c = byName(name)
  await c.load()
  const get = await c.memoized(keyFile, endpoint)
  await get()
  out.afterLoad = await processSnapshot()
  const cached = Number(cachedArg)
  const uncached = Number(uncachedArg)
  for (let i = 0; i < cached; i++) await get()
  const exchange = await c.exchange(keyFile, endpoint)
  const r = await lanes(exchange, { concurrency: 16, durationMs: 120_000, maxCount: uncached })
  if (r.count !== uncached) throw new Error(`only ${r.count} of ${uncached} exchanges within 120 s`)
  out.afterWork = await processSnapshot()
  // What stays once garbage is collected (the process runs with --expose-gc; gc() is called
  // only here, after the measure above).
  if (typeof globalThis.gc === 'function') {
    globalThis.gc()
    await new Promise((resolve) => setTimeout(resolve, 50))
    globalThis.gc()
    out.afterGc = await processSnapshot()
  }
}
process.stdout.write(JSON.stringify(out) + '\n')
