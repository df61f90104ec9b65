#!/usr/bin/env node
// Fails when a Linux gnu binary needs a glibc newer than the baseline (2.17, as old runtimes
// have): "GLIBC_2.3x not found" is the most common napi-rs bug report.
//   node scripts/check-glibc.mjs [file.node] [--max 2.17]
import { execFileSync } from 'node:child_process'
import { readdirSync } from 'node:fs'

const args = process.argv.slice(2)
const maxIndex = args.indexOf('--max')
const max = maxIndex >= 0 ? args.splice(maxIndex, 2)[1] : '2.17'
const files = args.length > 0 ? args : readdirSync('.').filter((f) => /\.linux-(x64|arm64)-gnu\.node$/.test(f))
if (files.length === 0) {
  console.error('check-glibc: no linux gnu .node file to check; build first (npm run build:dist)')
  process.exit(1)
}

const parse = (v) => v.split('.').map(Number)
const newer = (a, b) => {
  const [x, y] = [parse(a), parse(b)]
  for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) > (y[i] ?? 0)
  return false
}

let failed = false
for (const file of files) {
  const symbols = execFileSync('objdump', ['-T', file], { encoding: 'utf8', maxBuffer: 64 << 20 })
  const versions = [...new Set(symbols.match(/GLIBC_[0-9.]+/g) ?? [])].map((v) => v.slice(6))
  const highest = versions.reduce((a, b) => (newer(b, a) ? b : a), '0')
  const tooNew = versions.filter((v) => newer(v, max))
  if (tooNew.length > 0) {
    failed = true
    console.error(`check-glibc: ${file} needs GLIBC_${highest}, newer than ${max} (${tooNew.map((v) => 'GLIBC_' + v).join(', ')})`)
  } else {
    console.log(`check-glibc: ${file} needs at most GLIBC_${highest} (baseline ${max}): ok`)
  }
}
process.exit(failed ? 1 : 0)
