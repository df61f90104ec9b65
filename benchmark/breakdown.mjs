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

import { median } from './lib/stats.mjs'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const ROOT = path.resolve(HERE, '..')
const { startEmulator } = await import(pathToFileURL(path.join(ROOT, '__test__/emulator.mjs')).href)
const { generateAuthorizedKey, writeKeyFile } = await import(pathToFileURL(path.join(ROOT, '__test__/keys.mjs')).href)
const { makeTestCA } = await import(pathToFileURL(path.join(ROOT, '__test__/tls.mjs')).href)

const RUNS = Number(process.argv[2] ?? 15)
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
  Object.entries(process.env).filter(([k]) => !/^(https?|all|no)_proxy$/i.test(k) && k !== 'NODE_OPTIONS' && k !== 'SSL_CERT_FILE' && k !== 'SSL_CERT_DIR'),
)
const child = path.join(HERE, 'breakdown', 'child.cjs')
const children = {
  floor: { args: ['-e', ''] },
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
    p.on('close', (code) => (code === 0 ? resolve({ wallMs, marks: out ? JSON.parse(out) : {} }) : reject(new Error(`${args.join(' ')}: ${code}: ${err}`))))
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

const gap = (name, a, b) => median(results[name].map((x) => x.marks[b] - x.marks[a]))
const wall = (name) => median(results[name].map((x) => x.wallMs))
const at = (name, m) => median(results[name].map((x) => x.marks[m]))
const f = (x) => x.toFixed(2)

const floor = wall('floor')
const sign = gap('steps-http', 'firstJwt', 'secondJwt')
const rows = [
  ['`node -e \'\'` (the floor: start Node, exit)', f(floor), 'wall time of the process'],
  ['Node start to the first line of a CommonJS script', f(at('steps-http', 'start')), "performance.now() at the script's first line"],
  ["`require('yc-iam-token')`: index.js and lib/*.js, no native code", f(gap('steps-http', 'start', 'requireIndex')), ''],
  ['binding.js + dlopen of the .node + napi module init + tokio runtime start', f(gap('steps-http', 'requireIndex', 'binding')), "`require('../binding.js')`, what the first native call does"],
  ['  of which: `process.dlopen` of the .node alone (same work without binding.js)', f(at('dlopen', 'dlopen') - at('dlopen', 'start')), 'child `dlopen`'],
  ['key parsing (PEM → DER → aws-lc RSA key, checked)', f(gap('steps-http', 'secondJwt', 'otherKeyJwt') - sign), 'createJwt(another key) − createJwt(parsed key)'],
  ['first signature: one-time costs (DRBG seeding, CPU dispatch, first touch of the code)', f(gap('steps-http', 'readKey', 'firstJwt') - gap('steps-http', 'secondJwt', 'otherKeyJwt')), 'first createJwt − createJwt(another key)'],
  ['one RSA-2048 PS256 signature, warm', f(sign), 'createJwt(parsed key)'],
  ['HTTP client set-up + connection + request + answer, plain http (first token, key parsed)', f(gap('steps-http', 'otherKeyJwt', 'firstToken')), 'tokenFromKey, first call'],
  ['  of which: the same on the pooled connection (sign + request + answer)', f(gap('steps-http', 'firstToken', 'secondToken')), 'tokenFromKey cache: false, second call'],
  [`the same over HTTPS: TLS roots (${rootCount} certificates, SSL_CERT_FILE) + handshake`, f(gap('steps-https', 'otherKeyJwt', 'firstToken')), 'real IAM is https; not on plain http'],
  ['metadata: first token over plain http (HTTP client, connection, request)', f(gap('metadata', 'binding', 'firstToken')), 'tokenFromMetadata, first call'],
  ['  of which: the same on the pooled connection', f(gap('metadata', 'firstToken', 'secondToken')), 'tokenFromMetadata cache: false'],
  ['Node exit after the last await (key path, whole program)', f(wall('key-http') - at('key-http', 'firstToken')), 'wall time − last mark'],
  ['**key path as a program runs it** (`tokenFromKey(path)`), wall', f(wall('key-http')), `+${f(wall('key-http') - floor)} ms over the floor`],
]
const md = ['| phase | ms (median of ' + RUNS + ') | how |', '| --- | ---: | --- |', ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n')
process.stdout.write(md + '\n')
const jsonPath = path.join(HERE, 'results', 'breakdown.json')
fs.mkdirSync(path.dirname(jsonPath), { recursive: true })
fs.writeFileSync(jsonPath, JSON.stringify({ date: new Date().toISOString(), runs: RUNS, loadAverage: os.loadavg(), rows, results }, null, 2) + '\n')
