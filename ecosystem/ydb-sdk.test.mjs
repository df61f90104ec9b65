// ydb-sdk: a Driver whose authService is ours sends `x-ydb-auth-ticket: <our token>`, proved
// against a local plaintext gRPC server playing a YDB node's discovery service.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'

import ydb from 'ydb-sdk'
import { tokenFromKey } from 'yc-iam-token'

const { Driver, TokenAuthService } = ydb

import { ydbAuthService } from './adapters.mjs'
import { iam, ydbNode } from './support.mjs'

const silent = { fatal() {}, error() {}, warn() {}, info() {}, debug() {}, trace() {} }
let auth, node

before(async () => {
  auth = await iam()
  node = await ydbNode()
})

after(async () => {
  await node?.close()
  await auth?.close()
})

/** Discovery, then a table session (the driver opens one at once): the metadata of both calls. */
async function discover(authService) {
  node.calls.length = 0
  const driver = new Driver({ connectionString: `grpc://${node.address}/local`, authService, logger: silent })
  try {
    assert.equal(await driver.ready(10_000), true, 'the driver became ready')
    await driver.tableClient.withSession(async (session) => assert.match(session.sessionId, /^ydb:\/\/session\//), 10_000)
  } finally {
    await driver.destroy()
  }
  const metadataOf = (method) => {
    const call = node.calls.find((c) => c.path.endsWith(`/${method}`))
    assert.ok(call, `the driver called ${method}`)
    return call.metadata
  }
  const discovery = metadataOf('ListEndpoints')
  const session = metadataOf('CreateSession')
  assert.equal(session['x-ydb-auth-ticket'], discovery['x-ydb-auth-ticket'], 'the table call carries the same ticket')
  return discovery
}

test('ydb-sdk: ydbAuthService(() => tokenFromKey(key)) sends the IAM token as x-ydb-auth-ticket', async () => {
  const metadata = await discover(ydbAuthService(() => tokenFromKey(auth.key, { endpoint: auth.emu.iamUrl })))
  const issued = auth.issued()
  assert.ok(issued.includes(metadata['x-ydb-auth-ticket']), 'a token the IAM emulator issued')
  assert.equal(metadata['x-ydb-database'], '/local')
})

test('ydb-sdk: ydbAuthService(GetTokenOptions) goes through getToken', async () => {
  const metadata = await discover(ydbAuthService({ key: auth.key, endpoint: auth.emu.iamUrl }))
  assert.ok(auth.issued().includes(metadata['x-ydb-auth-ticket']))
})

test('ydb-sdk: without the adapter, TokenAuthService(token) works with a fixed token', async () => {
  const { accessToken } = await tokenFromKey(auth.key, { endpoint: auth.emu.iamUrl })
  const metadata = await discover(new TokenAuthService(accessToken))
  assert.equal(metadata['x-ydb-auth-ticket'], accessToken)
})
