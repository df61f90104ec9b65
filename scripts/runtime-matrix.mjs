#!/usr/bin/env node
// The runtime matrix: the package as users install it (the packed main tarball plus this
// machine's platform package), loaded by require() and by import in every runtime we claim,
// each getting a token by every source from the local emulator on 127.0.0.1.
//
//   node scripts/runtime-matrix.mjs [--only node16,bun,...] [--refresh] [--timeout-ms 60000] [--json] [--keep] [--install-only]
//
// Runtimes come from the npm registry as packages that carry the real binary in their tarball
// (no install script, nothing downloaded from elsewhere): node-linux-<arch> for Node.js,
// @oven/bun-linux-<arch> for Bun, @deno/linux-<arch>-glibc for Deno. They are kept in a cache
// shared by every clone: $YC_IAM_TOKEN_RUNTIMES, else $XDG_CACHE_HOME/yc-iam-token/runtimes,
// else ~/.cache/yc-iam-token/runtimes, one folder per package@version; --refresh installs
// them again. The versions are pinned below: bump them here.
//
// Build the addon first (npm run build, or npm run build:dist). Exits 1 when any runtime fails
// any check; prints one table row per runtime, then what failed and why.
import { execFile as execFileCb } from 'node:child_process'
import crypto from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { homedir, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

import { startEmulator } from '../__test__/emulator.mjs'
import { packAndInstall, platform } from './packed.mjs'
import { generateAuthorizedKey, stripPleaseLine } from '../__test__/keys.mjs'

const execFile = promisify(execFileCb)
const root = resolve(fileURLToPath(new URL('..', import.meta.url)))
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
const started = Date.now()

// ---- arguments ----
const argv = process.argv.slice(2)
const flag = (name) => {
  const i = argv.indexOf(name)
  return i >= 0 ? (argv.splice(i, 1), true) : false
}
const value = (name, fallback) => {
  const i = argv.indexOf(name)
  return i >= 0 ? argv.splice(i, 2)[1] : fallback
}
const refresh = flag('--refresh')
const asJson = flag('--json')
const keep = flag('--keep')
// Only fetch the runtimes into the cache (then the matrix itself can run with no network).
const installOnly = flag('--install-only')
const childTimeoutMs = Number(value('--timeout-ms', '60000'))
const only = value('--only', process.env.RUNTIME_MATRIX_ONLY ?? '')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean)
if (argv.length > 0) {
  console.error(`runtime-matrix: unknown arguments ${argv.join(' ')}`)
  process.exit(2)
}

// ---- the runtimes ----
const abi = platform.endsWith('-gnu') ? '-gnu' : platform.endsWith('-musl') ? '-musl' : ''
const linuxGnu = process.platform === 'linux' && abi === '-gnu' && ['x64', 'arm64'].includes(process.arch)
const hasAvx2 = () => {
  try {
    return /\bavx2\b/.test(readFileSync('/proc/cpuinfo', 'utf8'))
  } catch {
    return true
  }
}
const bunArch = process.arch === 'arm64' ? 'aarch64' : `x64${hasAvx2() ? '' : '-baseline'}`

// Deno: the fewest permissions with which the package loads and every source works.
// --allow-ffi: loading a Node-API addon is FFI. --allow-env: lib/native.js reads
// NAPI_RS_* and getToken reads YC_*. --allow-read=/usr/bin/ldd: lib/native.js tells glibc from
// musl by reading it; without it, it looks for musl's loader (/lib/ld-musl-*), else takes glibc.
// The addon's own file reads (key paths) and sockets are native code, which Deno's permissions
// do not see: no --allow-read for key files, no --allow-net.
// RUNTIME_MATRIX_DENO_FLAGS (space-separated) tries another set.
export const DENO_FLAGS = process.env.RUNTIME_MATRIX_DENO_FLAGS?.split(/\s+/).filter(Boolean) ?? ['--allow-ffi', '--allow-env', '--allow-read=/usr/bin/ldd']

const RUNTIMES = [
  ...['16.20.2', '18.20.8', '22.23.5', '24.22.3'].map((version) => ({
    id: `node${version.split('.')[0]}`,
    kind: 'node',
    version,
    pkg: `node-linux-${process.arch}`,
    bin: 'bin/node',
    versionArgs: ['--version'],
  })),
  { id: 'node-host', kind: 'node', host: true },
  { id: 'bun', kind: 'bun', version: '1.4.5', pkg: `@oven/bun-linux-${bunArch}`, bin: 'bin/bun', versionArgs: ['--version'] },
  { id: 'deno', kind: 'deno', version: '2.9.6', pkg: `@deno/linux-${process.arch}-glibc`, bin: 'deno', versionArgs: ['--version'] },
].filter((rt) => only.length === 0 || only.includes(rt.id))
if (RUNTIMES.length === 0) {
  console.error(`runtime-matrix: --only ${only.join(',')} matches no runtime`)
  process.exit(2)
}

