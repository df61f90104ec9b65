// tokenFromFederation: a workload's OIDC token (a subject token) exchanged at the emulated
// token-exchange service, from text, a file (read again at every refresh) or GitHub Actions'
// ID-token endpoint; and every way that fails.
import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeEach, test } from 'node:test'

import { _testing, tokenFromFederation } from './package.mjs'
import {
  VERSION, assertHides, lastRequest, promiseFrom, randomId, rejectsWith, suiteEmulator, suiteTempDir, until,
} from './support.mjs'

const ENV = ['YC_SERVICE_ACCOUNT_ID', 'YC_ID_TOKEN', 'YC_ID_TOKEN_FILE', 'ACTIONS_ID_TOKEN_REQUEST_URL', 'ACTIONS_ID_TOKEN_REQUEST_TOKEN']
const emu = await suiteEmulator({ clearCache: true })
const dir = suiteTempDir('yc-federation-')
const SA = randomId()
const SUBJECT = 'system:serviceaccount:ci:deployer'
emu.bindSubject(SA, SUBJECT)
emu.bindSubject(SA, emu.githubSubject)

beforeEach(() => {
  for (const name of ENV) delete process.env[name]
})

const options = (more) => ({ endpoint: emu.exchangeUrl, serviceAccountId: SA, ...more })
const mint = (more) => emu.mintSubjectToken({ sub: SUBJECT, ...more })
/** The parts of a JWT that must never be in an error (each part alone is telling). */
const partsOf = (jwt) => jwt.split('.')
let files = 0
const tokenFile = (text) => {
  const file = join(dir, `token-${++files}`)
  writeFileSync(file, text)
  return file
}

test('a subject token is exchanged: the form on the wire, the answer as an IamToken', async () => {
  const subject = mint()
  const before = Date.now()
  const token = await tokenFromFederation(options({ subjectToken: subject }))
  const rec = lastRequest(emu, 'exchange')
  assert.equal(rec.method, 'POST')
  assert.equal(rec.headers['content-type'], 'application/x-www-form-urlencoded')
  assert.equal(rec.headers['user-agent'], `yc-iam-token/${VERSION}`)
  assert.deepEqual(rec.form, {
    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
    requested_token_type: 'urn:ietf:params:oauth:token-type:access_token',
    audience: SA,
    subject_token: '[redacted]',
    subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
  })
  assert.equal(new URLSearchParams(rec.body).get('subject_token'), subject, 'form-encoded, whole')
  assert.equal(token.accessToken, rec.response.access_token)
  assert.equal(token.tokenType, 'Bearer')
  const lifetime = token.expiresAt.getTime() - before
  assert.ok(lifetime > 43_190_000 && lifetime <= 43_201_000, `${lifetime}`)
  assert.ok(Object.isFrozen(token))
})

test('cached per (endpoint, service account, subject): the same token text is one entry, another is another', async () => {
  const subject = mint()
  const first = await tokenFromFederation(options({ subjectToken: subject }))
  const again = await tokenFromFederation(options({ subjectToken: subject }))
  assert.equal(again.accessToken, first.accessToken)
  assert.equal(emu.count('exchange'), 1)
  const other = await tokenFromFederation(options({ subjectToken: mint() }))
  assert.notEqual(other.accessToken, first.accessToken)
  assert.equal(emu.count('exchange'), 2)
  await tokenFromFederation(options({ subjectToken: subject, cache: false }))
  assert.equal(emu.count('exchange'), 3, 'cache: false asks again')
})

test('a rejected subject token (no federated credential for its subject): ERR_IAM_REJECTED, the OAuth error, no token', async () => {
  const subject = emu.mintSubjectToken({ sub: 'repo:someone/else:ref:refs/heads/main' })
  const error = await rejectsWith(tokenFromFederation(options({ subjectToken: subject })), 'ERR_IAM_REJECTED')
  assert.equal(error.status, 400)
  assert.match(error.message, /invalid_grant/)
  assert.match(error.message, /no federated credential binds subject/)
  assert.match(error.message, /federated-credential list/, 'it says what to check')
  assertHides(error, partsOf(subject))
})

