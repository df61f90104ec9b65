#!/usr/bin/env node
// Where the key and metadata paths' milliseconds above `node -e ''` go. From the repository root:
//   node benchmark/breakdown.mjs [runs]        (default 15 runs of each child, interleaved)
// Each child (breakdown/child.cjs) is a fresh process that marks performance.now() between the
// phases of a cold start; the table is the median gap per phase. IAM and the metadata service are
// __test__/emulator.mjs on 127.0.0.1, over plain HTTP and, for the TLS row, over HTTPS with a
// test CA appended to the system's roots (SSL_CERT_FILE), so that the roots loaded are as many
// as on a real machine.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

import { linkAsInstalled } from './lib/installed.mjs'
import { median } from './lib/stats.mjs'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const ROOT = path.resolve(HERE, '..')
const { startEmulator } = await import(pathToFileURL(path.join(ROOT, '__test__/emulator.mjs')).href)
const { generateAuthorizedKey, writeKeyFile } = await import(pathToFileURL(path.join(ROOT, '__test__/keys.mjs')).href)
const { makeTestCA } = await import(pathToFileURL(path.join(ROOT, '__test__/tls.mjs')).href)

const RUNS = Number(process.argv[2] ?? 15)
linkAsInstalled()
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'yc-iam-token-breakdown-'))
const ca = makeTestCA(path.join(dir, 'ca'))
const SYSTEM_ROOTS = '/etc/ssl/certs/ca-certificates.crt'
const bundle = path.join(dir, 'roots.pem')
fs.writeFileSync(bundle, (fs.existsSync(SYSTEM_ROOTS) ? fs.readFileSync(SYSTEM_ROOTS, 'utf8') : '') + ca.caPem)
const rootCount = (fs.readFileSync(bundle, 'utf8').match(/BEGIN CERTIFICATE/g) ?? []).length

const emu = await startEmulator()
const temu = await startEmulator({ tls: ca })
const keys = [generateAuthorizedKey().key, generateAuthorizedKey().key]
for (const k of keys) (emu.registerKey(k), temu.registerKey(k))
const [keyFile, otherKeyFile] = keys.map((k, i) => writeKeyFile(dir, k, { name: `key-${i}.json` }))

const baseEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !/^(https?|all|no)_proxy$/i.test(k) && !['NODE_OPTIONS', 'NODE_EXTRA_CA_CERTS', 'SSL_CERT_FILE', 'SSL_CERT_DIR'].includes(k)),
)
const child = path.join(HERE, 'breakdown', 'child.cjs')
const children = {
  floor: { args: ['-e', ''] },
  noop: { args: [child, 'noop'] },
  dlopen: { args: [child, 'dlopen'] },
  'steps-http': { args: [child, 'steps', JSON.stringify({ keyFile, otherKeyFile, endpoint: emu.iamUrl })] },
  'steps-https': { args: [child, 'steps', JSON.stringify({ keyFile, otherKeyFile, endpoint: temu.iamUrl })], env: { SSL_CERT_FILE: bundle } },
  'key-http': { args: [child, 'key', JSON.stringify({ keyFile, endpoint: emu.iamUrl })] },
  metadata: { args: [child, 'metadata', '{}'], env: { YC_METADATA_ADDR: emu.metadataAddr } },
}

function run({ args, env }) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now()
    const p = spawn(process.execPath, args, { env: { ...baseEnv, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    p.stdout.on('data', (d) => (out += d))
    p.stderr.on('data', (d) => (err += d))
    let wallMs
    p.on('exit', () => (wallMs = performance.now() - t0))
    p.on('close', (code) => (code === 0 ? resolve({ wallMs, ...(out ? JSON.parse(out) : { marks: {}, cpu: {} }) }) : reject(new Error(`${args.join(' ')}: ${code}: ${err}`))))
  })
}

const results = Object.fromEntries(Object.keys(children).map((k) => [k, []]))
const names = Object.keys(children)
for (let r = -1; r < RUNS; r++) {
  for (let i = 0; i < names.length; i++) {
    const name = names[(i + Math.max(r, 0)) % names.length]
    const res = await run(children[name])
    if (r >= 0) results[name].push(res) // run -1 warms the file cache
  }
  if (r >= 0) process.stderr.write(`breakdown: run ${r + 1}/${RUNS}\r`)
}
process.stderr.write('\n')
const bad = emu.requests.concat(temu.requests).filter((q) => q.status !== 200)
if (bad.length) throw new Error(`the emulator refused ${bad.length} requests`)
await emu.close()
await temu.close()
fs.rmSync(dir, { recursive: true, force: true })

