'use strict'

// The JS half of the token cache: it answers a fresh cached token on the calling thread, with
// no trip through the native runtime (an `await` of a native async call costs ~70 µs; a hit here
// costs nanoseconds to a microsecond), and shares one native call among callers that ask at the
// same time. It only repeats what the native cache said: a token is kept for as long as the
// native side called it fresh (`freshForMs`), never past the point where a refresh is due.
//
// Identity is the key's content, not how it was passed: an object, its JSON text, a Buffer of
// it and a changed-in-place object are told apart by (key id, service account id, private key).
// Hashing a 2 KB private key costs V8 ~4 µs, so the maps are keyed by a 64-character sample of
// the key material and every hit is confirmed by comparing the whole private key (a memcmp).
// Paths are keyed by the path (the file is read again by the native side at each refresh).
// Every map is bounded; the least recently used entries go first.
//
// In front of the maps, one-entry caches answer the case every program has, one key passed
// again and again, without building a map key: the last object with an entry (held: one object;
// per object, the fields it held when last seen: an unchanged object compares its own strings,
// pointer-equal), the last key
// content, the last JSON text and the last Buffer's bytes, and per record the last endpoint's
// slot. Each repeats what the maps would answer; none holds more than one entry.

// The global `Buffer` is a getter: ~8 ns a read.
const { Buffer } = require('node:buffer')

const SAMPLE_CHARS = 64
const NO_ENDPOINT = Symbol('no endpoint looked up yet')

let clockOffsetMs = 0
// Two readings of one monotonic clock (uv_hrtime). A hit compares with performance.now(): of the
// two the cheaper per call (~45 ns less here than process.hrtime(), whose array it must build).
// But the global `performance`'s first read loads Node's perf modules, ~1.1 ms, which a program
// that asks once and exits (a cold start) should not pay: a fresh answer is stamped with
// process.hrtime(), and the first hit on it converts the stamp (PENDING) to performance.now()'s
// reading. Both are milliseconds of the same clock: the deadline stays where it was.
let performance // globalThis.performance, read by the first hit
const PENDING = -1
const now = () => performance.now() + clockOffsetMs
const hrNow = () => {
  const t = process.hrtime()
  return t[0] * 1e3 + t[1] / 1e6 + clockOffsetMs
}

/** The freshness deadline of a PENDING slot, on now()'s reading from now on. */
function deadline(slot) {
  performance ??= globalThis.performance
  slot.freshUntil = now() + (slot.freshUntilHr - hrNow())
  return slot.freshUntil
}

let identities = new Map() // `${id}\n${sa}\n${sample}` → Record
let texts = new Map() // `${length}:${sample}` → { text, record }
let paths = new Map() // path → Record
let objects = new WeakMap() // key object → { fields: as last read from it, record }
let metadata = newRecord()
let lastObject // the key object last answered from its entry in `objects`, and that entry
let lastObjectEntry
let lastFields // the Record recordOfFields answered last
let lastText // the JSON text recordOfText answered last, and its Record
let lastTextRecord
let lastBytes // a copy of the last Buffer recordOfKey answered, and its Record
let lastBytesRecord

function newRecord(fields) {
  return { fields, slots: new Map(), lastEndpoint: NO_ENDPOINT, lastSlot: undefined }
}

function lruGet(map, key) {
  const value = map.get(key)
  if (value !== undefined && map.size > 1) {
    map.delete(key)
    map.set(key, value)
  }
  return value
}

/** Each map holds at most as many entries as the native cache (limits().maxCacheEntries). */
let maxEntries = 1024
const setMaxEntries = (max) => (maxEntries = max)

function lruSet(map, key, value) {
  map.delete(key)
  map.set(key, value)
  if (map.size > maxEntries) map.delete(map.keys().next().value)
}

function sampleOf(text) {
  const end = text.lastIndexOf('-----END')
  const at = end > SAMPLE_CHARS ? end - SAMPLE_CHARS : Math.max(0, text.length - SAMPLE_CHARS)
  return text.slice(at, at + SAMPLE_CHARS)
}

const isString = (value) => typeof value === 'string'

/**
 * (id, sa, pk) of a key object in any of the three documented shapes, as the core reads them:
 * `known` itself when they are its fields (so an unchanged object allocates nothing), else a
 * new { id, sa, pk }; undefined when the object is no key.
 */
function keyFields(key, known) {
  let id, sa, pk
  if (key.key !== undefined && key.key !== null) {
    const inner = key.key
    if (typeof inner !== 'object') return undefined
    id = inner.id
    sa = inner.serviceAccountId
    pk = key.privateKey
  } else if ((key.service_account_id ?? key.private_key) != null) {
    id = key.id
    sa = key.service_account_id
    pk = key.private_key
  } else {
    id = key.id ?? key.keyId ?? key.accessKeyId
    sa = key.serviceAccountId
    pk = key.privateKey
  }
  if (!(isString(id) && isString(sa) && isString(pk))) return undefined
  if (known !== undefined && known.pk === pk && known.id === id && known.sa === sa) return known
  return { id, sa, pk }
}

const sameFields = (a, b) => a.pk === b.pk && a.id === b.id && a.sa === b.sa

function recordOfFields(fields) {
  if (lastFields !== undefined && sameFields(lastFields.fields, fields)) return lastFields
  const key = `${fields.id}\n${fields.sa}\n${sampleOf(fields.pk)}`
  let record = lruGet(identities, key)
  if (record === undefined || !sameFields(record.fields, fields)) {
    record = newRecord(fields)
    lruSet(identities, key, record)
  }
  lastFields = record
  return record
}

