// Codec 8 (0x08) and Codec 8 Extended (0x8E) AVL data packets over TCP. Both share the packet frame and the record
// header; they differ only in the width of IO ids/counts (1 vs 2 bytes) and 8E's variable-length NX group, so one
// implementation switches on `ext` instead of duplicating the walk.

import { copyBytes } from './bytes.js';
import { crc16Arc } from './crc16.js';
import { TeltonikaError } from './errors.js';
import {
  AVL_FRAME_OVERHEAD,
  CODEC_8,
  CODEC_8E,
  DEFAULT_MAX_FRAME_BYTES,
  MAX_RECORDS_PER_PACKET,
  type AvlPacket,
  type AvlRecord,
  type Codec,
  type IoValue,
} from './avl-types.js';

/** Bytes of an AVL packet outside its records: preamble, length, codec, N1, N2, CRC field. */
export const AVL_PACKET_OVERHEAD = AVL_FRAME_OVERHEAD + 3;
/** Smallest valid packet: Codec 8, one record without IO. */
export const MIN_AVL_PACKET_BYTES = AVL_PACKET_OVERHEAD + 30;
/** Upper bound for maxFrameBytes, so a misconfiguration cannot make the framer allocate gigabytes. */
export const MAX_FRAME_BYTES_LIMIT = 1 << 24;

export interface AvlLimits {
  /** Largest whole frame (preamble to CRC) accepted or produced. Default 1280, the FMB/FMC device maximum. */
  maxFrameBytes?: number;
}

const TWO_POW_32 = 4294967296;
/** Latest instant a JS Date can hold (year 275760). Anything later can only be garbage and would break `new Date(ts)`. */
const MAX_JS_DATE_MS = 8.64e15;
const MAX_U64 = 0xffffffffffffffffn;
const COORD_SCALE = 1e7;

export function resolveMaxFrameBytes(v: number | undefined): number {
  if (v === undefined) return DEFAULT_MAX_FRAME_BYTES;
  if (!Number.isInteger(v) || v < MIN_AVL_PACKET_BYTES || v > MAX_FRAME_BYTES_LIMIT) {
    throw new TeltonikaError('BAD_VALUE', `maxFrameBytes must be an integer in [${MIN_AVL_PACKET_BYTES}, ${MAX_FRAME_BYTES_LIMIT}], got ${v}`);
  }
  return v;
}

function isCodec(c: unknown): c is Codec {
  return c === CODEC_8 || c === CODEC_8E;
}

function bad(what: string, v: unknown, range: string): TeltonikaError {
  return new TeltonikaError('BAD_VALUE', `${what} must be ${range}, got ${describe(v)}`);
}

// Never throws (String() does for objects without a prototype), so validation errors stay TeltonikaErrors.
function describe(v: unknown): string {
  if (typeof v === 'bigint') return `${v}n`;
  if (v instanceof Uint8Array) return `Uint8Array(${v.length})`;
  if (v === null || typeof v !== 'object') return String(v);
  return Array.isArray(v) ? `array(${v.length})` : 'an object';
}

function isUint(v: unknown, max: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max;
}

function checkUint(what: string, v: unknown, max: number): number {
  if (!isUint(v, max)) throw bad(what, v, `an integer in [0, ${max}]`);
  return v;
}

function checkCoord(what: string, deg: unknown): number {
  if (typeof deg !== 'number' || !Number.isFinite(deg)) throw bad(what, deg, 'a finite number of degrees');
  const raw = Math.round(deg * COORD_SCALE);
  if (raw < -0x80000000 || raw > 0x7fffffff) throw bad(what, deg, 'within the int32 × 1e-7 wire range (±214.7483647°)');
  return raw;
}

/**
 * Encoded size of one record, validating its IO list (widths, ids, values) on the way. Lets a simulator pack records
 * into packets below the frame limit without encoding twice.
 */
export function avlRecordSize(codec: Codec, record: AvlRecord): number {
  if (!isCodec(codec)) throw new TeltonikaError('UNKNOWN_CODEC', `cannot encode codec ${String(codec)}`);
  return measure(codec === CODEC_8E, record, new Array<number>(GROUPS), 0);
}

