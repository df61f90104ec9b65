// One contender in its own process, driven by bench.mjs over IPC: node lib/worker.mjs <name>.
// The emulator runs in the parent, so it never shares this event loop.
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { byName } from '../contenders/index.mjs'
import { awaitLoop, lanes } from './stats.mjs'

const name = process.argv[2]
const baseline = name === 'baseline'
const contender = baseline ? undefined : byName(name)
const fns = new Map()

/** Factories run once per (kind, form): key import and the like are set-up, not measured. */
async function fnFor(kind, { keyFile, endpoint, form, keysFile }) {
  const id = `${kind}:${form ?? ''}`
  if (!fns.has(id)) {
    let fn
    if (kind === 'sign') fn = await contender.sign(keyFile)
    else if (kind === 'exchange') fn = await contender.exchange(keyFile, endpoint)
    else if (kind === 'memoized' && baseline) {
      // The floor of any JS memo: a token already in a resolved promise.
      const token = { accessToken: 't1.baseline', expiresAt: new Date(Date.now() + 3600e3), tokenType: 'Bearer' }
      const p = Promise.resolve(token)
      fn = form === 'async-fn' ? async () => p : () => p
    } else fn = await contender.memoized(keyFile, endpoint, form, { keysFile })
    fns.set(id, fn)
  }
  return fns.get(id)
}

/** Runs `body` with the event-loop delay histogram on; adds its p99 and max in ms. */
async function withLoopDelay(body) {
  const h = monitorEventLoopDelay({ resolution: 1 })
  h.enable()
  const result = await body()
  h.disable()
  return { ...result, loopP99Ms: h.percentile(99) / 1e6, loopMaxMs: h.max / 1e6 }
}

const ops = {
  async load() {
    const t0 = performance.now()
    if (contender) await contender.load()
    return { loadMs: performance.now() - t0 }
  },
  async sampleJwt(a) {
    return { jwt: await (await fnFor('sign', a))() }
  },
  async exchange(a) {
    const fn = await fnFor('exchange', a)
    return withLoopDelay(() => lanes(fn, a))
  },
  async sign(a) {
    const fn = await fnFor('sign', a)
    return withLoopDelay(() => lanes(fn, { ...a, yieldEach: true }))
  },
  async cached(a) {
    const fn = await fnFor('memoized', a)
    let first
    for (let i = 0; i < (fn.warmCalls ?? 1); i++) first = await fn() // fill the cache; not measured
    if (typeof first?.accessToken !== 'string') throw new Error('memoized call returned no accessToken')
    return awaitLoop(fn, a)
  },
}

process.on('message', async ({ id, op, args }) => {
  try {
    process.send({ id, ok: true, result: await ops[op](args ?? {}) })
  } catch (error) {
    process.send({ id, ok: false, error: String(error?.stack ?? error) })
  }
})
process.send({ ready: true })
