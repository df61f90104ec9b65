// The package's main job, end to end, against the local emulator (there is no Yandex Cloud
// here): a token through each source, then the same calls again from the cache; then the
// keyless and laptop paths: workload identity federation (a Kubernetes token file, GitHub
// Actions), a user's OAuth token, and the yc CLI's profiles (a stand-in yc for a federated user).
//
//   npm ci && npm run demo
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { startEmulator } from '../__test__/emulator.mjs'
import { generateAuthorizedKey, randomId, writeKeyFile } from '../__test__/keys.mjs'
import { getToken, tokenFromContext, tokenFromFederation, tokenFromKey, tokenFromMetadata } from '../index.js'

// Tokens are credentials: show their shape, not their text.
const show = (t) =>
  `${t.accessToken.slice(0, 6)}… (${t.accessToken.length} chars), ${t.tokenType}, ` +
  `expires ${t.expiresAt === null ? 'at a time not known' : t.expiresAt.toISOString()}${t.source ? `, source ${t.source}` : ''}`

async function timed(label, get) {
  const started = process.hrtime.bigint()
  const token = await get()
  const us = Number(process.hrtime.bigint() - started) / 1000
  console.log(`${label.padEnd(56)} ${show(token)}  [${us < 1000 ? `${us.toFixed(1)} µs` : `${(us / 1000).toFixed(1)} ms`}]`)
}

const emulator = await startEmulator()
const dir = mkdtempSync(join(tmpdir(), 'yc-iam-token-demo-'))
try {
  console.log(`Emulator of IAM and the metadata service at ${emulator.origin}\n`)

  // 1. Cloud Functions: the handler's context carries the token.
  const context = { requestId: 'demo', token: { access_token: 't1.from-context-' + 'x'.repeat(40), expires_in: 43200, token_type: 'Bearer' } }
  await timed('tokenFromContext(context)', () => tokenFromContext(context))

  // 2. A VM or container: the metadata service (found through YC_METADATA_ADDR, as the Go and
  //    Python SDKs find it).
  process.env.YC_METADATA_ADDR = emulator.metadataAddr
  await timed('tokenFromMetadata()', () => tokenFromMetadata())
  await timed('tokenFromMetadata()  again: cached', () => tokenFromMetadata())

  // 3. Anywhere else: a service account's authorized key file, exchanged at IAM.
  const { key } = generateAuthorizedKey()
  emulator.registerKey(key)
  const path = writeKeyFile(dir, key)
  const options = { endpoint: emulator.iamUrl }
  await timed('tokenFromKey(path, { endpoint })', () => tokenFromKey(path, options))
  await timed('tokenFromKey(path, { endpoint })  again: cached', () => tokenFromKey(path, options))

  // 4. Keyless: a Kubernetes projected token in a file (read again at every refresh), exchanged
  //    at the token-exchange service for the service account the federation binds it to.
  const serviceAccountId = randomId()
  emulator.bindSubject(serviceAccountId, 'system:serviceaccount:default:app')
  const tokenFile = join(dir, 'yc-token')
  writeFileSync(tokenFile, emulator.mintSubjectToken({ sub: 'system:serviceaccount:default:app' }))
  const federation = { endpoint: emulator.exchangeUrl, serviceAccountId, subjectTokenFile: tokenFile }
  await timed('tokenFromFederation({ subjectTokenFile })', () => tokenFromFederation(federation))
  await timed('tokenFromFederation({ subjectTokenFile })  cached', () => tokenFromFederation(federation))

  // 5. GitHub Actions: YC_SERVICE_ACCOUNT_ID and the two variables `id-token: write` sets.
  emulator.bindSubject(serviceAccountId, emulator.githubSubject)
  emulator.subjectAudiences.push(emulator.githubDefaultAudience)
  process.env.YC_SERVICE_ACCOUNT_ID = serviceAccountId
  process.env.ACTIONS_ID_TOKEN_REQUEST_URL = emulator.githubUrl
  process.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN = emulator.githubBearer
  await timed('getToken()  in GitHub Actions', () => getToken({ federationEndpoint: emulator.exchangeUrl }))
  for (const name of ['YC_SERVICE_ACCOUNT_ID', 'ACTIONS_ID_TOKEN_REQUEST_URL', 'ACTIONS_ID_TOKEN_REQUEST_TOKEN']) delete process.env[name]

  // 6. A user's OAuth token in YC_TOKEN, as Terraform reads it: exchanged at IAM.
  process.env.YC_TOKEN = emulator.registerOauthToken()
  await timed('getToken()  with YC_TOKEN=y0_…', () => getToken(options))
  delete process.env.YC_TOKEN

  // 7. A laptop after `yc init`: the yc profile in ~/.config/yandex-cloud/config.yaml (here a
  //    HOME of the demo's own). A profile with a service account key, then a federated user's,
  //    whose token only yc can get (a stand-in yc on PATH).
  const home = join(dir, 'home')
  mkdirSync(join(home, '.config', 'yandex-cloud'), { recursive: true })
  const indented = key.private_key.trimEnd().split('\n').map((line) => `        ${line}`).join('\n')
  writeFileSync(
    join(home, '.config', 'yandex-cloud', 'config.yaml'),
    `current: robot\nprofiles:\n  robot:\n    service-account-key:\n      id: ${key.id}\n      service_account_id: ${key.service_account_id}\n      private_key: |\n${indented}\n  work:\n    federation-id: bpfdemo\n`,
  )
  process.env.HOME = home
  delete process.env.YC_METADATA_ADDR
  await timed('getToken()  with a yc profile (a key)', () => getToken(options))
  const bin = join(dir, 'bin')
  mkdirSync(bin)
  writeFileSync(join(bin, 'yc'), `#!/bin/sh\necho t1.from-yc-${'y'.repeat(40)}\n`)
  chmodSync(join(bin, 'yc'), 0o755)
  process.env.PATH = `${bin}:${process.env.PATH}`
  process.env.YC_PROFILE = 'work'
  await timed('getToken()  with YC_PROFILE=work (yc iam create-token)', () => getToken(options))

  console.log(
    `\nUpstream requests: IAM ${emulator.count('iam')}, metadata ${emulator.count('metadata')}, ` +
      `token exchange ${emulator.count('exchange')}, GitHub ${emulator.count('github')}`,
  )
} finally {
  rmSync(dir, { recursive: true, force: true })
  await emulator.close()
}
