// The package as users get it: the main package and this machine's platform package (as
// `napi create-npm-dirs` lays it out, with the binary built here), packed with npm and
// installed offline into a fresh project. Used by __test__/pack.test.mjs and the runtime matrix.
import { execFileSync } from 'node:child_process'
import { copyFileSync, cpSync, existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const root = fileURLToPath(new URL('..', import.meta.url))
const abi = process.platform === 'linux' ? (process.report.getReport().header.glibcVersionRuntime ? '-gnu' : '-musl') : ''
/** This machine's napi-rs platform name, e.g. linux-x64-gnu. */
export const platform = `${process.platform}-${process.arch}${abi}`
export const binary = `yc-iam-token.${platform}.node`
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'

/** Packs both packages into `work` and installs them into `work/app`; returns what it made. */
export function packAndInstall(work) {
  if (!existsSync(join(root, binary))) {
    throw new Error(`no ${binary} in ${root}: build first (npm run build, or npm run build:dist)`)
  }
  const quiet = { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 }
  execFileSync(join(root, 'node_modules', '.bin', 'napi'), ['create-npm-dirs'], { cwd: root, ...quiet })
  const platformDir = join(work, platform)
  cpSync(join(root, 'npm', platform), platformDir, { recursive: true })
  copyFileSync(join(root, binary), join(platformDir, binary))
  const [platformTgz] = JSON.parse(execFileSync(npm, ['pack', '--json', '--pack-destination', work], { cwd: platformDir, ...quiet }))
  const [mainTgz] = JSON.parse(execFileSync(npm, ['pack', '--json', '--ignore-scripts', '--pack-destination', work], { cwd: root, ...quiet }))
  const project = join(work, 'app')
  mkdirSync(project)
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }))
  execFileSync(
    npm,
    ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', join(work, mainTgz.filename), join(work, platformTgz.filename)],
    { cwd: project, ...quiet },
  )
  return { project, mainTgz, platformTgz }
}
