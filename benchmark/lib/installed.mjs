// The package as a user's program finds it: benchmark/node_modules/yc-iam-token, a link to the
// repository, so that the cold-start scripts `require('yc-iam-token')` by name. A bare name is
// resolved otherwise than a path (package.json's `main`, and an `exports` map when a package
// has one: on Node 20 that alone loads the ESM resolver into a CommonJS process, ~1.5 ms).
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const HERE = path.dirname(fileURLToPath(import.meta.url))

// Also fixtures/empty-package as node_modules/empty-package: the cheapest package there is.
export function linkAsInstalled() {
  const modules = path.join(HERE, '..', 'node_modules')
  fs.mkdirSync(modules, { recursive: true })
  for (const [name, target] of [['yc-iam-token', path.join('..', '..')], ['empty-package', path.join('..', 'fixtures', 'empty-package')]]) {
    const link = path.join(modules, name)
    fs.rmSync(link, { force: true, recursive: true })
    fs.symlinkSync(target, link, 'dir')
  }
}
