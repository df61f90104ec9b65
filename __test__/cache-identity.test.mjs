// The cache by content (issue "The cache by content"): a key's identity is what it holds, not
// how it was passed or which object holds it; one upstream request per entry under any burst;
// bounded memory.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import { createRequire } from 'node:module'
import { test } from 'node:test'

import pkg from './package.mjs'
import { lastRequest, registeredKey, rejectsWith, runNode, suiteEmulator, suiteTempDir, writeKeyFile } from './support.mjs'

const { tokenFromKey, _testing } = pkg
const tmp = suiteTempDir('yc-iam-identity-test-')
const emu = await suiteEmulator({ clearCache: true })

/** Every form the contract lists, each made anew as a handler would make it. */
function forms(generated, file) {
  const { key, privateKeyPem } = generated
  const text = JSON.stringify(key)
  return [
    () => JSON.parse(text),
    () => text,
    () => file,
    () => fs.readFileSync(file),
    () => ({ keyId: key.id, serviceAccountId: key.service_account_id, privateKey: privateKeyPem }),
    () => ({ key: { id: key.id, serviceAccountId: key.service_account_id }, privateKey: privateKeyPem }),
  ]
}

test('a key object changed in place is another key', async () => {
  const a = registeredKey(emu).key
  const b = registeredKey(emu).key
  const key = { ...a }
  await tokenFromKey(key, { endpoint: emu.iamUrl })
  assert.equal(lastRequest(emu, 'iam').jwt.header.kid, a.id)
  Object.assign(key, { id: b.id, service_account_id: b.service_account_id, private_key: b.private_key })
  await tokenFromKey(key, { endpoint: emu.iamUrl })
  assert.equal(emu.count('iam'), 2, 'the changed object asked IAM again')
  assert.equal(lastRequest(emu, 'iam').jwt.header.kid, b.id, 'with the new identity')
  key.id = a.id // half changed: a's id with b's private key is a third identity
  await rejectsWith(tokenFromKey(key, { endpoint: emu.iamUrl }), 'ERR_IAM_REJECTED')
})

test('every form of one key, each made anew on every call, is one entry: one upstream request', async () => {
  const generated = registeredKey(emu)
  const file = writeKeyFile(tmp, generated.key)
  const tokens = []
  for (let round = 0; round < 3; round++) {
    for (const make of forms(generated, file)) tokens.push(await tokenFromKey(make(), { endpoint: emu.iamUrl }))
  }
  assert.equal(emu.count('iam'), 1)
  assert.ok(tokens.every((t) => t.accessToken === tokens[0].accessToken))
})

test('a 1,000-call burst of mixed forms against a fast-failing IAM: exactly retries + 1 requests, all get the error, the next call tries afresh', async () => {
  for (const retries of [0, 1]) {
    emu.reset()
    _testing.clearCache()
    const generated = registeredKey(emu)
    const file = writeKeyFile(tmp, generated.key, { name: `burst-${retries}.json` })
    emu.fail('iam', { status: 500 }, 1000)
    const makers = forms(generated, file)
    const calls = Array.from({ length: 1000 }, (_, i) => tokenFromKey(makers[i % makers.length](), { endpoint: emu.iamUrl, retries, timeoutMs: 5000 }))
    const outcomes = await Promise.allSettled(calls)
    assert.equal(emu.count('iam'), retries + 1, `upstream requests with retries: ${retries}`)
    assert.ok(outcomes.every((o) => o.status === 'rejected' && o.reason.code === 'ERR_UNAVAILABLE'))
    emu.reset()
    await tokenFromKey(makers[0](), { endpoint: emu.iamUrl })
    assert.equal(emu.count('iam'), 1, 'failures are not cached')
  }
})

test('70 keys in rotation stay cached: no upstream request after the first round', async () => {
  const keys = Array.from({ length: 70 }, () => registeredKey(emu, { reuse: false }).key)
  for (const key of keys) await tokenFromKey(JSON.parse(JSON.stringify(key)), { endpoint: emu.iamUrl })
  assert.equal(emu.count('iam'), 70)
  for (let round = 0; round < 3; round++) {
    for (const key of keys) await tokenFromKey(JSON.stringify(key), { endpoint: emu.iamUrl })
  }
  assert.equal(emu.count('iam'), 70)
})

test('100,000 identities: the memo and the native cache stay bounded, and so does RSS', async () => {
  // In a child: 100,000 distinct identities (one RSA key, 100,000 key ids) go through the memo,
  // each then to the native side, which refuses the endpoint before signing (100,000 signatures
  // would take minutes; the native cache's own bound is pinned by its cargo test with 4,096
  // keys beyond its cap). The memo's maps stay at their caps and RSS does not grow with the count.
  const script = `
    const pkg = require(${JSON.stringify(createRequire(import.meta.url).resolve('../index.js'))})
    const testing = pkg[Symbol.for('yc-iam-token.testing')]
    const base = JSON.parse(process.env.KEY)
    const run = async (from, to) => {
      for (let i = from; i < to; i += 1000) {
        const batch = []
        for (let j = i; j < i + 1000; j++) {
          batch.push(pkg.tokenFromKey({ ...base, id: 'aje' + j }, { endpoint: 'not a url' }).catch((e) => e.code))
        }
        await Promise.all(batch)
      }
    }
    ;(async () => {
      await run(0, 10000)
      global.gc?.()
      const rss10k = process.memoryUsage().rss
      await run(10000, 100000)
      global.gc?.()
      const rss100k = process.memoryUsage().rss
      console.log(JSON.stringify({ sizes: testing.memoSizes(), limits: testing.limits(), growthMb: (rss100k - rss10k) / 2 ** 20 }))
    })()`
  const { key } = registeredKey(emu)
  const { stdout, stderr } = await runNode('--expose-gc', { args: ['-e', script], env: { ...process.env, KEY: JSON.stringify(key) }, timeoutMs: 120_000 })
  assert.ok(stdout, stderr)
  const { sizes, limits, growthMb } = JSON.parse(stdout)
  assert.ok(sizes.identities <= limits.maxCacheEntries, `memo identities: ${sizes.identities}`)
  assert.ok(growthMb < 40, `RSS grew ${growthMb.toFixed(1)} MB from 10,000 to 100,000 identities`)
})
