#!/usr/bin/env node
'use strict'

// yc-iam-token: print an IAM token for wherever this runs, for `curl -H "Authorization: Bearer $(npx yc-iam-token)"`.

const { parseArgs } = require('node:util')
const { getToken, tokenFromFederation, tokenFromKey, tokenFromMetadata } = require('..')
const { version } = require('../package.json')

const HELP = `Usage: yc-iam-token [options]

Prints a Yandex Cloud IAM token on stdout. Without options it uses the first source that
applies: YC_SERVICE_ACCOUNT_KEY_FILE, YC_SERVICE_ACCOUNT_KEY; YC_SERVICE_ACCOUNT_ID with
an OIDC token (YC_ID_TOKEN, YC_ID_TOKEN_FILE, or GitHub Actions' job token); YC_IAM_TOKEN /
YC_TOKEN; the yc CLI's profile; then the metadata service.

Options:
  --key FILE       exchange this authorized key file (yc iam key create --output FILE)
  --metadata       ask the metadata service only (on a VM or in a function)
  --federation     exchange the workload's OIDC token (workload identity federation); the
                   token comes from --subject-token-file, YC_ID_TOKEN, YC_ID_TOKEN_FILE or
                   GitHub Actions (permissions: id-token: write); never pass it on the
                   command line, where other users can see it
    --service-account-id ID   the service account (default YC_SERVICE_ACCOUNT_ID)
    --subject-token-file FILE a file holding the OIDC token (a Kubernetes projected token)
    --audience AUD            GitHub Actions only: the audience of the job's OIDC token
  --profile NAME   the yc profile to use when no other source applies (as YC_PROFILE)
  --endpoint URL   the IAM endpoint (with --key, a key from the environment or a profile),
                   the metadata endpoint (with --metadata), or the token-exchange endpoint
                   (with --federation)
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
        federation: { type: 'boolean' },
        'service-account-id': { type: 'string' },
        'subject-token-file': { type: 'string' },
        audience: { type: 'string' },
        profile: { type: 'string' },
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
  const modes = [args.key !== undefined && '--key', args.metadata && '--metadata', args.federation && '--federation'].filter(Boolean)
  if (modes.length > 1) return fail(2, 'ERR_INVALID_ARG', `${modes.join(' and ')} exclude each other`)
  for (const flag of ['service-account-id', 'subject-token-file', 'audience']) {
    if (args[flag] !== undefined && !args.federation) return fail(2, 'ERR_INVALID_ARG', `--${flag} goes with --federation`)
  }
  if (args.profile !== undefined) {
    if (modes.length > 0) return fail(2, 'ERR_INVALID_ARG', `--profile is for the sources tried in order, not with ${modes[0]}`)
    process.env.YC_PROFILE = args.profile
  }

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
    } else if (args.federation) {
      const federation = {
        ...options,
        endpoint: args.endpoint,
        serviceAccountId: args['service-account-id'],
        subjectTokenFile: args['subject-token-file'],
        audience: args.audience,
      }
      token = { ...(await tokenFromFederation(federation)), source: 'federation' }
    } else {
      token = await getToken({ ...options, endpoint: args.endpoint })
    }
  } catch (error) {
    return fail(1, error.code ?? 'ERR_UNEXPECTED', error.message)
  }
  process.stdout.write(args.json ? JSON.stringify(token) + '\n' : token.accessToken + '\n')
}

main()
