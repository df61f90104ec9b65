// @yandex-cloud/nodejs-sdk: a Session whose calls carry `Authorization: Bearer <our token>`,
// proved against a local TLS gRPC server playing Resource Manager's CloudService.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'

import { Session } from '@yandex-cloud/nodejs-sdk'
import { cloudService } from '@yandex-cloud/nodejs-sdk/resourcemanager-v1'
import { tokenFromKey } from 'yc-iam-token'

import { createSession } from './adapters.mjs'
import { grpcServer, iam, tls } from './support.mjs'

const { CloudServiceClient, CloudServiceService, ListCloudsRequest, ListCloudsResponse } = cloudService
let auth, certs, server

before(async () => {
  auth = await iam()
  certs = tls()
  server = await grpcServer(
    [[CloudServiceService, { list: () => ListCloudsResponse.fromPartial({ clouds: [{ id: 'b1gcloud', name: 'test' }] }) }]],
    { tls: certs },
  )
})

after(async () => {
  await server?.close()
  await auth?.close()
  certs?.cleanup()
})

const ssl = () => ({ rootCerts: Buffer.from(certs.caPem) })
const authorization = (call) => call.metadata.authorization
const list = (session) => session.client(CloudServiceClient, server.address).list(ListCloudsRequest.fromPartial({ pageSize: 10 }))

test('nodejs-sdk: createSession(() => tokenFromKey(key)) sends Bearer <the IAM token> over TLS', async () => {
  server.calls.length = 0
  const session = createSession(() => tokenFromKey(auth.key, { endpoint: auth.emu.iamUrl }), { ssl: ssl(), headers: { 'x-client-request-id': 'r-1' } })
  assert.ok(session instanceof Session)
  const answer = await list(session)
  assert.deepEqual(answer.clouds.map((c) => c.id), ['b1gcloud'])
  assert.equal(server.calls.length, 1)
  const [token] = auth.issued()
  assert.match(token, /^t1\./)
  assert.equal(authorization(server.calls[0]), `Bearer ${token}`)
  assert.equal(server.calls[0].metadata['x-client-request-id'], 'r-1', 'the Session config headers still go out')
})

test('nodejs-sdk: createSession(GetTokenOptions) goes through getToken (options.key)', async () => {
  server.calls.length = 0
  const session = createSession({ key: auth.key, endpoint: auth.emu.iamUrl }, { ssl: ssl() })
  await list(session)
  assert.ok(auth.issued().includes(authorization(server.calls[0]).slice('Bearer '.length)))
})

test('nodejs-sdk: the token is asked for on every call, so a refreshed token goes out', async () => {
  server.calls.length = 0
  let n = 0
  const session = createSession(() => `t1.rotated-${++n}`, { ssl: ssl() })
  await list(session)
  await list(session)
  assert.deepEqual(server.calls.map(authorization), ['Bearer t1.rotated-1', 'Bearer t1.rotated-2'])
})

test("nodejs-sdk: without the adapter, Session({ iamToken }) sends our token too, fixed at construction", async () => {
  server.calls.length = 0
  const { accessToken } = await tokenFromKey(auth.key, { endpoint: auth.emu.iamUrl })
  const session = new Session({ iamToken: accessToken, ssl: ssl() })
  await list(session)
  assert.equal(authorization(server.calls[0]), `Bearer ${accessToken}`)
})

test('nodejs-sdk: a refused key fails the call as UNAUTHENTICATED with our message, and nothing reaches the server', async () => {
  server.calls.length = 0
  const session = createSession({ key: { ...auth.key, id: 'ajeunknownkey0000000' }, endpoint: auth.emu.iamUrl, retries: 0 }, { ssl: ssl() })
  await assert.rejects(list(session), (error) => {
    assert.equal(error.code, 16, 'UNAUTHENTICATED')
    assert.match(error.message, /rejected the key with 401/)
    return true
  })
  assert.equal(server.calls.length, 0)
})

test('nodejs-sdk: IAM unreachable fails the call as UNAVAILABLE (what the SDK retries)', async () => {
  server.calls.length = 0
  const session = createSession({ key: auth.key, endpoint: 'http://127.0.0.1:9/iam/v1/tokens', retries: 0, timeoutMs: 2000 }, { ssl: ssl() })
  await assert.rejects(list(session), (error) => {
    assert.equal(error.code, 14, 'UNAVAILABLE')
    return true
  })
  assert.equal(server.calls.length, 0)
})
