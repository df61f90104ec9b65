// The package loads as users load it: require() from CommonJS and import from ESM.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { generateAuthorizedKey } from './keys.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))
const API = ['createJwt', 'getToken', 'tokenFromContext', 'tokenFromFederation', 'tokenFromKey', 'tokenFromMetadata', 'tokenProvider']

test('require() from CommonJS', () => {
  const pkg = createRequire(import.meta.url)('..')
  assert.deepEqual(Object.keys(pkg).sort(), API)
  for (const name of API) assert.equal(typeof pkg[name], 'function')
})

test('named imports from ESM; the namespace holds the API and no test hooks', async () => {
  const pkg = await import('../index.js')
  for (const name of API) assert.equal(typeof pkg[name], 'function')
  assert.equal(typeof pkg.default.tokenFromContext, 'function')
  assert.deepEqual(Object.keys(pkg).filter((name) => name !== 'default').sort(), API)
})

// How many distinct .node files the process has mapped (a file has a line per segment).
const nodeFilesMapped = `new Set(require('node:fs').readFileSync('/proc/self/maps', 'utf8').split('\\n').filter((l) => l.endsWith('.node')).map((l) => l.split(' ').pop())).size`

test('require maps no .node file; the first call that needs native code does', { skip: process.platform !== 'linux' }, () => {
  const script = `
    const pkg = require(${JSON.stringify(root)})
    const before = ${nodeFilesMapped}
    pkg.tokenFromContext({ token: { access_token: 't1.abc', expires_in: 60 } }).then(() => {
      const afterContext = ${nodeFilesMapped}
      try { pkg.createJwt({}) } catch {}
      console.log(JSON.stringify([before, afterContext, ${nodeFilesMapped}]))
    })`
  const [before, afterContext, afterJwt] = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }))
  assert.equal(before, 0, 'require mapped a .node file')
  assert.equal(afterContext, 0, 'tokenFromContext mapped a .node file')
  assert.equal(afterJwt, 1, 'createJwt loads the addon')
})

/** The package's JS files copied into a temporary folder: a package with no binary beside it. */
function copyWithoutBinary(t) {
  const dir = mkdtempSync(join(tmpdir(), 'yc-iam-token-nobinary-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const copy = join(dir, 'yc-iam-token')
  mkdirSync(join(copy, 'lib'), { recursive: true })
  for (const file of ['index.js', 'package.json']) writeFileSync(join(copy, file), readFileSync(join(root, file)))
  for (const file of readdirSync(join(root, 'lib'))) writeFileSync(join(copy, 'lib', file), readFileSync(join(root, 'lib', file)))
  return { dir, copy }
}

test('with the binary removed: tokenFromContext works, the others say ERR_NATIVE_BINDING_NOT_FOUND', (t) => {
  const { copy } = copyWithoutBinary(t)
  const script = `
    const pkg = require(${JSON.stringify(copy)})
    const out = {}
    pkg.tokenFromContext({ token: { access_token: 't1.abc', expires_in: 60 } })
      .then((t) => { out.context = t.accessToken })
      .then(() => pkg.tokenFromKey('/nowhere.json'))
      .catch((e) => { out.key = e.code })
      .then(() => { try { pkg.createJwt({}) } catch (e) { out.jwt = e.code; out.message = e.message } })
      .then(() => console.log(JSON.stringify(out)))`
  const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }))
  assert.equal(out.context, 't1.abc')
  assert.equal(out.key, 'ERR_NATIVE_BINDING_NOT_FOUND')
  assert.equal(out.jwt, 'ERR_NATIVE_BINDING_NOT_FOUND')
  assert.match(out.message, /yc-iam-token-linux-x64-gnu|no native binary/)
})

test('NAPI_RS_NATIVE_LIBRARY_PATH names the addon to load (napi-rs\'s override), in a copy without one', (t) => {
  const { dir, copy } = copyWithoutBinary(t)
  const binary = readdirSync(root).find((f) => f.endsWith('.node'))
  const script = `
    const pkg = require(${JSON.stringify(copy)})
    try { console.log(pkg.createJwt(${JSON.stringify(JSON.stringify(generateAuthorizedKey().key))}).split('.').length) } catch (e) { console.log(e.code) }`
  const jwt = (path) => execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...process.env, NAPI_RS_NATIVE_LIBRARY_PATH: path } }).trim()
  assert.equal(jwt(join(root, binary)), '3')
  assert.equal(jwt(join(dir, 'nowhere.node')), 'ERR_NATIVE_BINDING_NOT_FOUND')
  // A relative path is the package folder's, as napi-rs's loader takes it.
  writeFileSync(join(copy, 'custom.node'), readFileSync(join(root, binary)))
  assert.equal(jwt('./custom.node'), '3')
})

