// Install footprint: the bytes and files each library adds to node_modules.
import fs from 'node:fs'
import path from 'node:path'

/** Bytes and files under `dir`, not descending into nested node_modules (those are packages of
 *  their own, counted when the dependency walk reaches them). */
function sizeOf(dir) {
  let bytes = 0
  let files = 0
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name)
      if (e.isDirectory()) {
        if (e.name !== 'node_modules') walk(p)
      } else if (e.isFile()) {
        bytes += fs.statSync(p).size
        files++
      }
    }
  }
  walk(dir)
  return { bytes, files }
}

/** Where Node would find `dep` from the package at `fromDir` (nested first, then up). */
function resolvePackageDir(dep, fromDir, rootModules) {
  let d = fromDir
  while (d.startsWith(path.dirname(rootModules))) {
    const candidate = path.join(d, 'node_modules', dep)
    if (fs.existsSync(path.join(candidate, 'package.json'))) return candidate
    if (d === path.dirname(rootModules)) break
    d = path.dirname(d)
  }
  throw new Error(`cannot find ${dep} from ${fromDir}`)
}

/** Peer packages and their transitive dependencies as installed in `modulesDir` (a package
 *  two of them share is counted once). */
export function peerFootprint(names, modulesDir) {
  const seen = new Map()
  const visit = (dir) => {
    if (seen.has(dir)) return
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'))
    seen.set(dir, `${pkg.name}@${pkg.version}`)
    for (const dep of Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies })) {
      try {
        visit(resolvePackageDir(dep, dir, modulesDir))
      } catch (e) {
        if (!(pkg.optionalDependencies && dep in pkg.optionalDependencies)) throw e
      }
    }
  }
  for (const name of names) visit(path.join(modulesDir, name))
  let bytes = 0
  let files = 0
  for (const dir of seen.keys()) {
    const s = sizeOf(dir)
    bytes += s.bytes
    files += s.files
  }
  return { bytes, files, packages: [...seen.values()] }
}

/** This package as npm would install it: the main package (the `files` of package.json plus
 *  package.json and README, which npm always packs) and the one per-platform package (the
 *  .node binary, its package.json and README). */
export function selfFootprint(rootDir) {
  const pkg = JSON.parse(fs.readFileSync(path.join(rootDir, 'package.json'), 'utf8'))
  const main = { bytes: 0, files: 0, list: [] }
  const add = (acc, p) => {
    const st = fs.statSync(p)
    if (st.isDirectory()) {
      const s = sizeOf(p)
      acc.bytes += s.bytes
      acc.files += s.files
    } else {
      acc.bytes += st.size
      acc.files++
    }
    acc.list.push(path.relative(rootDir, p) + (st.isDirectory() ? '/' : ''))
  }
  const always = ['package.json', 'README.md', 'LICENSE', 'LICENSE.md']
  for (const f of [...pkg.files, ...always]) {
    const p = path.join(rootDir, f)
    if (fs.existsSync(p)) add(main, p)
  }
  const { platform, arch } = process
  const binary = fs.readdirSync(rootDir).find((f) => f.endsWith('.node') && f.includes(`.${platform}-${arch}`))
  if (!binary) throw new Error(`no ${platform}-${arch} .node binary in ${rootDir}: build the addon first`)
  const platformPkgName = binary.replace(/^[^.]+\./, '').replace(/\.node$/, '')
  const platformDir = path.join(rootDir, 'npm', platformPkgName)
  const native = { bytes: 0, files: 0, list: [] }
  add(native, path.join(rootDir, binary))
  for (const f of ['package.json', 'README.md']) {
    const p = path.join(platformDir, f)
    if (fs.existsSync(p)) add(native, p)
  }
  return {
    bytes: main.bytes + native.bytes,
    files: main.files + native.files,
    main,
    native: { ...native, package: `${pkg.name}-${platformPkgName}`, binaryBytes: fs.statSync(path.join(rootDir, binary)).size },
  }
}
