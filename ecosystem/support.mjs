// What the SDK tests share: the IAM emulator with a registered key, and local gRPC servers on
// 127.0.0.1 that record the metadata of every call they get. Every server closes itself after
// SERVER_LIFETIME_MS even if a test forgets to.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { create } from '@bufbuild/protobuf'
import { anyPack } from '@bufbuild/protobuf/wkt'
import * as grpc from '@grpc/grpc-js'
import { DiscoveryServiceDefinition, ListEndpointsResultSchema, WhoAmIResultSchema } from '@ydbjs/api/discovery'
import { StatusIds_StatusCode } from '@ydbjs/api/operation'
import { CreateSessionResultSchema, KeepAliveResult_SessionStatus, KeepAliveResultSchema, TableServiceDefinition } from '@ydbjs/api/table'

import { startEmulator } from '../__test__/emulator.mjs'
import { generateAuthorizedKey } from '../__test__/keys.mjs'
import { makeTestCA } from '../__test__/tls.mjs'

const SERVER_LIFETIME_MS = 30_000

// No call in these tests may reach a real metadata service: a closed loopback port unless a
// test sets it. (The SDKs' own metadata providers are never constructed here.)
process.env.YC_METADATA_ADDR ??= '127.0.0.1:9'

/** The IAM emulator with one registered key; `issued()` lists the IAM tokens it handed out. */
export async function iam() {
  const emu = await startEmulator()
  const { key } = generateAuthorizedKey()
  emu.registerKey(key)
  return {
    emu,
    key,
    issued: () => emu.requests.filter((r) => r.kind === 'iam' && r.response?.iamToken).map((r) => r.response.iamToken),
    close: () => emu.close(),
  }
}

/** A throwaway CA and a 127.0.0.1 server certificate (openssl), removed by `cleanup()`. */
export function tls() {
  const dir = mkdtempSync(join(tmpdir(), 'yc-iam-token-eco-tls-'))
  return { ...makeTestCA(dir), cleanup: () => rmSync(dir, { recursive: true, force: true }) }
}

const toBuffer = (bytes) => (Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))

/**
 * A gRPC server on 127.0.0.1 with the given services ([definition, implementation] pairs),
 * plaintext or TLS. `calls` records { path, metadata } for every call it gets.
 */
export async function grpcServer(services, { tls: certs } = {}) {
  const calls = []
  const server = new grpc.Server()
  for (const [definition, implementation] of services) {
    // Method entries only: @ydbjs/api's definitions also carry `name` and `fullName` strings.
    // And they serialize to a Uint8Array, where a grpc-js server wants a Buffer.
    const methods = Object.fromEntries(
      Object.entries(definition)
        .filter(([, m]) => typeof m?.path === 'string')
        .map(([name, m]) => [name, { ...m, responseSerialize: (value) => toBuffer(m.responseSerialize(value)) }]),
    )
    const wrapped = {}
    for (const [name, method] of Object.entries(methods)) {
      const impl = implementation[name]
      if (!impl) continue
      wrapped[name] = (call, callback) => {
        calls.push({ path: method.path, metadata: call.metadata.getMap() })
        Promise.resolve()
          .then(() => impl(call.request, call.metadata))
          .then((answer) => callback(null, answer), (error) => callback(error))
      }
    }
    server.addService(methods, wrapped)
  }
  const credentials = certs
    ? grpc.ServerCredentials.createSsl(null, [{ cert_chain: Buffer.from(certs.cert), private_key: Buffer.from(certs.key) }], false)
    : grpc.ServerCredentials.createInsecure()
  const port = await new Promise((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', credentials, (error, port) => (error ? reject(error) : resolve(port))),
  )
  let closed = false
  const close = () => {
    if (closed) return Promise.resolve()
    closed = true
    clearTimeout(deadline)
    return new Promise((resolve) => server.tryShutdown(() => resolve())).then(() => server.forceShutdown())
  }
  const deadline = setTimeout(() => void close(), SERVER_LIFETIME_MS)
  deadline.unref()
  return { port, address: `127.0.0.1:${port}`, calls, close }
}

/**
 * A YDB node as far as discovery and table sessions go: ListEndpoints names this very server,
 * WhoAmI answers `user`, CreateSession/KeepAlive/DeleteSession succeed (ydb-sdk's driver opens
 * table sessions as soon as it has discovered). Every call it gets is in `calls`.
 */
export async function ydbNode({ user = 'test-sa@as' } = {}) {
  const ok = (schema, result) => ({
    operation: { ready: true, status: StatusIds_StatusCode.SUCCESS, ...(schema && { result: anyPack(schema, create(schema, result)) }) },
  })
  let port
  let sessions = 0
  const server = await grpcServer([
    [
      DiscoveryServiceDefinition,
      {
        listEndpoints: () =>
          ok(ListEndpointsResultSchema, { endpoints: [{ address: '127.0.0.1', port, ssl: false, service: ['table', 'discovery'] }] }),
        whoAmI: () => ok(WhoAmIResultSchema, { user }),
      },
    ],
    [
      TableServiceDefinition,
      {
        createSession: () => ok(CreateSessionResultSchema, { sessionId: `ydb://session/3?node_id=1&id=s${++sessions}` }),
        keepAlive: () => ok(KeepAliveResultSchema, { sessionStatus: KeepAliveResult_SessionStatus.READY }),
        deleteSession: () => ok(undefined),
      },
    ],
  ])
  port = server.port
  return server
}
