// The common slips of a first hour with the package, each answered with what to do instead;
// and the debug output (NODE_DEBUG and diagnostics_channel), which never carries a secret.
import assert from 'node:assert/strict'
import diagnostics from 'node:diagnostics_channel'
import { test } from 'node:test'

import pkg from './package.mjs'
import { registeredKey, rejection, runNode, suiteEmulator } from './support.mjs'

const { tokenFromKey, tokenFromContext, getToken, createJwt } = pkg
const emu = await suiteEmulator({ clearCache: true })
const context = { requestId: 'r1', functionName: 'f', token: { access_token: 't1.slip-context-token', expires_in: 100, token_type: 'Bearer' } }

test('tokenFromContext(context.token): pass the whole context', async () => {
  const error = await rejection(tokenFromContext(context.token))
  assert.equal(error.code, 'ERR_INVALID_ARG')
  assert.match(error.message, /pass the handler's whole context/)
  assert.ok(!error.message.includes('t1.slip'))
})

test('getToken({ context: context.token }) says the same, and getToken(context) says to wrap it', async () => {
  const inner = await rejection(getToken({ context: context.token }))
  assert.equal(inner.code, 'ERR_INVALID_ARG')
  assert.match(inner.message, /whole context/)
  const bare = await rejection(getToken(context))
  assert.equal(bare.code, 'ERR_INVALID_ARG')
  assert.match(bare.message, /getToken\(\{ context \}\)/)
})

test('a context, a package.json or a public key passed as the key: named, with the fix', async () => {
  const { key } = registeredKey(emu)
  const cases = [
    [context, /Cloud Functions context.*tokenFromContext/],
    [context.token, /context's token/],
    [{ name: 'app', version: '1.0.0', dependencies: {} }, /package\.json/],
    [{ id: key.id, service_account_id: key.service_account_id, public_key: key.public_key }, /public half/],
  ]
  for (const [input, says] of cases) {
    for (const form of [input, JSON.stringify(input)]) {
      const error = await rejection(tokenFromKey(form, { endpoint: emu.iamUrl }))
      assert.equal(error.code, 'ERR_INVALID_KEY')
      assert.match(error.message, says)
      assert.ok(!error.message.includes('t1.slip'))
      assert.throws(() => createJwt(form), (e) => e.code === 'ERR_INVALID_KEY' && says.test(e.message))
    }
  }
})

test('diagnostics_channel: a token event per native answer (source, origin, duration), an error event per failure', async () => {
  const { key } = registeredKey(emu)
  const events = []
  const onToken = (message) => events.push(['token', message])
  const onError = (message) => events.push(['error', message])
  diagnostics.subscribe('yc-iam-token:token', onToken)
  diagnostics.subscribe('yc-iam-token:error', onError)
  try {
    await tokenFromKey(key, { endpoint: emu.iamUrl })
    await tokenFromKey(key, { endpoint: emu.iamUrl }) // a memo hit: not reported
    await tokenFromKey(key, { endpoint: emu.iamUrl, cache: false })
    emu.deleteKey(key.id)
    await rejection(tokenFromKey(key, { endpoint: emu.iamUrl, cache: false }))
  } finally {
    diagnostics.unsubscribe('yc-iam-token:token', onToken)
    diagnostics.unsubscribe('yc-iam-token:error', onError)
  }
  assert.deepEqual(events.map(([kind, m]) => `${kind}:${m.source}:${m.origin ?? m.code}`), ['token:key:fetched', 'token:key:fetched', 'error:key:ERR_IAM_REJECTED'])
  assert.ok(events.every(([, m]) => typeof m.durationMs === 'number'))
  assert.equal(events[2][1].status, 401)
  assert.ok(!JSON.stringify(events).includes('t1.'), 'no token in an event')
})

test('NODE_DEBUG=yc-iam-token: the source chosen and each answer with its time, never a secret', async () => {
  const { key } = registeredKey(emu)
  const script = `
    const pkg = require(${JSON.stringify(new URL('../index.js', import.meta.url).pathname)})
    const key = JSON.parse(process.env.KEY)
    ;(async () => {
      const a = await pkg.getToken({ key, endpoint: process.env.IAM })
      await pkg.getToken({ key, endpoint: process.env.IAM, cache: false })
      await pkg.tokenFromKey({ ...key, id: 'ajeUnknownKey' }, { endpoint: process.env.IAM }).catch(() => {})
      // A source that fails is still named, as it is chosen: before its failure.
      await pkg.getToken({ key: '/nowhere/key.json', endpoint: process.env.IAM }).catch(() => {})
      console.log(JSON.stringify({ token: a.accessToken }))
    })()`
  const { stdout, stderr, code } = await runNode('-e', {
    args: [script],
    env: { ...process.env, NODE_DEBUG: 'yc-iam-token', KEY: JSON.stringify(key), IAM: emu.iamUrl },
  })
  assert.equal(code, 0, stderr)
  const { token } = JSON.parse(stdout)
  const lines = stderr.split('\n').filter((l) => l.includes('YC-IAM-TOKEN'))
  assert.ok(lines.some((l) => /getToken: source key/.test(l)), stderr)
  assert.ok(lines.some((l) => /key: token fetched in [\d.]+ ms/.test(l)), stderr)
  assert.ok(lines.some((l) => /key: failed with ERR_IAM_REJECTED in [\d.]+ ms/.test(l)), stderr)
  const last = lines.slice(-2)
  assert.match(last[0] ?? '', /getToken: source key$/, stderr)
  assert.match(last[1] ?? '', /key: failed with ERR_INVALID_KEY in [\d.]+ ms/, stderr)
  for (const secret of [token, key.private_key.split('\n')[3], 'eyJ']) assert.ok(!stderr.includes(secret), `${secret.slice(0, 12)}… in the debug output`)
})
