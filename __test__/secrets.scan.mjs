// Run by run.mjs after the suites: no error that any suite provoked, in its message, code,
// stack or util.inspect, contains a private key, a JWT (a subject token too), an IAM token,
// an OAuth token, GitHub's request token, a URL's password or query from the tests, or any 20
// characters of a JWT or token the emulator saw; nor does any diagnostics_channel event the
// package published while they ran.
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
  // The tests' URL userinfo passwords and query strings (hardening2: `http://user:hunter2@…?token=abc`).
  ['a URL password from the tests', /hunter2/],
  ['a URL query from the tests', /token=abc/],
  // A short token glued to what precedes it (`token:t1.…`, `(t1.…)`), as servers' messages
  // put them: the tests' glued tokens are t1.glued….
  ['a glued token', /t1\.glued/i],
]
/** Runs of JWT / token characters this long are looked up in what the emulator saw. */
const WINDOW = 20

const readLines = (file) => (existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [])

test('no provoked error carries a private key, a JWT or a token', () => {
  const log = process.env.YC_TEST_ERROR_LOG
  assert.ok(log && existsSync(log), 'run through __test__/run.mjs, which records the errors')
  const entries = readLines(log)
  const seen = readLines(process.env.YC_TEST_SEEN_LOG)
  const codes = new Set(entries.map((e) => e.code))
  const kinds = (kind) => seen.filter((s) => s.kind === kind).length
  console.log(`# secrets scan: ${entries.length} errors with ${codes.size} codes (${[...codes].sort().join(', ')}); ` +
    `${kinds('jwt')} JWTs and ${kinds('token')} tokens the emulator saw, ${kinds('echo')} answers echoing the request`)
  // Every code the suites are meant to provoke was provoked, so the scan is not vacuous.
  for (const code of ['ERR_INVALID_ARG', 'ERR_INVALID_KEY', 'ERR_NO_SERVICE_ACCOUNT', 'ERR_IAM_REJECTED', 'ERR_UNAVAILABLE', 'ERR_TIMEOUT', 'ABORT_ERR', 'ERR_INVALID_RESPONSE']) {
    assert.ok(codes.has(code), `no ${code} error was recorded`)
  }
  assert.ok(entries.some((e) => e.code === 'DEBUG_EVENT'), 'no diagnostics_channel event was recorded')
  // ...and so were the cases the patterns below are for: servers echoing what they were sent,
  // messages with something blanked, JWTs and tokens to look for.
  assert.ok(kinds('jwt') > 0 && kinds('token') > 0, 'the emulator recorded no JWT or token')
  assert.ok(kinds('echo') > 0, 'no emulator answer echoed a request (hardening2 redaction cases)')
  assert.ok(entries.some((e) => String(e.message).includes('[redacted]')), 'no recorded error had anything blanked')

  const leaks = []
  const fields = ['message', 'code', 'stack', 'inspect']
  for (const entry of entries) {
    for (const field of fields) {
      for (const [what, pattern] of SECRETS) {
        if (pattern.test(String(entry[field]))) leaks.push(`${entry.fn} ${entry.code}: ${what} in its ${field}`)
      }
    }
  }
  // Every WINDOW-character window of the errors' runs of base64url characters, and where it is.
  const windows = new Map()
  for (const entry of entries) {
    for (const field of fields) {
      for (const [run] of String(entry[field]).matchAll(/[A-Za-z0-9_-]{20,}/g)) {
        for (let i = 0; i + WINDOW <= run.length; i++) windows.set(run.slice(i, i + WINDOW), `${entry.fn} ${entry.code} ${field}`)
      }
    }
  }
  for (const { kind, value } of seen) {
    if (kind === 'echo') continue
    // The parts of a JWT or token, without the separators the errors' runs cannot hold.
    for (const part of value.split(/[^A-Za-z0-9_-]/)) {
      for (let i = 0; i + WINDOW <= part.length; i++) {
        const where = windows.get(part.slice(i, i + WINDOW))
        if (where) {
          leaks.push(`${where}: 20 characters of a ${kind} the emulator saw`)
          break
        }
      }
    }
  }
  assert.deepEqual([...new Set(leaks)], [])
})
