// The ACK ledger: for every ACK a device received, which device it was and the timestamps of the records the ACK
// covered. The engine writes it; the verifier reconciles it record by record against what the platform stored.
// One file per writer (engine worker or shard) under <run>/ledger/, so writers never share a file.
//
// Format (version 1), little-endian:
//   a header line: UTF-8 JSON {"format":"fleetload-ack-ledger","version":1,"runId","seed","part"} + "\n"
//   then entries, each 16 + 4·count bytes:
//     u32 device index (the IMEI is imeiForIndex(seed, index))
//     u16 record count
//     u16 flags: 1 = SENT_UNACKED (the device's packet in flight when the run ended: sent, never ACKed; the platform
//                    may or may not have stored it, so its records are neither "missing" nor "extra")
//     f64 ACK time, ms since the epoch (for SENT_UNACKED: the last send time)
//     count × u32: ACK time − record timestamp, ms (a record's age when its ACK came; ≤ 49 days)
// 10,000 devices × 1 h at a 10 s interval, one record per packet: 3.6 M entries × 20 B = 72 MB.
import { closeSync, openSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export const LEDGER_FORMAT = 'fleetload-ack-ledger';
export const LEDGER_VERSION = 1;
export const LEDGER_DIR = 'ledger';
export const FLAG_SENT_UNACKED = 1;

export interface LedgerHeader {
  format: typeof LEDGER_FORMAT;
  version: number;
  runId: string;
  seed: number;
  /** which writer: w0, w1, … or s2-w0 for shard 2 */
  part: string;
}

export interface LedgerEntry {
  device: number;
  flags: number;
  atMs: number;
  /** record timestamps, ms since the epoch */
  timestamps: number[];
}

const ENTRY_HEAD = 16;
const MAX_AGE_MS = 0xffff_ffff;

/** Appends entries to one ledger file; buffered, written in large sequential chunks. */
export class LedgerWriter {
  private readonly fd: number;
  private buf = Buffer.allocUnsafe(256 * 1024);
  private used = 0;
  entries = 0;
  records = 0;

  constructor(
    readonly file: string,
    header: Omit<LedgerHeader, 'format' | 'version'>,
  ) {
    this.fd = openSync(file, 'w');
    writeSync(this.fd, `${JSON.stringify({ format: LEDGER_FORMAT, version: LEDGER_VERSION, ...header })}\n`);
  }

  append(device: number, atMs: number, timestamps: ArrayLike<number>, flags = 0): void {
    const n = timestamps.length;
    const size = ENTRY_HEAD + 4 * n;
    if (this.used + size > this.buf.length) this.flush();
    if (size > this.buf.length) this.buf = Buffer.allocUnsafe(size);
    const b = this.buf;
    let o = this.used;
    b.writeUInt32LE(device, o);
    b.writeUInt16LE(n, o + 4);
    b.writeUInt16LE(flags, o + 6);
    b.writeDoubleLE(atMs, o + 8);
    o += ENTRY_HEAD;
    for (let i = 0; i < n; i++, o += 4) b.writeUInt32LE(Math.min(MAX_AGE_MS, Math.max(0, atMs - timestamps[i])), o);
    this.used = o;
    this.entries++;
    this.records += n;
  }

  flush(): void {
    if (this.used > 0) writeSync(this.fd, this.buf, 0, this.used);
    this.used = 0;
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}

export class LedgerFormatError extends Error {}

/** Reads one ledger file; entries are yielded in the order they were written. */
export function readLedgerFile(file: string): { header: LedgerHeader; entries: Generator<LedgerEntry> } {
  const bytes = readFileSync(file);
  const nl = bytes.indexOf(0x0a);
  if (nl < 0) throw new LedgerFormatError(`${file}: no header line (not an ACK ledger, or truncated)`);
  let header: LedgerHeader;
  try {
    header = JSON.parse(bytes.subarray(0, nl).toString('utf8')) as LedgerHeader;
  } catch {
    throw new LedgerFormatError(`${file}: the header line is not JSON`);
  }
  if (header.format !== LEDGER_FORMAT) throw new LedgerFormatError(`${file}: format is ${JSON.stringify(header.format)}, expected "${LEDGER_FORMAT}"`);
  if (header.version !== LEDGER_VERSION) throw new LedgerFormatError(`${file}: version ${header.version} is not supported (expected ${LEDGER_VERSION})`);
  function* entries(): Generator<LedgerEntry> {
    let o = nl + 1;
    while (o < bytes.length) {
      if (o + ENTRY_HEAD > bytes.length) throw new LedgerFormatError(`${file}: truncated entry at byte ${o}`);
      const device = bytes.readUInt32LE(o);
      const n = bytes.readUInt16LE(o + 4);
      const flags = bytes.readUInt16LE(o + 6);
      const atMs = bytes.readDoubleLE(o + 8);
      o += ENTRY_HEAD;
      if (o + 4 * n > bytes.length) throw new LedgerFormatError(`${file}: truncated entry at byte ${o - ENTRY_HEAD}`);
      const timestamps = new Array<number>(n);
      for (let i = 0; i < n; i++, o += 4) timestamps[i] = atMs - bytes.readUInt32LE(o);
      yield { device, flags, atMs, timestamps };
    }
  }
  return { header, entries: entries() };
}

/** Every ledger file of a run folder (<run>/<ledgerDir>/*.bin), sorted by name; empty when the run has no ledger. */
export function ledgerFiles(runDir: string, ledgerDir: string = LEDGER_DIR): string[] {
  const dir = join(runDir, ledgerDir);
  try {
    return readdirSync(dir)
      .filter((f) => f.endsWith('.bin'))
      .sort()
      .map((f) => join(dir, f));
  } catch {
    return [];
  }
}
