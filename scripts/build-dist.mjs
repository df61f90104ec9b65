#!/usr/bin/env node
// The release build as it ships. On x86_64 Linux (glibc) the binary is linked against glibc
// 2.17 with zig (cargo-zigbuild), so it loads on old runtimes too; zig and cargo-zigbuild come
// from PyPI into a cache shared by every clone ($XDG_CACHE_HOME or ~/.cache, yc-iam-token/zig;
// $YC_IAM_TOKEN_TOOLS overrides) when they are not on PATH already. Elsewhere: the plain release build.
//   node scripts/build-dist.mjs [extra napi build args]
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs'
import { homedir } from 'node:os'
import { delimiter, join, resolve } from 'node:path'

const root = resolve(import.meta.dirname ?? new URL('..', import.meta.url).pathname, '..')
const napi = join(root, 'node_modules', '.bin', 'napi')
const args = ['build', '--platform', '--release', '--no-js', '--dts', 'binding.d.ts', ...process.argv.slice(2)]
const env = { ...process.env }

const isGlibcX64 =
  process.platform === 'linux' && process.arch === 'x64' && process.report.getReport().header.glibcVersionRuntime !== undefined
if (isGlibcX64) {
  const onPath = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { env }).status === 0
  if (!onPath('cargo-zigbuild') || !onPath('zig')) {
    const cache = process.env.XDG_CACHE_HOME || join(homedir(), '.cache')
    const tools = process.env.YC_IAM_TOKEN_TOOLS || join(cache, 'yc-iam-token', 'zig')
    if (!existsSync(join(tools, 'bin', 'cargo-zigbuild'))) {
      console.log(`build-dist: installing ziglang and cargo-zigbuild from PyPI into ${tools}`)
      execFileSync('python3', ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--target', tools, 'ziglang', 'cargo-zigbuild'], {
        stdio: 'inherit',
      })
    }
    env.PATH = [join(tools, 'bin'), join(tools, 'ziglang'), env.PATH].join(delimiter)
    env.PYTHONPATH = [tools, env.PYTHONPATH].filter(Boolean).join(delimiter)
  }
  args.push('-x', '--target', 'x86_64-unknown-linux-gnu.2.17')
}
// Build into a scratch folder, then rename into place: a process that has the old binary
// loaded keeps its (unlinked) file instead of seeing it rewritten under it.
mkdirSync(join(root, 'target'), { recursive: true })
const out = mkdtempSync(join(root, 'target', 'build-dist-'))
try {
  console.log(`build-dist: napi ${args.join(' ')}`)
  execFileSync(napi, [...args, '--output-dir', out], { cwd: root, env, stdio: 'inherit' })
  for (const file of readdirSync(out)) renameSync(join(out, file), join(root, file))
} finally {
  rmSync(out, { recursive: true, force: true })
}