test('an expired subject token is rejected as such', async () => {
  const subject = mint({ expiresInSec: -120 })
  const error = await rejectsWith(tokenFromFederation(options({ subjectToken: subject })), 'ERR_IAM_REJECTED')
  assert.match(error.message, /invalid_grant: "subject token has expired"/)
  assertHides(error, partsOf(subject))
})

test('a subject token for another audience is rejected', async () => {
  const subject = mint({ aud: 'https://kubernetes.default.svc' })
  const error = await rejectsWith(tokenFromFederation(options({ subjectToken: subject })), 'ERR_IAM_REJECTED')
  assert.match(error.message, /audience/)
  assertHides(error, partsOf(subject))
})

test('a subject token not signed by the issuer is rejected', async () => {
  const subject = mint({ foreignKey: true })
  const error = await rejectsWith(tokenFromFederation(options({ subjectToken: subject })), 'ERR_IAM_REJECTED')
  assert.match(error.message, /signature/)
})

test('a rejection evicts a cached entry: the next call asks again', async () => {
  const subject = mint()
  await tokenFromFederation(options({ subjectToken: subject }))
  emu.unbindSubject(SA, SUBJECT)
  try {
    _testing.advanceClock(12 * 3600_000 - 60_000) // one minute left: the call waits for a refresh
    await rejectsWith(tokenFromFederation(options({ subjectToken: subject })), 'ERR_IAM_REJECTED')
    assert.equal(emu.count('exchange'), 2)
  } finally {
    emu.bindSubject(SA, SUBJECT)
  }
})

test('a subject token file is read at every upstream request: a rotated token is used at the next refresh', async () => {
  const first = mint()
  const file = tokenFile(first + '\n')
  const token = await tokenFromFederation(options({ subjectTokenFile: file }))
  assert.equal(lastRequest(emu, 'exchange').subject.claims.jti, JSON.parse(Buffer.from(first.split('.')[1], 'base64url')).jti)
  const rotated = mint()
  writeFileSync(file, rotated)
  assert.equal((await tokenFromFederation(options({ subjectTokenFile: file }))).accessToken, token.accessToken, 'fresh: from the cache')
  assert.equal(emu.count('exchange'), 1)
  _testing.advanceClock(3600_000 + 1000) // stale: answered at once, refreshed behind
  assert.equal((await tokenFromFederation(options({ subjectTokenFile: file }))).accessToken, token.accessToken)
  assert.ok(await until(() => emu.count('exchange') === 2), 'a background refresh')
  const jti = JSON.parse(Buffer.from(rotated.split('.')[1], 'base64url')).jti
  assert.equal(lastRequest(emu, 'exchange').subject.claims.jti, jti, 'the refresh read the file again')
  // Without the cache, each call reads the file afresh.
  const third = mint()
  writeFileSync(file, third)
  await tokenFromFederation(options({ subjectTokenFile: file, cache: false }))
  assert.equal(lastRequest(emu, 'exchange').subject.claims.jti, JSON.parse(Buffer.from(third.split('.')[1], 'base64url')).jti)
})

test('an unreadable token file: ERR_INVALID_ARG naming the option, and nothing is sent', async () => {
  const folder = join(dir, 'a-folder')
  mkdirSync(folder, { recursive: true })
  const cases = [
    [join(dir, 'missing-token'), /no such file/],
    [folder, /not a regular file/],
    [tokenFile('x'.repeat(64 * 1024 + 1)), /64 KiB/],
    [tokenFile('   \n'), /empty/],
    [tokenFile('two words'), /characters an OIDC token cannot have/],
  ]
  for (const [path, why] of cases) {
    const error = await rejectsWith(tokenFromFederation(options({ subjectTokenFile: path })), 'ERR_INVALID_ARG', path)
    assert.match(error.message, /subjectTokenFile/)
    assert.match(error.message, why)
  }
  assert.equal(emu.count('exchange'), 0)
})