// Group order on the wire: 1-, 2-, 4-, 8-byte values, then (8E only) variable-length NX.
const GROUPS = 5;
const groupOf = (w: IoValue['width']): number => (w === 1 ? 0 : w === 2 ? 1 : w === 4 ? 2 : w === 8 ? 3 : 4);

/** Validates a record's IO list and returns its encoded size; per-group element counts go to counts[at..at+5). */
function measure(ext: boolean, record: AvlRecord, counts: number[], at: number): number {
  const idMax = ext ? 0xffff : 0xff;
  const idBytes = ext ? 2 : 1;
  const io = record.io;
  if (!Array.isArray(io)) throw bad('record.io', io, 'an array');
  // The total count field is as wide as an id; every group count is bounded by it.
  if (io.length > idMax) throw new TeltonikaError('BAD_VALUE', `a Codec ${ext ? '8E' : '8'} record holds at most ${idMax} IO elements, got ${io.length}`);
  let c1 = 0, c2 = 0, c4 = 0, c8 = 0, cx = 0;
  // Header 24, event id + total count, then the group counts (8: four, 8E: five).
  let size = 24 + idBytes * 2 + (ext ? 10 : 4);
  for (let i = 0; i < io.length; i++) {
    const e: IoValue = io[i];
    // Messages are built only on failure: this loop runs for every IO element of every encoded record.
    if (!isUint(e.id, idMax)) throw bad(`io[${i}].id`, e.id, `an integer in [0, ${idMax}]`);
    switch (e.width) {
      case 1:
        if (!isUint(e.value, 0xff)) throw bad(`io[${i}] (id ${e.id}) value`, e.value, 'an integer in [0, 255]');
        c1++;
        break;
      case 2:
        if (!isUint(e.value, 0xffff)) throw bad(`io[${i}] (id ${e.id}) value`, e.value, 'an integer in [0, 65535]');
        c2++;
        break;
      case 4:
        if (!isUint(e.value, 0xffffffff)) throw bad(`io[${i}] (id ${e.id}) value`, e.value, 'an integer in [0, 4294967295]');
        c4++;
        break;
      case 8:
        if (typeof e.value !== 'bigint' || e.value < 0n || e.value > MAX_U64) throw bad(`io[${i}] (id ${e.id}) value`, e.value, 'a bigint in [0, 2^64)');
        c8++;
        break;
      case 'x':
        if (!ext) throw new TeltonikaError('BAD_VALUE', `io[${i}] (id ${e.id}): variable-length (NX) values exist only in Codec 8E`);
        if (!(e.value instanceof Uint8Array) || e.value.length > 0xffff) throw bad(`io[${i}] (id ${e.id}) value`, e.value, 'a Uint8Array of at most 65535 bytes');
        cx++;
        size += 4 + e.value.length - idBytes; // id is added below with the fixed-width elements
        break;
      default:
        throw bad(`io[${i}].width`, (e as { width: unknown }).width, "1, 2, 4, 8 or 'x'");
    }
  }
  counts[at] = c1;
  counts[at + 1] = c2;
  counts[at + 2] = c4;
  counts[at + 3] = c8;
  counts[at + 4] = cx;
  return size + io.length * idBytes + c1 + c2 * 2 + c4 * 4 + c8 * 8;
}

/**
 * One TCP AVL packet: 00000000 | L | codec N records N | 0000 CRC. IO elements are written grouped by width (the wire
 * has no other way); within a width their order is kept.
 */
export function encodeAvlPacket(codec: Codec, records: readonly AvlRecord[], opts?: AvlLimits): Uint8Array {
  if (!isCodec(codec)) throw new TeltonikaError('UNKNOWN_CODEC', `cannot encode codec ${String(codec)}`);
  const max = resolveMaxFrameBytes(opts?.maxFrameBytes);
  const n = records.length;
  if (n < 1 || n > MAX_RECORDS_PER_PACKET) {
    throw new TeltonikaError('LENGTH_OUT_OF_BOUNDS', `a packet carries 1-${MAX_RECORDS_PER_PACKET} records, got ${n}`);
  }
  const ext = codec === CODEC_8E;
  // Validate and count everything before allocating, so a bad record never leaves a half-written packet behind.
  const counts = new Array<number>(n * GROUPS);
  let size = AVL_PACKET_OVERHEAD;
  for (let i = 0; i < n; i++) size += measure(ext, records[i], counts, i * GROUPS);
  if (size > max) throw new TeltonikaError('LENGTH_OUT_OF_BOUNDS', `packet of ${n} records needs ${size} bytes, limit is ${max}`);

  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  dv.setUint32(4, size - AVL_FRAME_OVERHEAD);
  out[8] = codec;
  out[9] = n;
  let p = 10;
  for (let i = 0; i < n; i++) p = writeRecord(dv, out, p, records[i], ext, counts, i * GROUPS);
  out[p++] = n;
  dv.setUint32(p, crc16Arc(out, 8, p));
  return out;
}