function recordOfText(text, maxChars) {
  if (text.length > maxChars) return undefined
  if (text === lastText) return lastTextRecord
  const key = `${text.length}:${sampleOf(text)}`
  const known = lruGet(texts, key)
  if (known !== undefined && known.text === text) return rememberText(text, known.record)
  let fields
  try {
    const parsed = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text)
    fields = typeof parsed === 'object' && parsed !== null ? keyFields(parsed) : undefined
  } catch {
    return undefined // not JSON: the native side says what is wrong
  }
  if (fields === undefined) return undefined
  const record = recordOfFields(fields)
  lruSet(texts, key, { text, record })
  return rememberText(text, record)
}

function rememberText(text, record) {
  lastText = text
  lastTextRecord = record
  return record
}

/**
 * The cache record of a key input, or undefined for inputs the memo does not keep (the native
 * side then answers, and rejects what is wrong). Never throws for a plain value; a throwing
 * getter or Proxy trap throws (the caller turns it into ERR_INVALID_ARG).
 */
function recordOfKey(key, limits) {
  if (isString(key)) {
    if (key.charCodeAt(0) === 0x7b || key.trimStart().startsWith('{')) return recordOfText(key, limits.maxInputBytes)
    if (key.length === 0 || key.length > limits.maxPathChars) return undefined
    let record = lruGet(paths, key)
    if (record === undefined) lruSet(paths, key, (record = newRecord()))
    return record
  }
  if (typeof key !== 'object' || key === null) return undefined
  // An object with an entry (never a Buffer: those get none) is looked up before the Buffer
  // check, and the last one without the WeakMap; its fields are read and compared all the same.
  const known = key === lastObject ? lastObjectEntry : objects.get(key)
  if (known !== undefined) return recordOfObject(key, known)
  if (Buffer.isBuffer(key)) {
    if (key.length > limits.maxInputBytes) return undefined
    // Decoding 2 KB to a string costs ~400 ns; comparing the bytes with the last Buffer's ~100.
    if (lastBytes !== undefined && lastBytes.equals(key)) return lastBytesRecord
    const record = recordOfText(key.toString('utf8'), limits.maxInputBytes)
    if (record !== undefined) {
      lastBytes = Buffer.allocUnsafeSlow(key.length) // a copy: the caller may change its Buffer
      lastBytes.set(key)
      lastBytesRecord = record
    }
    return record
  }
  return recordOfObject(key, undefined)
}

/** The record of a key object, `known` its entry in `objects` if it has one. */
function recordOfObject(key, known) {
  const fields = keyFields(key, known?.fields)
  if (fields === undefined) return undefined
  if (fields === known?.fields) {
    lastObject = key
    lastObjectEntry = known
    return known.record
  }
  // An object holding the last key content seen is answered by content, without an entry of
  // its own: a WeakMap entry per new object (a handler that parses its key on every call) costs
  // ~300 ns and GC work. Objects of other content get one, and are found by identity next time.
  if (lastFields !== undefined && sameFields(lastFields.fields, fields)) return lastFields
  const record = recordOfFields(fields)
  const entry = { fields, record }
  objects.set(key, entry)
  lastObject = key
  lastObjectEntry = entry
  return record
}

/** The memoized answer of `record` for `endpoint`, while the native cache calls it fresh. */
function freshAnswer(record, endpoint) {
  let slot = record.lastSlot
  if (endpoint !== record.lastEndpoint) {
    slot = record.slots.get(endpoint)
    if (slot === undefined) return undefined
    record.lastEndpoint = endpoint
    record.lastSlot = slot
  }
  let until = slot.freshUntil
  if (until <= 0) {
    if (until === 0) return undefined // nothing fresh
    until = deadline(slot) // PENDING: the first hit on this answer (it sets `performance`)
  }
  return now() < until ? slot.answer : undefined
}

function slotOf(record, endpoint) {
  let slot = record.slots.get(endpoint)
  if (slot === undefined) record.slots.set(endpoint, (slot = { answer: undefined, freshUntil: 0, freshUntilHr: 0, flights: new Map() }))
  return slot
}

/**
 * Shares one native call (`start()`, a promise of an IamToken plus `freshForMs`) among the
 * callers of one slot that ask at the same time with the same `flightKey`; a caller with a signal
 * passes no flightKey (its signal must end its own wait only). A fresh answer is memoized.
 */
function share(record, endpoint, flightKey, start, toToken) {
  const slot = slotOf(record, endpoint)
  const pending = flightKey === undefined ? undefined : slot.flights.get(flightKey)
  if (pending !== undefined) return pending
  const answer = start().then((native) => {
    const token = toToken(native)
    if (native.freshForMs > 0) {
      slot.answer = Promise.resolve(token)
      slot.freshUntilHr = hrNow() + native.freshForMs
      slot.freshUntil = PENDING
    } else {
      slot.answer = undefined
      slot.freshUntil = 0
    }
    return token
  })
  if (flightKey !== undefined) {
    slot.flights.set(flightKey, answer)
    const done = () => slot.flights.delete(flightKey)
    answer.then(done, done)
  }
  return answer
}

/** Test hooks: move the memo's clock forward with the native one, or forget everything. */
function advanceClock(ms) {
  clockOffsetMs += ms
}

function clear() {
  identities = new Map()
  texts = new Map()
  paths = new Map()
  objects = new WeakMap()
  metadata = newRecord()
  lastObject = lastObjectEntry = lastFields = lastText = lastTextRecord = lastBytes = lastBytesRecord = undefined
}

const metadataRecord = () => metadata

/** Sizes of the maps, for the test that they stay bounded. */
const sizes = () => ({ identities: identities.size, texts: texts.size, paths: paths.size })

module.exports = { recordOfKey, metadataRecord, freshAnswer, share, advanceClock, clear, sizes, setMaxEntries }