test('the environment fills what is left out: YC_SERVICE_ACCOUNT_ID, YC_ID_TOKEN, YC_ID_TOKEN_FILE', async () => {
  process.env.YC_SERVICE_ACCOUNT_ID = SA
  process.env.YC_ID_TOKEN_FILE = tokenFile(mint())
  await tokenFromFederation({ endpoint: emu.exchangeUrl })
  assert.equal(new URLSearchParams(lastRequest(emu, 'exchange').body).get('audience'), SA)
  const fromEnv = mint()
  process.env.YC_ID_TOKEN = fromEnv
  await tokenFromFederation({ endpoint: emu.exchangeUrl })
  assert.equal(new URLSearchParams(lastRequest(emu, 'exchange').body).get('subject_token'), fromEnv, 'YC_ID_TOKEN before the file')
  const explicit = mint()
  await tokenFromFederation({ endpoint: emu.exchangeUrl, subjectToken: explicit })
  assert.equal(new URLSearchParams(lastRequest(emu, 'exchange').body).get('subject_token'), explicit, 'an option before the environment')
})

test('GitHub Actions: the job token is asked for with the request token, the audience passed on', async () => {
  process.env.ACTIONS_ID_TOKEN_REQUEST_URL = emu.githubUrl
  process.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN = emu.githubBearer
  const token = await tokenFromFederation(options({ audience: 'yc-iam-token-tests' }))
  const asked = lastRequest(emu, 'github')
  assert.equal(asked.method, 'GET')
  assert.equal(asked.headers.authorization, `Bearer ${emu.githubBearer}`)
  assert.equal(new URL(asked.path, emu.origin).searchParams.get('api-version'), '2.0', 'the URL kept its own query')
  assert.equal(new URL(asked.path, emu.origin).searchParams.get('audience'), 'yc-iam-token-tests')
  const exchanged = lastRequest(emu, 'exchange')
  assert.equal(exchanged.subject.claims.sub, emu.githubSubject)
  assert.equal(exchanged.subject.claims.aud, 'yc-iam-token-tests')
  assert.match(token.accessToken, /^t1\./)
})

test("GitHub Actions without an audience: GitHub's default one", async () => {
  process.env.ACTIONS_ID_TOKEN_REQUEST_URL = emu.githubUrl
  process.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN = emu.githubBearer
  emu.subjectAudiences = [emu.githubDefaultAudience]
  await tokenFromFederation(options())
  assert.equal(new URL(lastRequest(emu, 'github').path, emu.origin).searchParams.get('audience'), null)
  assert.equal(lastRequest(emu, 'exchange').subject.claims.aud, emu.githubDefaultAudience)
})

test('GitHub Actions without `id-token: write` (403): ERR_IAM_REJECTED saying so, no exchange, no request token', async () => {
  process.env.ACTIONS_ID_TOKEN_REQUEST_URL = emu.githubUrl
  process.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN = emu.githubBearer
  emu.githubStatus = 403
  const error = await rejectsWith(tokenFromFederation(options()), 'ERR_IAM_REJECTED')
  assert.equal(error.status, 403)
  assert.match(error.message, /id-token: write/)
  assert.equal(emu.count('exchange'), 0)
  assertHides(error, [emu.githubBearer, 'api-version'])
})

test('GitHub Actions with a wrong request token (401): ERR_IAM_REJECTED, the request token hidden', async () => {
  process.env.ACTIONS_ID_TOKEN_REQUEST_URL = emu.githubUrl
  process.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN = emu.githubBearer + '-stale'
  const error = await rejectsWith(tokenFromFederation(options()), 'ERR_IAM_REJECTED')
  assert.equal(error.status, 401)
  assertHides(error, [emu.githubBearer])
})