function writeRecord(dv: DataView, out: Uint8Array, p: number, r: AvlRecord, ext: boolean, counts: number[], at: number): number {
  const ts = r.timestamp;
  if (typeof ts !== 'number' || !Number.isInteger(ts) || ts < 0 || ts > MAX_JS_DATE_MS) throw bad('timestamp', ts, `an integer of ms in [0, ${MAX_JS_DATE_MS}]`);
  dv.setUint32(p, Math.floor(ts / TWO_POW_32));
  dv.setUint32(p + 4, ts >>> 0);
  out[p + 8] = checkUint('priority', r.priority, 2);
  dv.setInt32(p + 9, checkCoord('longitude', r.longitude));
  dv.setInt32(p + 13, checkCoord('latitude', r.latitude));
  const alt = r.altitude;
  if (typeof alt !== 'number' || !Number.isInteger(alt) || alt < -0x8000 || alt > 0x7fff) throw bad('altitude', alt, 'an integer in [-32768, 32767]');
  dv.setInt16(p + 17, alt);
  dv.setUint16(p + 19, checkUint('angle', r.angle, 0xffff));
  out[p + 21] = checkUint('satellites', r.satellites, 0xff);
  dv.setUint16(p + 22, checkUint('speed', r.speed, 0xffff));
  p += 24;

  const io = r.io;
  const c1 = counts[at], c2 = counts[at + 1], c4 = counts[at + 2], c8 = counts[at + 3];
  const idBytes = ext ? 2 : 1;
  if (ext) {
    dv.setUint16(p, checkUint('eventId', r.eventId, 0xffff));
    // Real 8E devices count NX elements in the total (Traccar T8, issue packet R4), so we do too.
    dv.setUint16(p + 2, io.length);
  } else {
    out[p] = checkUint('eventId', r.eventId, 0xff);
    out[p + 1] = io.length;
  }
  p += 2 * idBytes;
  // One pass over the IO list: each group's start is known from the counts, so every element goes straight to its
  // group's cursor (this matters in k6, where each loop iteration is interpreted).
  const cur = [0, 0, 0, 0, 0];
  cur[0] = p + idBytes;
  cur[1] = cur[0] + c1 * (idBytes + 1) + idBytes;
  cur[2] = cur[1] + c2 * (idBytes + 2) + idBytes;
  cur[3] = cur[2] + c4 * (idBytes + 4) + idBytes;
  cur[4] = cur[3] + c8 * (idBytes + 8) + (ext ? idBytes : 0);
  for (let g = 0; g < (ext ? 5 : 4); g++) {
    const c = counts[at + g];
    if (ext) dv.setUint16(cur[g] - 2, c);
    else out[cur[g] - 1] = c;
  }
  for (let i = 0; i < io.length; i++) {
    const e = io[i];
    const g = groupOf(e.width);
    let q = cur[g];
    if (ext) {
      dv.setUint16(q, e.id);
      q += 2;
    } else {
      out[q++] = e.id;
    }
    switch (e.width) {
      case 1:
        out[q] = e.value;
        q += 1;
        break;
      case 2:
        dv.setUint16(q, e.value);
        q += 2;
        break;
      case 4:
        dv.setUint32(q, e.value);
        q += 4;
        break;
      case 8:
        dv.setBigUint64(q, e.value);
        q += 8;
        break;
      case 'x':
        dv.setUint16(q, e.value.length);
        out.set(e.value, q + 2);
        q += 2 + e.value.length;
        break;
    }
    cur[g] = q;
  }
  // The last group's cursor is the record's end (for Codec 8 the empty NX slot starts where the 8-byte group ends).
  return cur[4];
}

