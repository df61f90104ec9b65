// Small numeric helpers.
export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const n = s.length
  if (n === 0) return NaN
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2
}
export const min = (xs) => Math.min(...xs)
export const max = (xs) => Math.max(...xs)

/** Rotates `xs` by `r`: run r starts with a different contender, so none always goes first. */
export const rotate = (xs, r) => xs.map((_, i) => xs[(i + r) % xs.length])

/** Lanes of `fn` calls, bounded in time and count; returns completed calls per second. */
export async function lanes(fn, { concurrency = 1, durationMs, maxCount, yieldEach = false }) {
  const yieldToLoop = () => new Promise((resolve) => setImmediate(resolve))
  let started = 0
  let count = 0
  const t0 = performance.now()
  const end = t0 + durationMs
  async function lane() {
    while (started < maxCount && performance.now() < end) {
      started++
      await fn()
      count++
      if (yieldEach) await yieldToLoop()
    }
  }
  await Promise.all(Array.from({ length: concurrency }, lane))
  const elapsedMs = performance.now() - t0
  return { count, elapsedMs, perSec: (count / elapsedMs) * 1000 }
}

/** `await fn()` in a tight loop, in batches of `batch`, until `durationMs` or `maxCalls`. */
export async function awaitLoop(fn, { durationMs, maxCalls, batch = 1000 }) {
  let calls = 0
  const t0 = performance.now()
  let t = t0
  do {
    for (let i = 0; i < batch; i++) await fn()
    calls += batch
    t = performance.now()
  } while (t - t0 < durationMs && calls < maxCalls)
  return { calls, elapsedMs: t - t0, nsPerCall: ((t - t0) * 1e6) / calls }
}

/** Memory and threads of this process. */
export async function processSnapshot() {
  const { readFile } = await import('node:fs/promises')
  const status = await readFile('/proc/self/status', 'utf8').catch(() => '')
  const threads = Number(/^Threads:\s+(\d+)/m.exec(status)?.[1] ?? NaN)
  const m = process.memoryUsage()
  const MiB = 1024 * 1024
  return {
    rssMiB: m.rss / MiB,
    heapUsedMiB: m.heapUsed / MiB,
    externalMiB: m.external / MiB,
    threads,
  }
}
