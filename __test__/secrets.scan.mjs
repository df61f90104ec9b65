// Run by run.mjs after the suites: no error that any suite provoked, in its message, code,
// stack or util.inspect, contains a private key, a JWT (a subject token too), an IAM token,
// an OAuth token or GitHub's request token; nor does any diagnostics_channel event the package
// published while they ran.
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { test } from 'node:test'

const SECRETS = [
  ['a PEM private key', /-----BEGIN [A-Z ]*PRIVATE KEY-----\s*[A-Za-z0-9+/]{16}/],
  ['base64 key material', /MII[A-Za-z0-9+/]{20}/],
  ['a JWT', /eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}/],
  ['an IAM token', /\bt1\.[A-Za-z0-9_-]{20,}/],
  // A subject token (an OIDC JWT, header or claims alone too) and a user's OAuth token.
  ['a JWT header or claims', /eyJ[A-Za-z0-9_-]{20,}/],
  ['an OAuth token', /\b(?:y[0-9]_[A-Za-z0-9_-]{16,}|AQAAAA[A-Za-z0-9_-]{16,})/],
  // The emulator's GitHub ID-token request token (ACTIONS_ID_TOKEN_REQUEST_TOKEN).
  ['a GitHub request token', /ghs_emulator-request-token-/],
]

test('no provoked error carries a private key, a JWT or a token', () => {
  const log = process.env.YC_TEST_ERROR_LOG
  assert.ok(log && existsSync(log), 'run through __test__/run.mjs, which records the errors')
  const entries = readFileSync(log, 'utf8').trim().split('\n').map((line) => JSON.parse(line))
  const codes = new Set(entries.map((e) => e.code))
  console.log(`# secrets scan: ${entries.length} errors with ${codes.size} codes (${[...codes].sort().join(', ')})`)
  // Every code the suites are meant to provoke was provoked, so the scan is not vacuous.
  for (const code of ['ERR_INVALID_ARG', 'ERR_INVALID_KEY', 'ERR_NO_SERVICE_ACCOUNT', 'ERR_IAM_REJECTED', 'ERR_UNAVAILABLE', 'ERR_TIMEOUT', 'ABORT_ERR', 'ERR_INVALID_RESPONSE']) {
    assert.ok(codes.has(code), `no ${code} error was recorded`)
  }
  assert.ok(entries.some((e) => e.code === 'DEBUG_EVENT'), 'no diagnostics_channel event was recorded')
  const leaks = []
  for (const entry of entries) {
    for (const field of ['message', 'code', 'stack', 'inspect']) {
      for (const [what, pattern] of SECRETS) {
        if (pattern.test(String(entry[field]))) leaks.push(`${entry.fn} ${entry.code}: ${what} in its ${field}`)
      }
    }
  }
  assert.deepEqual(leaks, [])
})
