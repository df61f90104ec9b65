// The package as the suites use it: the same exports, plus a record of every error they
// provoke (message, code, stack, util.inspect). run.mjs hands the record to secrets.scan.mjs,
// which fails the run if any error carries a private key, a JWT or a token.
import diagnostics from 'node:diagnostics_channel'
import { appendFileSync, mkdtempSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inspect } from 'node:util'

// No test may reach the real metadata address (run.mjs also isolates the network where it
// can): unless a test sets it, the metadata service is a closed loopback port.
process.env.YC_METADATA_ADDR ??= '127.0.0.1:9'
// Nor read the developer's own `yc` profile (getToken's fifth source): HOME is an empty folder
// of its own, which a test may fill with a config. (Left in the OS's temporary folder: `rm`
// at exit would race the suites' children.)
process.env.HOME = mkdtempSync(join(tmpdir(), 'yc-iam-token-home-'))
delete process.env.YC_PROFILE

const pkg = createRequire(import.meta.url)('../index.js')
const log = process.env.YC_TEST_ERROR_LOG

function record(fn, error) {
  if (!log) return
  const entry = {
    fn,
    code: error?.code,
    message: String(error?.message),
    stack: String(error?.stack),
    inspect: inspect(error, { depth: 4 }),
  }
  appendFileSync(log, JSON.stringify(entry) + '\n')
}

// The debug events go through the scan too: none may carry a secret.
if (log) {
  for (const channel of ['yc-iam-token:token', 'yc-iam-token:error']) {
    diagnostics.subscribe(channel, (event) => {
      appendFileSync(log, JSON.stringify({ fn: channel, code: 'DEBUG_EVENT', message: JSON.stringify(event), stack: '', inspect: inspect(event) }) + '\n')
    })
  }
}

function wrap(name) {
  const original = pkg[name]
  return function (...args) {
    let result
    try {
      result = original(...args)
    } catch (error) {
      record(name, error)
      throw error
    }
    if (result instanceof Promise) result.then(undefined, (error) => record(name, error))
    return result
  }
}

export const tokenFromKey = wrap('tokenFromKey')
export const tokenFromMetadata = wrap('tokenFromMetadata')
export const tokenFromContext = wrap('tokenFromContext')
export const getToken = wrap('getToken')
export const tokenFromFederation = wrap('tokenFromFederation')
export const createJwt = wrap('createJwt')
export const tokenProvider = pkg.tokenProvider
export const _testing = pkg[Symbol.for('yc-iam-token.testing')]
export default { tokenFromKey, tokenFromMetadata, tokenFromContext, tokenFromFederation, getToken, createJwt, tokenProvider, _testing }
