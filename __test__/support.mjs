// What the suites share, in one place: the emulator, the test keys, the recording proxy and the
// test CA (re-exported from their own modules, which the benchmark, the soak run, the demo and
// the fixtures import directly), and the helpers and hooks every suite would otherwise write
// again. The package itself comes from ./package.mjs: it is what is tested, not a helper.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, beforeEach } from 'node:test'
import { fileURLToPath } from 'node:url'
import { inspect } from 'node:util'

import { METADATA_PATH, startEmulator } from './emulator.mjs'
import { generateAuthorizedKey } from './keys.mjs'

export * from './emulator.mjs'
export * from './keys.mjs'
export { startProxy } from './proxy.mjs'
export { makeTestCA } from './tls.mjs'

/** The package's version, as its User-Agent and `--version` give it. */
export const VERSION = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version

/** The path of a file in __test__/fixtures. */
export const fixture = (name) => fileURLToPath(new URL(`fixtures/${name}`, import.meta.url))

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls `cond` (it may be async) every 20 ms, for at most `ms`; returns its last value. */
export async function until(cond, ms = 3000) {
  const end = Date.now() + ms
  let value = await cond()
  while (!value && Date.now() < end) {
    await sleep(20)
    value = await cond()
  }
  return value
}

// ---- suite hooks: call them at the top of a suite (await where async), before its first test() ----

/**
 * The suite's emulator (`tls` as startEmulator takes it): started now, closed after the last
 * test. Before each test, with `reset`, it is reset; with `clearCache`, it is reset and the
 * package's token cache is emptied too.
 */
export async function suiteEmulator({ tls, reset = false, clearCache = false } = {}) {
  const emu = await startEmulator(tls ? { tls } : undefined)
  after(() => emu.close())
  if (reset || clearCache) {
    beforeEach(async () => {
      emu.reset()
      // Imported here, not above: suites that never touch the cache do not load the package.
      if (clearCache) (await import('./package.mjs'))._testing.clearCache()
    })
  }
  return emu
}

/** A temporary folder (under the OS's, named `prefix…`): made now, removed after the last test. */
export function suiteTempDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** Every unhandledRejection reason in this process from now until the last test. */
export function unhandledRejections() {
  const reasons = []
  const record = (reason) => reasons.push(reason)
  process.on('unhandledRejection', record)
  after(() => process.off('unhandledRejection', record))
  return reasons
}

/**
 * A new authorized key registered with the emulator (or each of an array of emulators); returns
 * generateAuthorizedKey's { key, privateKeyPem, publicKeyPem }, `opts` as it takes them.
 */
export function registeredKey(emulators, opts) {
  const generated = generateAuthorizedKey(opts)
  for (const emu of [emulators].flat()) emu.registerKey(generated.key)
  return generated
}

/** POSTs `{ jwt }` to the emulator's IAM endpoint; resolves { status, headers, text, json }. */
export async function postJwt(emu, jwt, init = {}) {
  const res = await fetch(emu.iamUrl, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jwt }), ...init,
  })
  const text = await res.text()
  let json
  try { json = JSON.parse(text) } catch {}
  return { status: res.status, headers: res.headers, text, json }
}

/** The last request of `kind` ('iam', 'metadata', 'other') the emulator recorded. */
export const lastRequest = (emu, kind) => emu.requests.filter((r) => r.kind === kind).at(-1)

// ---- rejections and the errors they carry ----

const labelled = (label, text) => (label ? `${label}: ${text}` : text)

/** Calls `fn` and checks that it returned a promise rather than throwing; returns the promise. */
export function promiseFrom(fn, label = '') {
  let promise
  assert.doesNotThrow(() => { promise = fn() }, labelled(label, 'threw synchronously'))
  assert.ok(promise instanceof Promise, labelled(label, 'did not return a promise'))
  return promise
}

/** The Error that `promise` rejects with; fails if it resolves, or rejects with a non-Error. */
export async function rejection(promise, label = '') {
  const error = await promise.then(
    (value) => assert.fail(labelled(label, `expected a rejection, resolved with ${inspect(value)}`)),
    (e) => e,
  )
  assert.ok(error instanceof Error, labelled(label, `expected a rejection with an Error, got ${inspect(error)}`))
  return error
}

