// A credential library runs inside everyone's production process: it must survive the worst
// input, work in worker threads, and tolerate a local clock a little ahead of IAM's.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Worker } from 'node:worker_threads'

import { tokenFromKey } from './package.mjs'
import { fixture, registeredKey, runNode, sleep, suiteEmulator } from './support.mjs'

const emu = await suiteEmulator()
const { key } = registeredKey(emu)

test('the worst inputs through every public function: the process survives and exits normally', async () => {
  const { code, signal, stdout, stderr } = await runNode(fixture('hardening-worst.mjs'), { timeoutMs: 120_000 })
  assert.equal(signal, null, `killed by ${signal}: ${stderr}`)
  assert.equal(code, 0, stderr)
  assert.match(stdout, /survived \d+ calls/)
  assert.doesNotMatch(stderr, /panick|fatal|Aborted|Segmentation/i)
})

function runWorker(data) {
  const worker = new Worker(fixture('hardening-worker.mjs'), { workerData: data })
  const message = new Promise((resolve, reject) => {
    worker.once('message', resolve)
    worker.once('error', reject)
  })
  return { worker, message }
}

test('worker threads: several at once and the main thread, each gets tokens', async () => {
  const data = { key, iamUrl: emu.iamUrl, metadataUrl: emu.metadataUrl }
  const workers = Array.from({ length: 4 }, () => runWorker(data))
  const [main, ...answers] = await Promise.all([tokenFromKey(key, { endpoint: emu.iamUrl }), ...workers.map((w) => w.message)])
  assert.equal(main.tokenType, 'Bearer')
  assert.deepEqual(answers, Array(4).fill('Bearer Bearer'))
  await Promise.all(workers.map(({ worker }) => worker.terminate()))
})

test('a worker terminated with a call in flight neither crashes the process nor stops the others', async () => {
  emu.fail('iam', { hang: true }, 20)
  for (let round = 0; round < 10; round++) {
    const { worker, message } = runWorker({ key, iamUrl: emu.iamUrl, hang: true })
    assert.equal(await message, 'calling')
    await sleep(20)
    await worker.terminate()
  }
  emu.reset()
  const token = await tokenFromKey(key, { endpoint: emu.iamUrl, cache: false })
  assert.equal(token.tokenType, 'Bearer')
})

test('a local clock a few seconds ahead of IAM is accepted (iat is backdated)', async () => {
  emu.iatLeewaySec = 0 // IAM as strict as can be about iat in the future
  for (const aheadMs of [1000, 3000, 4000]) {
    emu.clockOffsetMs = -aheadMs
    const token = await tokenFromKey(key, { endpoint: emu.iamUrl, cache: false })
    assert.equal(token.tokenType, 'Bearer', `local clock ${aheadMs} ms ahead`)
  }
  emu.clockOffsetMs = -60_000
  await assert.rejects(tokenFromKey(key, { endpoint: emu.iamUrl, cache: false }), { code: 'ERR_IAM_REJECTED', status: 401 })
  emu.reset()
})
