// Reads the ASan / LSan reports scripts/asan.sh collected (ASAN_OPTIONS log_path: one file per
// process that had something to report) and decides: exit 1 if any report is in our code, 0
// otherwise. A report is ours when a frame of its stack is in the addon: a Rust source file
// (`.rs:`, node has no Rust), the addon's file name, or a `yc_iam_token` symbol.
//   node scripts/asan/report.mjs <dir> <addon file name>
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

const [dir, addon] = process.argv.slice(2)
const ours = (frame) => frame.includes('.rs:') || frame.includes(addon) || frame.includes('yc_iam_token')

// Leaks in the addon's module that are understood and not ours to fix: each is matched when
// all of its patterns are in one leak's stack.
const KNOWN = [
  {
    why: 'napi-rs keeps a napi reference per class per env and never deletes it: a worker thread that loads the addon leaves 40 bytes behind (hardening: the worker tests)',
    all: [/napi_create_reference/, /register_classes/],
  },
  {
    why: 'a call still in flight when its worker thread is terminated: its promise can no longer be settled, so Node never frees the napi_deferred (8 bytes each; hardening: "a worker terminated with a call in flight")',
    all: [/napi_create_promise/, /js_deferred_new_raw/],
  },
]

const files = readdirSync(dir).filter((f) => /^asan\.\d+$/.test(f)).sort()
const findings = { ours: [], known: new Map(), theirs: 0 }
for (const file of files) {
  const text = readFileSync(join(dir, file), 'utf8')
  const header = /==\d+==ERROR: (\w+Sanitizer): ([^\n]*)/.exec(text)
  if (!header) continue
  if (header[1] === 'AddressSanitizer') {
    // A memory error: the process stopped there (halt_on_error). Its first stack is the access.
    const frames = text.split('\n').filter((l) => /^\s+#\d+ /.test(l))
    if (frames.some(ours)) findings.ours.push(`${file}: ${header[2]}\n${frames.slice(0, 12).join('\n')}`)
    else {
      findings.theirs++
      console.log(`# ${file}: ${header[2]} outside the addon (not failing):\n${frames.slice(0, 6).join('\n')}`)
    }
    continue
  }
  // LeakSanitizer: blocks "Direct|Indirect leak of N byte(s) in M object(s) allocated from:" + frames.
  for (const block of text.split(/\n(?=(?:Direct|Indirect) leak of )/).slice(1)) {
    const [title, ...rest] = block.split('\n')
    const frames = rest.filter((l) => /^\s+#\d+ /.test(l))
    if (!frames.some(ours)) {
      findings.theirs++
      continue
    }
    const known = KNOWN.find((k) => k.all.every((p) => frames.some((f) => p.test(f))))
    if (known) findings.known.set(known.why, (findings.known.get(known.why) ?? 0) + 1)
    else findings.ours.push(`${file}: ${title}\n${frames.slice(0, 16).join('\n')}`)
  }
}

console.log(`# ASan: ${files.length} report files; ${findings.theirs} findings outside the addon (Node, V8, libuv, tools: ignored)`)
for (const [why, count] of findings.known) console.log(`# known, not failing (${count}×): ${why}`)
if (findings.ours.length) {
  console.log(`# ${findings.ours.length} findings in the addon:`)
  for (const finding of findings.ours) console.log(finding + '\n')
  process.exit(1)
}
console.log('# no ASan or LSan finding in the addon')