test('no subject source at all: ERR_INVALID_ARG saying what to pass, before any request', async () => {
  process.env.ACTIONS_ID_TOKEN_REQUEST_URL = emu.githubUrl // one of GitHub's two is not enough
  const error = await rejectsWith(tokenFromFederation(options()), 'ERR_INVALID_ARG')
  for (const what of ['subjectToken', 'subjectTokenFile', 'YC_ID_TOKEN', 'id-token: write']) {
    assert.ok(error.message.includes(what), `${what} in: ${error.message}`)
  }
  assert.equal(emu.requests.length, 0)
})

test('bad options reject with ERR_INVALID_ARG, never throw', async () => {
  const subjectToken = mint()
  const cases = [
    { endpoint: emu.exchangeUrl, subjectToken }, // no serviceAccountId, none in the environment
    options({ subjectToken, subjectTokenFile: tokenFile(subjectToken) }),
    options({ subjectToken: 42 }),
    options({ subjectToken: 'not a token' }),
    options({ serviceAccountId: '' , subjectToken }),
    options({ subjectToken, endpoint: 'auth.yandex.cloud/oauth/token' }),
    options({ subjectToken, audience: 'only for GitHub' }),
    options({ subjectToken, timeoutMs: 0 }),
    options({ subjectTokenFile: subjectToken }), // a token where a path belongs
    'options',
  ]
  for (const bad of cases) {
    const error = await rejectsWith(promiseFrom(() => tokenFromFederation(bad)), 'ERR_INVALID_ARG', JSON.stringify(bad).slice(0, 80))
    assertHides(error, partsOf(subjectToken))
  }
  assert.equal(emu.requests.length, 0)
})

test('429 and 5xx from the exchange are retried; the answer after them is used', async () => {
  emu.fail('exchange', { status: 503 })
  emu.fail('exchange', { status: 429, retryAfter: 0 })
  const token = await tokenFromFederation(options({ subjectToken: mint(), retries: 2 }))
  assert.match(token.accessToken, /^t1\./)
  assert.equal(emu.count('exchange'), 3)
  emu.fail('exchange', { status: 500 }, 2)
  const error = await rejectsWith(tokenFromFederation(options({ subjectToken: mint(), retries: 1 })), 'ERR_UNAVAILABLE')
  assert.equal(error.status, 500)
})

test("GitHub's 5xx is retried inside the same call", async () => {
  process.env.ACTIONS_ID_TOKEN_REQUEST_URL = emu.githubUrl
  process.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN = emu.githubBearer
  emu.subjectAudiences = [emu.githubDefaultAudience]
  emu.fail('github', { status: 502 })
  await tokenFromFederation(options())
  assert.equal(emu.count('github'), 2)
  assert.equal(emu.count('exchange'), 1)
})

test('a 200 that is not the documented answer: ERR_INVALID_RESPONSE', async () => {
  emu.fail('exchange', { json: { access_token: 't1.x', expires_in: 43200, token_type: 'MAC' } })
  await rejectsWith(tokenFromFederation(options({ subjectToken: mint() })), 'ERR_INVALID_RESPONSE')
  emu.fail('exchange', { garbage: true })
  await rejectsWith(tokenFromFederation(options({ subjectToken: mint() })), 'ERR_INVALID_RESPONSE')
})

test('a hanging exchange ends within timeoutMs; a signal aborts the wait', async () => {
  emu.fail('exchange', { hang: true })
  const started = performance.now()
  await rejectsWith(tokenFromFederation(options({ subjectToken: mint(), timeoutMs: 300 })), 'ERR_TIMEOUT')
  assert.ok(performance.now() - started < 1500)
  emu.fail('exchange', { hang: true })
  const controller = new AbortController()
  const pending = tokenFromFederation(options({ subjectToken: mint(), signal: controller.signal }))
  setTimeout(() => controller.abort(), 50)
  const error = await rejectsWith(pending, 'ABORT_ERR')
  assert.equal(error.name, 'AbortError')
})
