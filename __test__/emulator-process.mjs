// The emulator in a process of its own (for soak runs and benchmarks, where its memory and
// CPU must not count as the client's). Reads the key to register from KEY_JSON, prints
// {origin, iamUrl, metadataUrl, metadataAddr} as one JSON line, and exits when stdin closes.
import { startEmulator } from './emulator.mjs'

const emu = await startEmulator()
if (process.env.KEY_JSON) emu.registerKey(JSON.parse(process.env.KEY_JSON))
const { origin, iamUrl, metadataUrl, metadataAddr } = emu
process.stdout.write(JSON.stringify({ origin, iamUrl, metadataUrl, metadataAddr }) + '\n')
setInterval(() => (emu.requests.length = 0), 1000).unref()
process.stdin.resume()
process.stdin.on('end', () => emu.close().then(() => process.exit(0)))
