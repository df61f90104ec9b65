// One fresh process of benchmark/breakdown.mjs: node breakdown/child.cjs <mode> <args JSON>.
// Prints its marks as one JSON line: performance.now() (ms since the process started) and the
// process's CPU time (user + system, all threads, ms) at each.
// Modes:
//   steps     the key path, phase by phase (each phase's one-time cost is the gap between marks)
//   key       tokenFromKey alone, as a program calls it (the sum the steps must add up to)
//   metadata  tokenFromMetadata, phase by phase
//   dlopen    the .node file through process.dlopen alone (no loader)
//   noop      nothing (the exit of an empty script, to subtract)
const fs = require('node:fs')
const path = require('node:path')

const cpuMs = () => {
  const { user, system } = process.cpuUsage()
  return (user + system) / 1000
}
const marks = { start: performance.now() }
const cpu = { start: cpuMs() }
const mark = (name) => {
  marks[name] = performance.now()
  cpu[name] = cpuMs()
}
const [mode, argsJson] = process.argv.slice(2)
const args = JSON.parse(argsJson ?? '{}')
const ROOT = path.resolve(__dirname, '..', '..')

async function main() {
  if (mode === 'noop') return
  if (mode === 'dlopen') {
    const file = fs.readdirSync(ROOT).find((f) => f.endsWith(`.${process.platform}-${process.arch}-gnu.node`))
    const m = { exports: {} }
    process.dlopen(m, path.join(ROOT, file))
    mark('dlopen')
    return
  }
  const lib = require('yc-iam-token') // benchmark/node_modules/yc-iam-token: index.js, no native code yet
  mark('requireIndex')
  if (mode === 'key') {
    await lib.tokenFromKey(args.keyFile, { endpoint: args.endpoint })
    mark('firstToken')
    return
  }
  // What the first native call does, step by step: lib/native.js, then the addon; lib/memo.js
  // (and node:diagnostics_channel) load once its request is on its way.
  const testing = lib[Symbol.for('yc-iam-token.testing')]
  testing.loadNativeJs()
  mark('nativeJs')
  testing.addon()
  mark('addon')
  testing.memoSizes()
  require('node:diagnostics_channel')
  mark('binding')
  if (mode === 'metadata') {
    await lib.tokenFromMetadata()
    mark('firstToken')
    await lib.tokenFromMetadata({ cache: false })
    mark('secondToken')
    return
  }
  const key = JSON.parse(fs.readFileSync(args.keyFile, 'utf8'))
  mark('readKey')
  lib.createJwt(key) // key parsing + first signature (+ the DRBG's and CPU dispatch's first use)
  mark('firstJwt')
  lib.createJwt(key) // the parsed key is kept: one signature
  mark('secondJwt')
  lib.createJwt(JSON.parse(fs.readFileSync(args.otherKeyFile, 'utf8'))) // another key: parsing + a signature
  mark('otherKeyJwt')
  await lib.tokenFromKey(key, { endpoint: args.endpoint }) // HTTP client, connection, request (key parsed, signer warm)
  mark('firstToken')
  await lib.tokenFromKey(key, { endpoint: args.endpoint, cache: false }) // the same on the pooled connection
  mark('secondToken')
}

main().then(() => fs.writeSync(1, JSON.stringify({ marks, cpu }) + '\n'))
