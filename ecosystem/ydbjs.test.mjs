// @ydbjs/core: a Driver whose credentialsProvider is ours sends `x-ydb-auth-ticket: <our token>`
// on discovery and on every call, proved against a local plaintext gRPC server.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'

import { CredentialsProvider } from '@ydbjs/auth'
import { DiscoveryServiceDefinition, WhoAmIResultSchema } from '@ydbjs/api/discovery'
import { anyUnpack } from '@bufbuild/protobuf/wkt'
import { Driver } from '@ydbjs/core'
import { tokenFromKey } from 'yc-iam-token'

import { ydbjsCredentialsProvider } from './adapters.mjs'
import { iam, ydbNode } from './support.mjs'

let auth, node

before(async () => {
  auth = await iam()
  node = await ydbNode({ user: 'sa-under-test@as' })
})

after(async () => {
  await node?.close()
  await auth?.close()
})

test('@ydbjs: ydbjsCredentialsProvider(() => tokenFromKey(key)) is a CredentialsProvider whose token goes out as x-ydb-auth-ticket', async () => {
  node.calls.length = 0
  const credentialsProvider = ydbjsCredentialsProvider(() => tokenFromKey(auth.key, { endpoint: auth.emu.iamUrl }))
  assert.ok(credentialsProvider instanceof CredentialsProvider)
  const driver = new Driver(`grpc://${node.address}/local`, { credentialsProvider, 'ydb.sdk.ready_timeout_ms': 10_000 })
  try {
    await driver.ready()
    const answer = await driver.createClient(DiscoveryServiceDefinition).whoAmI({})
    assert.equal(anyUnpack(answer.operation.result, WhoAmIResultSchema).user, 'sa-under-test@as')
    assert.ok(auth.issued().includes(await driver.token))
  } finally {
    driver.close()
  }
  const paths = node.calls.map((c) => c.path.split('/').pop())
  assert.deepEqual(paths, ['ListEndpoints', 'WhoAmI'])
  const issued = auth.issued()
  for (const call of node.calls) assert.ok(issued.includes(call.metadata['x-ydb-auth-ticket']), `${call.path}: a token the IAM emulator issued`)
})

test('@ydbjs: ydbjsCredentialsProvider(GetTokenOptions) goes through getToken, and hands getToken its signal', async () => {
  node.calls.length = 0
  const seen = []
  const credentialsProvider = ydbjsCredentialsProvider(({ signal }) => {
    seen.push(signal)
    return tokenFromKey(auth.key, { endpoint: auth.emu.iamUrl, signal })
  })
  const driver = new Driver(`grpc://${node.address}/local`, { credentialsProvider, 'ydb.sdk.ready_timeout_ms': 10_000 })
  try {
    await driver.ready()
  } finally {
    driver.close()
  }
  assert.ok(seen.length >= 1 && seen.every((s) => s === undefined || s instanceof AbortSignal))
  const viaOptions = ydbjsCredentialsProvider({ key: auth.key, endpoint: auth.emu.iamUrl })
  assert.ok(auth.issued().includes(await viaOptions.getToken()))
})