// Each phase as [wall ms, CPU ms]: the median over the runs of the gap between two marks.
const gap = (name, a, b) => ['marks', 'cpu'].map((k) => median(results[name].map((x) => x[k][b] - x[k][a])))
const at = (name, m) => ['marks', 'cpu'].map((k) => median(results[name].map((x) => x[k][m])))
const wall = (name) => median(results[name].map((x) => x.wallMs))
const minus = (a, b) => a.map((x, i) => x - b[i])
const exitAfter = (name, last) => median(results[name].map((x) => x.wallMs - x.marks[last]))

const floor = wall('floor')
const sign = gap('steps-http', 'firstJwt', 'secondJwt')
const parse = minus(gap('steps-http', 'secondJwt', 'otherKeyJwt'), sign)
const rows = [
  ["Node start to the first line of a CommonJS script (empty script's)", at('noop', 'start'), "performance.now() and CPU time at the script's first line"],
  ["`require('yc-iam-token')` by name: package.json, index.js", gap('steps-http', 'start', 'requireIndex'), 'no native code yet'],
  ['lib/native.js', gap('steps-http', 'requireIndex', 'nativeJs'), 'what the first call that needs the addon loads first'],
  ['the addon: its loader (libc check) + dlopen of the .node + napi module init + tokio runtime start', gap('steps-http', 'nativeJs', 'addon'), 'then'],
  ['  of which: `process.dlopen` of the .node alone', minus(at('dlopen', 'dlopen'), at('dlopen', 'start')), 'the rest: the loader finding the file'],
  ['lib/memo.js, node:diagnostics_channel', gap('steps-http', 'addon', 'binding'), "a program's first call loads them once its request is on its way"],
  ['key parsing (PEM → DER → aws-lc RSA key, checked)', parse, 'createJwt(another key) − createJwt(parsed key)'],
  ['first signature: one-time costs (DRBG seeding, CPU dispatch, first touch of the code)', minus(minus(gap('steps-http', 'readKey', 'firstJwt'), parse), sign), 'first createJwt − parsing − a warm signature'],
  ['one RSA-2048 PS256 signature, warm', sign, 'createJwt(parsed key)'],
  ['HTTP client set-up + connection + request + answer, plain http (first token; key parsed, signer warm)', gap('steps-http', 'otherKeyJwt', 'firstToken'), 'tokenFromKey, first call'],
  ['  of which: the same on the pooled connection (sign + request + answer)', gap('steps-http', 'firstToken', 'secondToken'), 'tokenFromKey cache: false, second call'],
  [`the same first token over HTTPS: + TLS roots (${rootCount} certificates) + handshake`, gap('steps-https', 'otherKeyJwt', 'firstToken'), 'real IAM is https; plain http (the emulator, the metadata service) loads no roots'],
  ['metadata: first token over plain http (HTTP client, connection, request)', gap('metadata', 'binding', 'firstToken'), 'tokenFromMetadata, first call'],
  ['  of which: the same on the pooled connection', gap('metadata', 'firstToken', 'secondToken'), 'tokenFromMetadata cache: false'],
]
const f = (x) => x.toFixed(2)
const exitExtra = exitAfter('key-http', 'firstToken') - exitAfter('noop', 'start')
const keyWall = wall('key-http')
const header = `| phase | wall ms | CPU ms | how |\n| --- | ---: | ---: | --- |`
const lines = rows.map(([what, [w, c], how]) => `| ${what} | ${f(w)} | ${f(c)} | ${how} |`)
lines.push(`| exit after the last await, more than an empty script's | ${f(exitExtra)} | — | (wall − last mark), key path − empty script |`)
lines.push(`| **the key path as a program runs it** (\`tokenFromKey(keyFilePath)\`): floor \`node -e ''\` ${f(floor)} ms | ${f(keyWall)} | ${f(median(results['key-http'].map((x) => x.cpu.firstToken)))} | +${f(keyWall - floor)} ms wall over the floor (${(keyWall / floor).toFixed(3)}×) |`)
const md = [`Medians of ${RUNS} runs; load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}.`, '', header, ...lines].join('\n')
process.stdout.write(md + '\n')
const jsonPath = path.join(HERE, 'results', 'breakdown.json')
fs.mkdirSync(path.dirname(jsonPath), { recursive: true })
fs.writeFileSync(jsonPath, JSON.stringify({ date: new Date().toISOString(), runs: RUNS, loadAverage: os.loadavg(), rows, results }, null, 2) + '\n')
