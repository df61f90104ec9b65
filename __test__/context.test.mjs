import assert from 'node:assert/strict'
import { test } from 'node:test'

import { tokenFromContext } from './package.mjs'
import { assertHides, promiseFrom, rejection, rejectsWith } from './support.mjs'

const TOKEN = 't1.9euelZrPzsvHm5KOycaXlJnMj5DPlO3rnpWajZqSm5rJmZLMl5mPz8aOx8_l'

/** Calls without await: the call must return a promise, never throw. */
const call = (context) => promiseFrom(() => tokenFromContext(context))

/** The call's rejection, with `code` and without the token. */
async function rejected(context, code) {
  const error = await rejectsWith(call(context), code)
  assertHides(error, [TOKEN])
  return error
}

test('reads the token Cloud Functions passes, ignoring other fields', async () => {
  const before = Date.now()
  const context = {
    requestId: 'b4b1b3e2-6b1a-4ac5-b5a4-ef0c3a1b8f6c',
    functionName: 'd4e0000000000000000',
    functionVersion: 'd4e1111111111111111',
    memoryLimitInMB: 128,
    getRemainingTimeInMillis: () => 1000,
    token: { access_token: TOKEN, expires_in: 43200, token_type: 'Bearer' },
  }
  const token = await call(context)
  assert.deepEqual(Object.keys(token), ['accessToken', 'expiresAt', 'tokenType'])
  assert.equal(token.accessToken, TOKEN)
  assert.equal(token.tokenType, 'Bearer')
  assert.ok(token.expiresAt instanceof Date)
  const lifetime = token.expiresAt.getTime() - before
  assert.ok(lifetime >= 43_199_000 && lifetime <= 43_201_000, `lifetime ${lifetime}`)
})

test('token_type may be left out', async () => {
  const token = await call({ token: { access_token: TOKEN, expires_in: 60 } })
  assert.equal(token.tokenType, 'Bearer')
})

test('a context without a token means no service account', async () => {
  for (const context of [{}, { token: undefined }, { token: null }, { requestId: 'x' }]) {
    const error = await rejected(context, 'ERR_NO_SERVICE_ACCOUNT')
    assert.match(error.message, /service account/)
    assert.equal(error.status, undefined)
  }
})

test('wrong types are ERR_INVALID_ARG', async () => {
  const good = { access_token: TOKEN, expires_in: 100 }
  const cases = [
    undefined,
    null,
    'context',
    42,
    true,
    Symbol('ctx'),
    () => {},
    [],
    { token: 'a token' },
    { token: 42 },
    { token: { ...good, access_token: '' } },
    { token: { ...good, access_token: '   ' } },
    { token: { ...good, access_token: 42 } },
    { token: { ...good, access_token: undefined } },
    { token: { ...good, expires_in: -1 } },
    { token: { ...good, expires_in: 0 } },
    { token: { ...good, expires_in: NaN } },
    { token: { ...good, expires_in: Infinity } },
    { token: { ...good, expires_in: '100' } },
    { token: { ...good, expires_in: undefined } },
    { token: { ...good, expires_in: 10n } },
    { token: { ...good, token_type: 'MAC' } },
    { token: { ...good, token_type: 5 } },
  ]
  for (const context of cases) await rejected(context, 'ERR_INVALID_ARG')
})

test('a cyclic or getter-laden context is read safely', async () => {
  const context = { token: { access_token: TOKEN, expires_in: 100 } }
  context.self = context
  context.token.owner = context
  assert.equal((await call(context)).accessToken, TOKEN)

  const throwing = {
    get token() {
      throw new Error('getter failed')
    },
  }
  const error = await rejection(call(throwing))
  assert.equal(error.code, 'ERR_INVALID_ARG')
  assert.equal(error.cause.message, 'getter failed', 'what was thrown is kept as the cause')
})

test("the JS context rules keep the core's bounds (index.js mirrors crates/core/src/limits.rs)", async () => {
  const { createRequire } = await import('node:module')
  const testing = createRequire(import.meta.url)('../index.js')[Symbol.for('yc-iam-token.testing')]
  const rules = testing.contextBounds
  const limits = testing.limits()
  assert.equal(rules.MAX_TOKEN_CHARS, limits.maxTokenChars)
  assert.equal(rules.MAX_TOKEN_LIFETIME_SEC, limits.maxTokenLifetimeSec)
  // And at the edges, the JS rule answers as those bounds say.
  const at = (token) => call({ token })
  await at({ access_token: 't1.' + 'x'.repeat(limits.maxTokenChars - 3), expires_in: limits.maxTokenLifetimeSec })
  await rejectsWith(at({ access_token: 't1.' + 'x'.repeat(limits.maxTokenChars - 2), expires_in: 10 }), 'ERR_INVALID_ARG')
  await rejectsWith(at({ access_token: TOKEN, expires_in: limits.maxTokenLifetimeSec + 1 }), 'ERR_INVALID_ARG')
})