/**
 * Strict decode of one whole TCP AVL frame: preamble, length (≤ maxFrameBytes, = frame size), CRC, codec, N1 = N2 ≥ 1,
 * records ending exactly at N2. Lenient where real devices differ from the wiki: the 8E total IO count is not checked,
 * satellites/angle are not range-checked, records may be out of time order.
 */
export function decodeAvlPacket(frame: Uint8Array, opts?: AvlLimits): AvlPacket {
  const max = resolveMaxFrameBytes(opts?.maxFrameBytes);
  const len = frame.length;
  for (let i = 0; i < 4 && i < len; i++) {
    if (frame[i] !== 0) throw new TeltonikaError('BAD_PREAMBLE', `AVL frame must start with 00000000 (byte ${i} is 0x${hex2(frame[i])})`);
  }
  if (len < 8) throw new TeltonikaError('TRUNCATED', `AVL frame header needs 8 bytes, got ${len}`);
  const dv = new DataView(frame.buffer, frame.byteOffset, len);
  const dataLen = dv.getUint32(4);
  if (dataLen < 3 || dataLen + AVL_FRAME_OVERHEAD > max) {
    throw new TeltonikaError('LENGTH_OUT_OF_BOUNDS', `data field length ${dataLen} gives a ${dataLen + AVL_FRAME_OVERHEAD}-byte frame, allowed ${AVL_PACKET_OVERHEAD}-${max}`);
  }
  const total = dataLen + AVL_FRAME_OVERHEAD;
  if (len < total) throw new TeltonikaError('TRUNCATED', `AVL frame announces ${total} bytes, got ${len}`);
  if (len > total) throw new TeltonikaError('TRAILING_BYTES', `AVL frame announces ${total} bytes, got ${len}`);
  const crcAt = 8 + dataLen;
  const sent = dv.getUint32(crcAt);
  const computed = crc16Arc(frame, 8, crcAt);
  if (sent !== computed) throw new TeltonikaError('CRC_MISMATCH', `CRC field is 0x${sent.toString(16).padStart(8, '0')}, computed 0x0000${computed.toString(16).padStart(4, '0')}`);
  const codec = frame[8];
  if (!isCodec(codec)) throw new TeltonikaError('UNKNOWN_CODEC', `codec 0x${hex2(codec)} is not Codec 8 (0x08) or 8E (0x8E)`);
  const n = frame[9];
  const end = crcAt - 1; // offset of Number of Data 2: records must end exactly here
  if (n !== frame[end]) throw new TeltonikaError('COUNT_MISMATCH', `Number of Data 1 (${n}) differs from Number of Data 2 (${frame[end]})`);
  if (n === 0) throw new TeltonikaError('COUNT_MISMATCH', 'packet carries 0 records');

  const ext = codec === CODEC_8E;
  const records: AvlRecord[] = new Array(n);
  let p = 10;
  for (let r = 0; r < n; r++) {
    if (p + (ext ? 28 : 26) > end) throw truncated(r, p, end);
    const timestamp = dv.getUint32(p) * TWO_POW_32 + dv.getUint32(p + 4); // exact: checked below 2^53
    if (timestamp > MAX_JS_DATE_MS) throw new TeltonikaError('BAD_VALUE', `record ${r}: timestamp ${timestamp} ms is beyond the Date range`);
    const priority = frame[p + 8];
    if (priority > 2) throw new TeltonikaError('BAD_VALUE', `record ${r}: priority ${priority} is not 0 (low), 1 (high) or 2 (panic)`);
    const longitude = dv.getInt32(p + 9) / COORD_SCALE;
    const latitude = dv.getInt32(p + 13) / COORD_SCALE;
    const altitude = dv.getInt16(p + 17);
    const angle = dv.getUint16(p + 19);
    const satellites = frame[p + 21];
    const speed = dv.getUint16(p + 22);
    let eventId: number;
    if (ext) {
      eventId = dv.getUint16(p + 24);
      p += 28; // event id, total count (not trusted, see above)
    } else {
      eventId = frame[p + 24];
      p += 26;
    }
    const io: IoValue[] = [];
    p = ext ? readIoExt(frame, dv, p, end, io, r) : readIo8(frame, dv, p, end, io, r);
    records[r] = { timestamp, priority, longitude, latitude, altitude, angle, satellites, speed, eventId, io };
  }
  if (p !== end) throw new TeltonikaError('TRAILING_BYTES', `records end ${end - p} bytes before Number of Data 2`);
  return { codec, records };
}

