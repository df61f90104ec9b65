#!/usr/bin/env node
'use strict'

// yc-iam-token: print an IAM token for wherever this runs, for `curl -H "Authorization: Bearer $(npx yc-iam-token)"`.

const { parseArgs } = require('node:util')
const { getToken, tokenFromKey, tokenFromMetadata } = require('..')
const { version } = require('../package.json')

const HELP = `Usage: yc-iam-token [options]

Prints a Yandex Cloud IAM token on stdout. Without options it uses the first source that
applies: YC_SERVICE_ACCOUNT_KEY_FILE, YC_SERVICE_ACCOUNT_KEY, YC_IAM_TOKEN / YC_TOKEN, then
the metadata service.

Options:
  --key FILE       exchange this authorized key file (yc iam key create --output FILE)
  --metadata       ask the metadata service only (on a VM or in a function)
  --endpoint URL   the IAM endpoint (with --key or a key from the environment), or the
                   metadata endpoint (with --metadata)
  --json           print {"accessToken", "expiresAt", "tokenType", "source"} as JSON
  --timeout MS     deadline of the call in milliseconds
  -h, --help       this help
  -v, --version    the version

Errors go to stderr as "yc-iam-token: CODE: message", with exit status 1 (2 for bad usage).`

function fail(status, code, message) {
  process.stderr.write(`yc-iam-token: ${code}: ${message}\n`)
  process.exitCode = status
}

async function main() {
  let args
  try {
    args = parseArgs({
      options: {
        key: { type: 'string' },
        metadata: { type: 'boolean' },
        endpoint: { type: 'string' },
        json: { type: 'boolean' },
        timeout: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
      strict: true,
      allowPositionals: false,
    }).values
  } catch (error) {
    return fail(2, 'ERR_INVALID_ARG', `${error.message}\nRun yc-iam-token --help for the options.`)
  }
  if (args.help) return void process.stdout.write(HELP + '\n')
  if (args.version) return void process.stdout.write(version + '\n')
  if (args.key !== undefined && args.metadata) return fail(2, 'ERR_INVALID_ARG', '--key and --metadata exclude each other')

  const options = { cache: false }
  if (args.timeout !== undefined) {
    options.timeoutMs = Number(args.timeout)
    if (!(options.timeoutMs > 0)) return fail(2, 'ERR_INVALID_ARG', `--timeout must be a positive number of milliseconds (got ${JSON.stringify(args.timeout.slice(0, 20))})`)
  }
  let token
  try {
    if (args.key !== undefined) {
      token = { ...(await tokenFromKey(args.key, { ...options, endpoint: args.endpoint })), source: 'key' }
    } else if (args.metadata) {
      token = { ...(await tokenFromMetadata({ ...options, endpoint: args.endpoint })), source: 'metadata' }
    } else {
      token = await getToken({ ...options, endpoint: args.endpoint })
    }
  } catch (error) {
    return fail(1, error.code ?? 'ERR_UNEXPECTED', error.message)
  }
  process.stdout.write(args.json ? JSON.stringify(token) + '\n' : token.accessToken + '\n')
}

main()