test('a build in the package folder that fails to load gives way to the platform package', { skip: !readdirSync(root).some((f) => f.endsWith('.linux-x64-gnu.node')) }, (t) => {
  const { dir, copy } = copyWithoutBinary(t)
  const binary = 'yc-iam-token.linux-x64-gnu.node'
  writeFileSync(join(copy, binary), 'not an ELF file') // say, a clone's build for a newer glibc
  const script = `
    const pkg = require(${JSON.stringify(copy)})
    try { console.log(pkg.createJwt(${JSON.stringify(JSON.stringify(generateAuthorizedKey().key))}).split('.').length) } catch (e) { console.log(e.code, e.cause?.constructor.name) }`
  const jwt = () => execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', cwd: dir }).trim()
  assert.equal(jwt(), 'ERR_NATIVE_BINDING_NOT_FOUND AggregateError', 'both failures are kept')
  const platform = join(dir, 'node_modules', 'yc-iam-token-linux-x64-gnu')
  mkdirSync(platform, { recursive: true })
  writeFileSync(join(platform, 'package.json'), JSON.stringify({ name: 'yc-iam-token-linux-x64-gnu', version: '0.1.0', main: binary }))
  writeFileSync(join(platform, binary), readFileSync(join(root, binary)))
  assert.equal(jwt(), '3')
})

test('require by name loads no part of the ESM loader (no `exports` map: on Node 20 it costs ~1.5 ms)', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'yc-iam-token-byname-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  mkdirSync(join(dir, 'node_modules', 'empty'), { recursive: true })
  writeFileSync(join(dir, 'node_modules', 'empty', 'package.json'), '{"name":"empty","main":"index.js"}')
  writeFileSync(join(dir, 'node_modules', 'empty', 'index.js'), '')
  symlinkSync(root, join(dir, 'node_modules', 'yc-iam-token'), 'dir')
  // After a package with nothing in it: what any require loads (on Node 18, the ESM loader
  // itself) is loaded by then; what is left is what this package's require adds.
  const script = `
    require('empty')
    const before = new Set(process.moduleLoadList)
    require('yc-iam-token')
    console.log(JSON.stringify(process.moduleLoadList.filter((m) => !before.has(m))))`
  const loaded = JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: dir, encoding: 'utf8' }))
  assert.deepEqual(loaded.filter((m) => m.includes('modules/esm')), [])
})

test('by package name, from a .cjs and an .mjs file', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'yc-iam-token-module-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  mkdirSync(join(dir, 'node_modules'))
  symlinkSync(root, join(dir, 'node_modules', 'yc-iam-token'), 'dir')
  const context = "{ token: { access_token: 't1.abc', expires_in: 60 } }"
  writeFileSync(
    join(dir, 'handler.cjs'),
    `const { tokenFromContext } = require('yc-iam-token')\ntokenFromContext(${context}).then((t) => console.log(t.accessToken))\n`,
  )
  writeFileSync(
    join(dir, 'handler.mjs'),
    `import { tokenFromContext } from 'yc-iam-token'\nconsole.log((await tokenFromContext(${context})).accessToken)\n`,
  )
  for (const file of ['handler.cjs', 'handler.mjs']) {
    const out = execFileSync(process.execPath, [join(dir, file)], { cwd: dir, encoding: 'utf8' })
    assert.equal(out.trim(), 't1.abc', file)
  }
})

test('a handler\'s getToken({ context }) loads index.js of the package and nothing else', () => {
  const script = `
    const pkg = require(${JSON.stringify(root)})
    pkg.getToken({ context: { token: { access_token: 't1.abc', expires_in: 60 } } }).then((t) => {
      const ours = Object.keys(require.cache).filter((f) => f.startsWith(${JSON.stringify(root)})).map((f) => f.slice(${root.length}))
      console.log(JSON.stringify({ source: t.source, ours: ours.sort() }))
    })`
  const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...process.env, NODE_DEBUG: '' } }))
  assert.equal(out.source, 'context')
  assert.deepEqual(out.ours, ['index.js'])
})