/** rejection(), with `code`. */
export async function rejectsWith(promise, code, label = '') {
  const error = await rejection(promise, label)
  assert.equal(error.code, code, labelled(label, `code ${error.code}, message: ${error.message}`))
  return error
}

/** None of `secrets` (strings or RegExps) is in the error's message, stack or util.inspect. */
export function assertHides(error, secrets, label = '') {
  const texts = { message: error.message, stack: error.stack, inspect: inspect(error) }
  for (const [where, text] of Object.entries(texts)) {
    for (const secret of secrets) {
      const found = typeof secret === 'string' ? text.includes(secret) : secret.test(text)
      assert.ok(!found, labelled(label, `${secret} in the error's ${where}: ${text}`))
    }
  }
}

// ---- the yc CLI: its config and a stand-in for it ----

/** A value as YAML (mappings and strings only, as `yc` writes its config; multi-line strings as `|` blocks). */
export function toYaml(value, indent = '') {
  if (typeof value !== 'object' || value === null) throw new TypeError('toYaml: a mapping')
  return Object.entries(value)
    .map(([name, v]) => {
      if (typeof v === 'object' && v !== null) return `${indent}${name}:\n${toYaml(v, indent + '  ')}`
      const text = String(v)
      if (text.includes('\n')) {
        const body = text.replace(/\n$/, '').split('\n').map((line) => `${indent}  ${line}`).join('\n')
        return `${indent}${name}: |\n${body}\n`
      }
      return `${indent}${name}: ${JSON.stringify(text)}\n`
    })
    .join('')
}

/** Writes `config` (an object, or YAML text as it is) as `home`/.config/yandex-cloud/config.yaml; returns its path. */
export function writeYcConfig(home, config) {
  const dir = join(home, '.config', 'yandex-cloud')
  mkdirSync(dir, { recursive: true })
  const file = join(dir, 'config.yaml')
  writeFileSync(file, typeof config === 'string' ? config : toYaml(config))
  return file
}

/**
 * A stand-in `yc` in `dir`/bin: a shell script with `body` (it sees yc's arguments as "$@"; it
 * writes them, one a line, to `dir`/yc-args and its pid to `dir`/yc-pid). Returns the bin folder,
 * for PATH.
 */
export function fakeYc(dir, body) {
  const bin = join(dir, 'bin')
  mkdirSync(bin, { recursive: true })
  const file = join(bin, 'yc')
  writeFileSync(file, `#!/bin/sh\nprintf '%s\\n' "$@" > '${dir}/yc-args'\necho $$ > '${dir}/yc-pid'\n${body}\n`)
  chmodSync(file, 0o755)
  return bin
}

// ---- processes and sockets ----

/**
 * Runs `node file …args` with `env` (default: this process's) and resolves, once it has
 * closed, { code, signal, stdout, stderr, exitedAt, json }: `exitedAt` the Date.now() of its
 * exit, `json` its last line of stdout parsed (undefined if that is not JSON). After `timeoutMs`
 * it is killed (SIGKILL) and `timedOut` is true.
 */
export function runNode(file, { args = [], env = process.env, timeoutMs = 15_000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    let exitedAt
    let timedOut = false
    child.stdout.on('data', (c) => (stdout += c))
    child.stderr.on('data', (c) => (stderr += c))
    const timer = setTimeout(() => {
      timedOut = true
      child.kill('SIGKILL')
    }, timeoutMs)
    child.on('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.on('exit', () => (exitedAt = Date.now()))
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      let json
      try { json = JSON.parse(stdout.trim().split('\n').at(-1)) } catch {}
      resolve({ code, signal, stdout, stderr, exitedAt, json, timedOut })
    })
  })
}

/** A server on 127.0.0.1 that accepts connections and never answers. */
export async function startBlackHole() {
  const sockets = new Set()
  let connections = 0
  const server = net.createServer((s) => {
    connections++
    sockets.add(s)
    s.on('error', () => {})
    s.on('close', () => sockets.delete(s))
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address()
  return {
    port,
    metadataUrl: `http://127.0.0.1:${port}${METADATA_PATH}`,
    get connections() { return connections },
    async close() {
      for (const s of sockets) s.destroy()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}
