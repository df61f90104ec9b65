// The package's main job, end to end, against the local emulator (there is no Yandex Cloud
// here): a token through each of the three sources, then the same calls again from the cache.
//
//   npm ci && npm run demo
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { startEmulator } from '../__test__/emulator.mjs'
import { generateAuthorizedKey, writeKeyFile } from '../__test__/keys.mjs'
import { tokenFromContext, tokenFromKey, tokenFromMetadata } from '../index.js'

// Tokens are credentials: show their shape, not their text.
const show = (t) =>
  `${t.accessToken.slice(0, 6)}… (${t.accessToken.length} chars), ${t.tokenType}, expires ${t.expiresAt.toISOString()}`

async function timed(label, get) {
  const started = process.hrtime.bigint()
  const token = await get()
  const us = Number(process.hrtime.bigint() - started) / 1000
  console.log(`${label.padEnd(50)} ${show(token)}  [${us < 1000 ? `${us.toFixed(1)} µs` : `${(us / 1000).toFixed(1)} ms`}]`)
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

  console.log(`\nUpstream requests: IAM ${emulator.count('iam')}, metadata ${emulator.count('metadata')}`)
} finally {
  rmSync(dir, { recursive: true, force: true })
  await emulator.close()
}
