#!/usr/bin/env node
// Soak: 1,000,000 cached calls and 10,000 uncached exchanges against the local emulator,
// printing RSS every 10 %. RSS must level off (no leak).
//   node scripts/soak.mjs [--cached N] [--uncached N]
import { parseArgs } from 'node:util'

import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

import { generateAuthorizedKey } from '../__test__/keys.mjs'
import { createJwt, tokenFromKey, tokenFromMetadata } from '../index.js'

const { values } = parseArgs({ options: { cached: { type: 'string', default: '1000000' }, uncached: { type: 'string', default: '10000' } } })
const CACHED = Number(values.cached)
const UNCACHED = Number(values.uncached)
const mb = () => (process.memoryUsage().rss / 2 ** 20).toFixed(1)
const heap = () => (process.memoryUsage().heapUsed / 2 ** 20).toFixed(1)
// With --expose-gc, a full collection before each reading, so RSS shows what is really held.
const gcIfExposed = () => globalThis.gc?.()

// The emulator runs in its own process, so that RSS here is the client's alone.
const { key } = generateAuthorizedKey()
const emulatorScript = fileURLToPath(new URL('../__test__/emulator-process.mjs', import.meta.url))
const child = spawn(process.execPath, [emulatorScript], { env: { ...process.env, KEY_JSON: JSON.stringify(key) }, stdio: ['pipe', 'pipe', 'inherit'] })
const [line] = await once(createInterface({ input: child.stdout }), 'line')
const emu = JSON.parse(line)
const options = { endpoint: emu.iamUrl }
console.log(`start: RSS ${mb()} MB`)

/** `total` calls of `call`, `lanes` at a time, printing RSS after every 10 %. */
async function phase(name, total, lanes, call) {
  const rss = []
  const started = performance.now()
  let next = 0
  let reported = 0
  const lane = async () => {
    while (next < total) {
      next++
      await call()
      if (next >= ((reported + 1) * total) / 10 && reported < 10) {
        reported++
        gcIfExposed()
        rss.push(mb())
      }
    }
  }
  await Promise.all(Array.from({ length: lanes }, lane))
  const seconds = (performance.now() - started) / 1000
  console.log(`${name}: ${total} calls, ${lanes} in flight, ${seconds.toFixed(1)} s; RSS every 10 %: ${rss.join(' → ')} MB`)
}

await tokenFromKey(key, options)
await tokenFromMetadata({ endpoint: emu.metadataUrl })
await phase('cached tokenFromKey', CACHED, 1, () => tokenFromKey(key, options))
await phase('cached tokenFromMetadata', CACHED, 1, () => tokenFromMetadata({ endpoint: emu.metadataUrl }))
await phase('createJwt', UNCACHED, 1, async () => createJwt(key))
await phase('uncached tokenFromKey', UNCACHED, 16, () => tokenFromKey(key, { ...options, cache: false }))
console.log(`end: RSS ${mb()} MB, JS heap ${heap()} MB`)
child.stdin.end()
