#!/usr/bin/env node
// Adds to package-lock.json the per-platform optional packages that npm left out of it.
//
// Why: the npm registry this project is developed against serves only the linux-x64 builds of
// per-platform packages (those of @napi-rs/cli's own native helpers among them). npm then
// leaves the other platforms' optional packages out of package-lock.json, and `npm ci`
// refuses the lock ("Missing: … from lock file"). Each missing entry is written as npm writes
// it for a package of another platform (version, os, cpu, libc, optional); npm skips such
// entries on other machines and fetches them where they fit. Run it after `npm install`.
//   node scripts/complete-lockfile.mjs [path/to/package-lock.json]
import { readFileSync, writeFileSync } from 'node:fs'

const file = process.argv[2] ?? 'package-lock.json'
const lock = JSON.parse(readFileSync(file, 'utf8'))
const OS = { android: 'android', darwin: 'darwin', freebsd: 'freebsd', linux: 'linux', win32: 'win32', wasm32: null }
const CPU = ['arm64', 'arm', 'x64', 'ia32', 'ppc64', 'riscv64', 's390x', 'wasm32']

/** os / cpu / libc of a platform package, from its napi-rs style name suffix. */
function platformOf(name) {
  const parts = name.split('/').pop().split('-')
  const os = parts.find((p) => p in OS)
  const cpu = parts.find((p) => CPU.includes(p))
  const fields = {}
  if (os && OS[os]) fields.os = [OS[os]]
  if (cpu) fields.cpu = [cpu]
  if (parts.includes('gnu') || parts.includes('gnueabihf')) fields.libc = ['glibc']
  if (parts.includes('musl')) fields.libc = ['musl']
  return fields
}

let added = 0
for (const entry of Object.values({ ...lock.packages })) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const path = `node_modules/${name}`
    if (lock.packages[path]) continue
    lock.packages[path] = { version, ...(entry.dev ? { dev: true } : {}), optional: true, ...platformOf(name) }
    added++
  }
}
writeFileSync(file, JSON.stringify(lock, null, 2) + '\n')
console.log(`complete-lockfile: ${added} platform package entries added to ${file}`)