const cacheRoot =
  process.env.YC_IAM_TOKEN_RUNTIMES ??
  join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'yc-iam-token', 'runtimes')

// A clean environment for every child: no proxies (the emulator is on 127.0.0.1), no
// NODE_OPTIONS from the caller, no update checks, no colours in messages.
function childEnv(extra) {
  const env = { PATH: process.env.PATH, HOME: process.env.HOME ?? homedir(), LANG: 'C.UTF-8', NO_COLOR: '1' }
  if (process.env.SYSTEMROOT) env.SYSTEMROOT = process.env.SYSTEMROOT
  return { ...env, DENO_NO_UPDATE_CHECK: '1', DENO_NO_PROMPT: '1', NO_PROXY: '*', ...extra }
}

/** Installs rt.pkg@rt.version into the shared cache (once) and returns the binary's path. */
async function ensureRuntime(rt) {
  if (rt.host) return process.execPath
  if (!linuxGnu) throw new Error(`downloaded runtimes are wired for Linux glibc x64/arm64 only, not ${platform}`)
  const dir = join(cacheRoot, `${rt.pkg.replace('/', '+')}@${rt.version}`)
  const bin = join(dir, 'node_modules', rt.pkg, rt.bin)
  if (!refresh && existsSync(join(dir, '.complete')) && existsSync(bin)) return bin
  mkdirSync(cacheRoot, { recursive: true })
  // Install into a scratch folder, then rename into place: two clones installing at once
  // never see a half-written runtime.
  const scratch = mkdtempSync(join(cacheRoot, '.install-'))
  try {
    writeFileSync(join(scratch, 'package.json'), JSON.stringify({ name: 'runtime', private: true }))
    await execFile(
      npm,
      ['install', '--no-save', '--no-package-lock', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error', `${rt.pkg}@${rt.version}`],
      { cwd: scratch, timeout: 600_000, killSignal: 'SIGKILL', maxBuffer: 16 << 20 },
    )
    const tmpBin = join(scratch, 'node_modules', rt.pkg, rt.bin)
    await execFile(tmpBin, rt.versionArgs, { timeout: 30_000, env: childEnv({}) })
    writeFileSync(join(scratch, '.complete'), `${rt.pkg}@${rt.version}\n`)
    rmSync(dir, { recursive: true, force: true })
    try {
      renameSync(scratch, dir)
    } catch (error) {
      if (!existsSync(join(dir, '.complete'))) throw error // else another clone won the race
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true })
  }
  return bin
}

