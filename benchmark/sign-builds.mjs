#!/usr/bin/env node
// Signing speed of builds of the addon, each beside crypto.sign in the same process:
//   node benchmark/sign-builds.mjs [--runs=N] [--ms=M] a.node b.node …
// Each run spawns one fresh process per build (builds take turns, a different one first each
// run); the process loads that .node with process.dlopen and alternates 4 slices of createJwt
// and 4 of crypto.sign (KeyObject, PSS, salt 32, the JWT built around it as
// contenders/node-crypto.mjs does), so both see the same machine load. Reports, per build, its
// size, the medians of createJwt/s and crypto.sign/s, and the median of their per-process ratio.
import { spawn } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

import { median, rotate } from './lib/stats.mjs'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const ROOT = path.resolve(HERE, '..')

if (process.argv[2] === '--child') {
  const [, , , nodeFile, keyFile, msArg] = process.argv
  const ms = Number(msArg)
  const m = { exports: {} }
  const t0 = performance.now()
  process.dlopen(m, path.resolve(nodeFile)) // map, relocate, napi init, tokio runtime start
  const dlopenMs = performance.now() - t0
  const key = JSON.parse(fs.readFileSync(keyFile, 'utf8'))
  const { default: nodeCrypto } = await import(pathToFileURL(path.join(HERE, 'contenders/node-crypto.mjs')).href)
  const cryptoSign = await nodeCrypto.sign(keyFile)
  const ours = () => m.exports.createJwt(key, undefined)
  const rate = (fn, sliceMs) => {
    let n = 0
    const t0 = performance.now()
    let t
    do {
      for (let i = 0; i < 10; i++) fn()
      n += 10
      t = performance.now()
    } while (t - t0 < sliceMs)
    return { n, ms: t - t0 }
  }
  rate(ours, 100)
  rate(cryptoSign, 100)
  const acc = { ours: { n: 0, ms: 0 }, crypto: { n: 0, ms: 0 } }
  for (let s = 0; s < 4; s++) {
    for (const [k, fn] of s % 2 ? [['crypto', cryptoSign], ['ours', ours]] : [['ours', ours], ['crypto', cryptoSign]]) {
      const r = rate(fn, ms / 8)
      acc[k].n += r.n
      acc[k].ms += r.ms
    }
  }
  const perSec = (x) => (x.n / x.ms) * 1000
  process.stdout.write(JSON.stringify({ ours: perSec(acc.ours), crypto: perSec(acc.crypto), dlopenMs }) + '\n')
  process.exit(0)
}

const runsArg = process.argv.find((a) => a.startsWith('--runs='))
const msArg = process.argv.find((a) => a.startsWith('--ms='))
const RUNS = runsArg ? Number(runsArg.slice(7)) : 7
const MS = msArg ? Number(msArg.slice(5)) : 2000
const builds = process.argv.slice(2).filter((a) => !a.startsWith('--'))
if (builds.length === 0) throw new Error('usage: node benchmark/sign-builds.mjs [--runs=N] [--ms=M] a.node b.node …')

const { generateAuthorizedKey, writeKeyFile } = await import(pathToFileURL(path.join(ROOT, '__test__/keys.mjs')).href)
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'yc-iam-token-sign-builds-'))
const keyFile = writeKeyFile(dir, generateAuthorizedKey({ bits: 2048 }).key, { name: 'key.json' })

const child = (nodeFile) =>
  new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [fileURLToPath(import.meta.url), '--child', nodeFile, keyFile, String(MS)], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    p.stdout.on('data', (d) => (out += d))
    p.on('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`${nodeFile}: exit ${code}`))))
  })

const per = Object.fromEntries(builds.map((b) => [b, []]))
for (let r = 0; r < RUNS; r++) {
  for (const b of rotate(builds, r)) per[b].push(await child(b))
  process.stderr.write(`sign-builds: run ${r + 1}/${RUNS}\n`)
}
fs.rmSync(dir, { recursive: true, force: true })
const rows = builds.map((b) => ({
  build: b,
  bytes: fs.statSync(b).size,
  sha256: crypto.createHash('sha256').update(fs.readFileSync(b)).digest('hex').slice(0, 12),
  createJwtPerSec: median(per[b].map((x) => x.ours)),
  cryptoSignPerSec: median(per[b].map((x) => x.crypto)),
  ratio: median(per[b].map((x) => x.ours / x.crypto)),
  dlopenMs: median(per[b].map((x) => x.dlopenMs)),
  runs: per[b],
}))
const fmt = (x) => Math.round(x).toLocaleString('en-US')
console.log(`${RUNS} runs × ${MS} ms per build; Node ${process.version} (OpenSSL ${process.versions.openssl}); load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}\n`)
console.log('| build | .node MB | dlopen + init ms | createJwt/s | crypto.sign/s (same processes) | × crypto.sign |')
console.log('| --- | ---: | ---: | ---: | ---: | ---: |')
for (const x of rows) console.log(`| ${path.basename(x.build)} | ${(x.bytes / 1e6).toFixed(2)} | ${x.dlopenMs.toFixed(2)} | ${fmt(x.createJwtPerSec)} | ${fmt(x.cryptoSignPerSec)} | ${x.ratio.toFixed(2)}× |`)
fs.mkdirSync(path.join(HERE, 'results'), { recursive: true })
fs.writeFileSync(path.join(HERE, 'results', 'sign-builds.json'), JSON.stringify({ date: new Date().toISOString(), runs: RUNS, ms: MS, rows }, null, 2) + '\n')
