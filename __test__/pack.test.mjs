// The real install path: pack the main package and this machine's platform package, install
// both tarballs offline into a fresh project, and use the package there as users do.
import assert from 'node:assert/strict'
import { execFile as execFileCb } from 'node:child_process'
import { cpSync, existsSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { before, test } from 'node:test'
import { promisify } from 'node:util'

import { binary, packAndInstall, platform, root } from '../scripts/packed.mjs'
import { registeredKey, suiteEmulator, suiteTempDir } from './support.mjs'

const execFile = promisify(execFileCb)
const work = suiteTempDir('yc-iam-token-pack-')
const emu = await suiteEmulator()
const { key } = registeredKey(emu)
let project

/** Bytes and files under a folder. */
function footprint(dir) {
  let bytes = 0
  let files = 0
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) {
      files++
      bytes += statSync(join(entry.parentPath ?? entry.path, entry.name)).size
    }
  }
  return { bytes, files }
}

before(() => {
  let mainTgz
  ;({ project, mainTgz } = packAndInstall(work))
  assert.ok(!mainTgz.files.some((f) => f.path.endsWith('.node')), 'the main package carries no binary')
  writeFileSync(join(project, 'key.json'), JSON.stringify(key))
})

const run = (file, env = {}) =>
  execFile(process.execPath, [file], { cwd: project, env: { ...process.env, IAM_URL: emu.iamUrl, ...env }, encoding: 'utf8' })

test('installed: what it weighs', () => {
  const main = footprint(join(project, 'node_modules', 'yc-iam-token'))
  const native = footprint(join(project, 'node_modules', `yc-iam-token-${platform}`))
  const binaryBytes = statSync(join(project, 'node_modules', `yc-iam-token-${platform}`, binary)).size
  console.log(`# installed: yc-iam-token ${main.bytes} B in ${main.files} files; yc-iam-token-${platform} ${native.bytes} B in ${native.files} files; ${binary} ${binaryBytes} B`)
  // index.js and lib/ (3 modules), types, the CLI, README, LICENSE, package.json; the platform
  // package's binary, package.json and README.
  assert.ok(main.files + native.files <= 13, `${main.files + native.files} files`)
})

test('installed: require() from CommonJS gets a token from the emulator', async () => {
  writeFileSync(
    join(project, 'main.cjs'),
    `const { tokenFromKey } = require('yc-iam-token')
     tokenFromKey('./key.json', { endpoint: process.env.IAM_URL }).then((t) => console.log(t.accessToken.slice(0, 3), t.expiresAt instanceof Date))`,
  )
  const { stdout } = await run('main.cjs')
  assert.equal(stdout.trim(), 't1. true')
})

test('installed: import from ESM', async () => {
  writeFileSync(
    join(project, 'main.mjs'),
    `import { tokenFromContext, tokenFromKey } from 'yc-iam-token'
     const a = await tokenFromContext({ token: { access_token: 't1.ctx', expires_in: 60 } })
     const b = await tokenFromKey(process.env.KEY_JSON, { endpoint: process.env.IAM_URL })
     console.log(a.accessToken, b.tokenType)`,
  )
  const { stdout } = await run('main.mjs', { KEY_JSON: JSON.stringify(key) })
  assert.equal(stdout.trim(), 't1.ctx Bearer')
})

test('installed: a TypeScript handler type-checks against the package', async () => {
  writeFileSync(
    join(project, 'handler.ts'),
    `import { tokenFromContext, type IamToken } from 'yc-iam-token'
     interface Context { requestId: string; token?: { access_token: string; expires_in: number; token_type: string } }
     export const handler = async (_event: unknown, context: Context): Promise<{ statusCode: number; body: string }> => {
       const token: IamToken = await tokenFromContext(context)
       return { statusCode: 200, body: token.expiresAt.toISOString() }
     }`,
  )
  writeFileSync(
    join(project, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: { strict: true, noEmit: true, module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', typeRoots: [join(root, 'node_modules', '@types')], types: ['node'] },
      files: ['handler.ts'],
    }),
  )
  await execFile(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: project })
})

test('installed: the command line prints a token', async () => {
  const { stdout } = await execFile(join(project, 'node_modules', '.bin', 'yc-iam-token'), ['--key', 'key.json', '--endpoint', emu.iamUrl], {
    cwd: project,
    encoding: 'utf8',
  })
  assert.match(stdout, /^t1\.\S+\n$/)
})

test('without the platform package: an error that names the platform, the package and what to do', async () => {
  const platformPkg = join(project, 'node_modules', `yc-iam-token-${platform}`)
  const aside = join(work, 'aside')
  cpSync(platformPkg, aside, { recursive: true })
  rmSync(platformPkg, { recursive: true })
  try {
    // require() loads no native code, so it works; the first call that needs the binary says
    // what is missing (tokenFromKey as a rejection, createJwt as a throw), and the context works.
    writeFileSync(
      join(project, 'load.cjs'),
      `const pkg = require('yc-iam-token')
       pkg.tokenFromContext({ token: { access_token: 't1.abc', expires_in: 60 } }).then(async (t) => {
         const rejected = await pkg.tokenFromKey('./key.json').catch((e) => e)
         let thrown
         try { pkg.createJwt('./key.json') } catch (e) { thrown = e }
         console.log(JSON.stringify({ context: t.accessToken, code: rejected.code, thrownCode: thrown?.code, message: rejected.message }))
       })`,
    )
    const { stdout } = await run('load.cjs')
    const { context, code, thrownCode, message } = JSON.parse(stdout)
    assert.equal(context, 't1.abc')
    assert.equal(code, 'ERR_NATIVE_BINDING_NOT_FOUND')
    assert.equal(thrownCode, 'ERR_NATIVE_BINDING_NOT_FOUND')
    assert.ok(message.includes(platform), message)
    assert.ok(message.includes(`yc-iam-token-${platform}`), message)
    assert.match(message, /npm (install|i)/)
    assert.match(message, /optional/)
  } finally {
    cpSync(aside, platformPkg, { recursive: true })
  }
  assert.ok(existsSync(join(platformPkg, binary)))
})