/** The runtime's own version string. */
async function versionOf(rt, bin) {
  if (rt.host) return process.version.slice(1)
  const { stdout } = await execFile(bin, rt.versionArgs, { timeout: 30_000, env: childEnv({}) })
  return stdout.trim().split('\n')[0].replace(/^v/, '').replace(/^deno /, '').replace(/ \(.*$/, '')
}

// ---- the probe: the same checks, once through require() and once through import ----
// It runs inside the runtime under test (Node 16 included), so it keeps to old syntax, and it
// prints one line, PROBE_RESULT <json>, then returns: the process must exit by itself.
async function probe(pkg, mode) {
  const cfg = JSON.parse(process.env.PROBE_CONFIG)
  const results = { mode, exports: Object.keys(pkg).sort() }
  const describe = (e) => (e && e.code ? e.code + ': ' : '') + String(e && e.message).slice(0, 300)
  const step = async (name, fn) => {
    try {
      results[name] = { ok: true, value: await fn() }
    } catch (e) {
      results[name] = { ok: false, error: describe(e) }
    }
  }
  const shape = (t) => {
    if (!(t.expiresAt instanceof Date) || Number.isNaN(t.expiresAt.getTime())) throw new Error('expiresAt is not a valid Date')
    if (t.tokenType !== 'Bearer') throw new Error('tokenType is not Bearer')
    return t.accessToken
  }
  const opts = { endpoint: cfg.iamUrl, cache: false, timeoutMs: 10000 }
  await step('keyObject', async () => shape(await pkg.tokenFromKey(cfg.key, opts)))
  await step('keyPath', async () => shape(await pkg.tokenFromKey(cfg.keyPath, opts)))
  // YC_METADATA_ADDR comes from the environment the runtime was started with.
  await step('metadata', async () => shape(await pkg.tokenFromMetadata({ cache: false, timeoutMs: 10000 })))
  await step('context', async () =>
    shape(await pkg.tokenFromContext({ token: { access_token: cfg.contextToken, expires_in: 3600, token_type: 'Bearer' } })),
  )
  await step('createJwt', async () => pkg.createJwt(cfg.key, { audience: cfg.iamUrl }))
  // getToken reads YC_SERVICE_ACCOUNT_KEY_FILE in JavaScript: set here, at run time.
  await step('getToken', async () => {
    process.env.YC_SERVICE_ACCOUNT_KEY_FILE = cfg.keyPath
    try {
      const t = await pkg.getToken({ endpoint: cfg.iamUrl, cache: false, timeoutMs: 10000 })
      return { source: t.source, token: shape(t) }
    } finally {
      delete process.env.YC_SERVICE_ACCOUNT_KEY_FILE
    }
  })
  // Does a process.env write made at run time reach the native side (which reads
  // YC_METADATA_ADDR with getenv)? The started-with value points at the first emulator, this
  // one at the second: the token says which the addon asked.
  await step('envAtRuntime', async () => {
    process.env.YC_METADATA_ADDR = cfg.metadataAddr2
    try {
      return shape(await pkg.tokenFromMetadata({ cache: false, timeoutMs: 10000 }))
    } finally {
      process.env.YC_METADATA_ADDR = cfg.metadataAddr
    }
  })
  console.log('PROBE_RESULT ' + JSON.stringify(results))
}

function writeProbes(project) {
  const names = ['tokenFromKey', 'tokenFromMetadata', 'tokenFromContext', 'createJwt', 'getToken']
  writeFileSync(
    join(project, 'probe.cjs'),
    `'use strict'\nconst pkg = require('yc-iam-token')\n${probe.toString()}\nprobe(pkg, 'cjs').catch((e) => { console.error(e); process.exitCode = 1 })\n`,
  )
  writeFileSync(
    join(project, 'probe.mjs'),
    `import { ${names.join(', ')} } from 'yc-iam-token'\nimport * as namespace from 'yc-iam-token'\n${probe.toString()}\n` +
      `if (typeof namespace.default?.tokenFromKey !== 'function') throw new Error('no default export with the API')\n` +
      `await probe({ ${names.join(', ')} }, 'esm')\n`,
  )
  // Loads the package and nothing else: for the Deno permission checks.
  // require() loads no native code: createJwt is the first call that does.
  writeFileSync(join(project, 'load.cjs'), `const { createJwt } = require('yc-iam-token')\ntry { createJwt({}) } catch (e) { if (e.code === 'ERR_INVALID_KEY') console.log('LOADED'); else console.log(e.message) }\n`)
}

function commandFor(rt, bin, file, denoFlags = DENO_FLAGS) {
  if (rt.kind === 'deno') return [bin, ['run', '--no-prompt', ...denoFlags, file]]
  if (rt.kind === 'bun') return [bin, ['run', file]]
  return [bin, [file]]
}

async function runChild(rt, bin, file, project, env, denoFlags) {
  const [cmd, args] = commandFor(rt, bin, file, denoFlags)
  const t0 = Date.now()
  try {
    const { stdout, stderr } = await execFile(cmd, args, {
      cwd: project,
      env,
      timeout: childTimeoutMs,
      killSignal: 'SIGKILL',
      maxBuffer: 4 << 20,
      encoding: 'utf8',
    })
    return { ok: true, stdout, stderr, ms: Date.now() - t0 }
  } catch (error) {
    const timedOut = error.killed === true || error.signal === 'SIGKILL'
    return {
      ok: false,
      stdout: error.stdout ?? '',
      stderr: error.stderr ?? '',
      ms: Date.now() - t0,
      error: timedOut ? `did not exit within ${childTimeoutMs} ms` : `exit ${error.code ?? error.signal}`,
    }
  }
}

// ---- checking what a probe answered ----
function verifyJwt(jwt, key, audience) {
  const parts = String(jwt).split('.')
  if (parts.length !== 3) return 'not a three-part JWT'
  const header = JSON.parse(Buffer.from(parts[0], 'base64url'))
  const claims = JSON.parse(Buffer.from(parts[1], 'base64url'))
  if (header.alg !== 'PS256' || header.kid !== key.id) return `header ${JSON.stringify(header)}`
  if (claims.iss !== key.service_account_id || claims.aud !== audience) return 'iss or aud wrong'
  const ok = crypto.verify(
    'sha256',
    Buffer.from(`${parts[0]}.${parts[1]}`),
    { key: crypto.createPublicKey(stripPleaseLine(key.private_key)), padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
    Buffer.from(parts[2], 'base64url'),
  )
  return ok ? null : 'signature does not verify'
}

const SOURCES = ['keyObject', 'keyPath', 'metadata', 'context', 'createJwt', 'getToken']

/** Per source: null when it passed, else why not. envAtRuntime: 'yes' | 'no' | why it broke. */
function judge(result, ctx) {
  const issued = (emu, field) => new Set(emu.requests.filter((r) => r.response?.[field]).map((r) => r.response[field]))
  const iam = issued(ctx.emu, 'iamToken')
  const md = issued(ctx.emu, 'access_token')
  const md2 = issued(ctx.emu2, 'access_token')
  const verdict = {}
  const check = (name, fn) => {
    const r = result[name]
    if (!r) verdict[name] = 'not run'
    else if (!r.ok) verdict[name] = r.error
    else verdict[name] = fn(r.value)
  }
  check('keyObject', (v) => (iam.has(v) ? null : 'the token is not one the emulator issued'))
  check('keyPath', (v) => (iam.has(v) ? null : 'the token is not one the emulator issued'))
  check('metadata', (v) => (md.has(v) ? null : 'the token is not one the metadata emulator issued'))
  check('context', (v) => (v === ctx.contextToken ? null : 'not the context token'))
  check('createJwt', (v) => verifyJwt(v, ctx.key, ctx.emu.iamUrl))
  check('getToken', (v) =>
    v.source !== 'YC_SERVICE_ACCOUNT_KEY_FILE' ? `source ${v.source}` : iam.has(v.token) ? null : 'the token is not one the emulator issued',
  )
  const r = result.envAtRuntime
  verdict.envAtRuntime = !r ? 'not run' : !r.ok ? r.error : md2.has(r.value) ? 'yes' : md.has(r.value) ? 'no' : 'a token from nowhere'
  return verdict
}

// ---- the run ----
async function main() {
  if (installOnly) {
    for (const rt of RUNTIMES) console.log(`runtime-matrix: ${rt.id} at ${await ensureRuntime(rt)}`)
    return 0
  }
  const work = mkdtempSync(join(tmpdir(), 'yc-iam-token-matrix-'))
  const rows = []
  const problems = []
  let emu, emu2
  try {
    // The runtimes download while the package is packed.
    const installs = RUNTIMES.map((rt) => ensureRuntime(rt).then((bin) => ({ bin }), (error) => ({ error })))
    const { project } = packAndInstall(work)
    writeProbes(project)
    emu = await startEmulator()
    emu2 = await startEmulator()
    const { key } = generateAuthorizedKey()
    emu.registerKey(key)
    const keyPath = join(project, 'key.json')
    writeFileSync(keyPath, JSON.stringify(key, null, 2))
    const contextToken = 't1.context-' + crypto.randomBytes(12).toString('base64url')
    const ctx = { emu, emu2, key, contextToken }
    const env = childEnv({
      YC_METADATA_ADDR: emu.metadataAddr,
      PROBE_CONFIG: JSON.stringify({
        iamUrl: emu.iamUrl,
        key,
        keyPath,
        contextToken,
        metadataAddr: emu.metadataAddr,
        metadataAddr2: emu2.metadataAddr,
      }),
      DENO_DIR: join(work, 'deno-dir'),
    })

    for (let i = 0; i < RUNTIMES.length; i++) {
      const rt = RUNTIMES[i]
      const row = { runtime: rt.id, version: rt.version ?? process.version.slice(1), load: {}, sources: {}, envAtRuntime: {}, ms: 0 }
      rows.push(row)
      const install = await installs[i]
      if (install.error) {
        row.failed = true
        row.version = `${rt.version} (not installed)`
        problems.push(`${rt.id}: install ${rt.pkg}@${rt.version}: ${install.error.message.split('\n')[0]}`)
        continue
      }
      row.version = await versionOf(rt, install.bin).catch((e) => `? (${e.message.split('\n')[0]})`)
      for (const mode of ['cjs', 'esm']) {
        const out = await runChild(rt, install.bin, `probe.${mode === 'cjs' ? 'cjs' : 'mjs'}`, project, env)
        row.ms += out.ms
        const line = out.stdout.split('\n').find((l) => l.startsWith('PROBE_RESULT '))
        if (!out.ok || !line) {
          row.failed = true
          row.load[mode] = 'FAIL'
          const why = out.error ?? 'printed no result'
          const tail = (out.stderr || out.stdout).trim().split('\n').slice(-6).join('\n      ')
          problems.push(`${rt.id} ${mode}: ${why}${tail ? `\n      ${tail}` : ''}`)
          if (!line) continue
        } else {
          row.load[mode] = 'ok'
        }
        const result = JSON.parse(line.slice('PROBE_RESULT '.length))
        const verdict = judge(result, ctx)
        for (const source of SOURCES) {
          ;(row.sources[source] ??= {})[mode] = verdict[source]
          if (verdict[source] !== null) {
            row.failed = true
            problems.push(`${rt.id} ${mode} ${source}: ${verdict[source]}`)
          }
        }
        row.envAtRuntime[mode] = verdict.envAtRuntime
      }
      if (rt.kind === 'deno') row.denoFlags = await denoMinimality(rt, install.bin, project, env)
    }
  } finally {
    await emu?.close()
    await emu2?.close()
    if (keep) console.error(`runtime-matrix: kept ${work}`)
    else rmSync(work, { recursive: true, force: true })
  }
  report(rows, problems)
  return rows.some((r) => r.failed) ? 1 : 0
}

/** Deno: whether each of DENO_FLAGS is needed (the native addon fails to load without it). */
async function denoMinimality(rt, bin, project, env) {
  const loads = async (flags) => {
    const out = await runChild(rt, bin, 'load.cjs', project, env, flags)
    return out.ok && out.stdout.includes('LOADED')
  }
  if (!(await loads(DENO_FLAGS))) return undefined // nothing to learn: it fails with all of them
  const needed = {}
  for (const dropped of DENO_FLAGS) {
    needed[dropped] = !(await loads(DENO_FLAGS.filter((f) => f !== dropped)))
  }
  return needed
}

function cell(byMode) {
  if (!byMode) return '-'
  const failed = ['cjs', 'esm'].filter((m) => byMode[m] !== null)
  return failed.length === 0 ? 'ok' : failed.length === 2 ? 'FAIL' : `FAIL ${failed[0]}`
}

function report(rows, problems) {
  if (asJson) {
    console.log(JSON.stringify({ rows, problems, denoFlags: DENO_FLAGS }, null, 2))
  }
  const header = ['runtime', 'version', 'require', 'import', 'key object', 'key path', 'metadata', 'context', 'createJwt', 'getToken', 'env write seen natively', 'time']
  const table = rows.map((r) => [
    r.runtime,
    r.version,
    r.load.cjs ?? '-',
    r.load.esm ?? '-',
    ...SOURCES.map((s) => cell(r.sources[s])),
    [...new Set(Object.values(r.envAtRuntime))].join('/') || '-',
    `${(r.ms / 1000).toFixed(1)} s`,
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => String(row[i]).length)))
  const line = (cells) => `| ${cells.map((c, i) => String(c).padEnd(widths[i])).join(' | ')} |`
  console.log(line(header))
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`)
  for (const row of table) console.log(line(row))
  const deno = rows.find((r) => r.denoFlags)
  if (deno) {
    const unneeded = Object.entries(deno.denoFlags).filter(([, n]) => !n).map(([f]) => f)
    console.log(`\nDeno flags: ${DENO_FLAGS.join(' ')}${unneeded.length ? ` (works without ${unneeded.join(', ')} too: drop it)` : ' (each one needed)'}`)
  }
  const unseen = rows.filter((r) => Object.values(r.envAtRuntime).includes('no')).map((r) => r.runtime)
  if (unseen.length) {
    console.log(`Note: in ${unseen.join(', ')}, process.env writes made at run time do not reach the addon (it reads YC_METADATA_ADDR, proxies and SSL_CERT_FILE with getenv); variables set before the process starts do.`)
  }
  if (problems.length) console.log(`\nFailures:\n  ${problems.join('\n  ')}`)
  const failed = rows.filter((r) => r.failed).length
  console.log(`\n${rows.length - failed} passed, ${failed} failed (${((Date.now() - started) / 1000).toFixed(0)} s; runtimes cached in ${cacheRoot})`)
}

process.exitCode = await main().catch((error) => {
  console.error(`runtime-matrix: ${error.stack ?? error}`)
  return 1
})