function truncated(r: number, p: number, end: number): TeltonikaError {
  return new TeltonikaError('TRUNCATED', `record ${r} runs past Number of Data 2 (at offset ${p}, data ends at ${end})`);
}

// Codec 8: counts and ids are 1 byte. Each group is bounds-checked once, then read without per-element checks.
function readIo8(frame: Uint8Array, dv: DataView, p: number, end: number, io: IoValue[], r: number): number {
  if (p >= end) throw truncated(r, p, end);
  let c = frame[p++];
  if (p + c * 2 > end) throw truncated(r, p, end);
  for (; c > 0; c--, p += 2) io.push({ id: frame[p], width: 1, value: frame[p + 1] });
  if (p >= end) throw truncated(r, p, end);
  c = frame[p++];
  if (p + c * 3 > end) throw truncated(r, p, end);
  for (; c > 0; c--, p += 3) io.push({ id: frame[p], width: 2, value: dv.getUint16(p + 1) });
  if (p >= end) throw truncated(r, p, end);
  c = frame[p++];
  if (p + c * 5 > end) throw truncated(r, p, end);
  for (; c > 0; c--, p += 5) io.push({ id: frame[p], width: 4, value: dv.getUint32(p + 1) });
  if (p >= end) throw truncated(r, p, end);
  c = frame[p++];
  if (p + c * 9 > end) throw truncated(r, p, end);
  for (; c > 0; c--, p += 9) io.push({ id: frame[p], width: 8, value: dv.getBigUint64(p + 1) });
  return p;
}

// Codec 8E: counts and ids are 2 bytes, plus the NX group (count 2, then id 2 + length 2 + bytes).
function readIoExt(frame: Uint8Array, dv: DataView, p: number, end: number, io: IoValue[], r: number): number {
  if (p + 2 > end) throw truncated(r, p, end);
  let c = dv.getUint16(p);
  p += 2;
  if (p + c * 3 > end) throw truncated(r, p, end);
  for (; c > 0; c--, p += 3) io.push({ id: dv.getUint16(p), width: 1, value: frame[p + 2] });
  if (p + 2 > end) throw truncated(r, p, end);
  c = dv.getUint16(p);
  p += 2;
  if (p + c * 4 > end) throw truncated(r, p, end);
  for (; c > 0; c--, p += 4) io.push({ id: dv.getUint16(p), width: 2, value: dv.getUint16(p + 2) });
  if (p + 2 > end) throw truncated(r, p, end);
  c = dv.getUint16(p);
  p += 2;
  if (p + c * 6 > end) throw truncated(r, p, end);
  for (; c > 0; c--, p += 6) io.push({ id: dv.getUint16(p), width: 4, value: dv.getUint32(p + 2) });
  if (p + 2 > end) throw truncated(r, p, end);
  c = dv.getUint16(p);
  p += 2;
  if (p + c * 10 > end) throw truncated(r, p, end);
  for (; c > 0; c--, p += 10) io.push({ id: dv.getUint16(p), width: 8, value: dv.getBigUint64(p + 2) });
  if (p + 2 > end) throw truncated(r, p, end);
  c = dv.getUint16(p);
  p += 2;
  for (; c > 0; c--) {
    if (p + 4 > end) throw truncated(r, p, end);
    const id = dv.getUint16(p);
    const n = dv.getUint16(p + 2);
    p += 4;
    if (p + n > end) throw truncated(r, p, end);
    // A copy, not a view: records outlive the socket chunk they came from.
    io.push({ id, width: 'x', value: copyBytes(frame, p, p + n) });
    p += n;
  }
  return p;
}

function hex2(b: number): string {
  return (b < 16 ? '0' : '') + b.toString(16);
}
