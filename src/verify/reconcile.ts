// Record-level reconciliation: every record the platform ACKed to a device (the engine's ACK ledger) must be stored
// exactly once under that device's IMEI, and nothing else may be stored for the run's devices in the window.
// Classes (issue 12: every way a platform can lose, invent, move or repeat a record):
//   missing       ACKed, not stored under its IMEI (and not found under another run device either)
//   duplicated    stored more than once for one IMEI at one timestamp (compared at the declared precision)
//   extra         stored for a run IMEI inside the window, never sent (a copy at another timestamp is one: the
//                 right row plus a row nobody sent)
//   misattributed sent by one run device, stored under another run device (counted once, not as missing + extra)
// Records in flight when the run ended (SENT_UNACKED) may be stored or not; stored twice they are duplicated.
//
// Fast path: per-device fingerprints (count, Σk, Σk²) of the timestamps at the declared precision, computed by
// PostgreSQL and from the ledger; exact comparisons only for the devices whose fingerprints differ.
import { ledgerFiles, readLedgerFile, FLAG_SENT_UNACKED, LedgerFormatError } from '../core/ledger.js';
import type { RunManifest } from '../core/manifest.js';
import { imeiForIndex } from '../protocol/teltonika/index.js';
import { PRECISION_US, type LedgerQuery, type TimestampPrecision } from './slo-types.js';

/** Runs one SQL statement, rows as arrays (src/verify/evidence-postgres.ts provides it, read-only). */
export type SqlRows = (text: string, values: unknown[], who: string) => Promise<unknown[][]>;

export const RECONCILE_CLASSES = ['missing', 'duplicated', 'extra', 'misattributed'] as const;
export type ReconcileClass = (typeof RECONCILE_CLASSES)[number];
export const MAX_EXAMPLES = 5;

export interface Reconciliation {
  counts: Record<LedgerQuery, number>;
  /** the first examples of each class (≤ MAX_EXAMPLES), in device then timestamp order */
  examples: Record<ReconcileClass, string[]>;
  precision: TimestampPrecision;
  ledgerFiles: number;
  devices: number;
  /** devices whose fingerprints differed and were compared record by record */
  devicesCompared: number;
  timings: { readMs: number; fingerprintMs: number; antiJoinMs: number };
}

export type ReconcileOutcome = Reconciliation | { missing: string };

/** Per device: the ACKed record keys (a multiset: distinct ms timestamps may share a key at 1 s) and in-flight keys. */
interface DeviceLedger {
  acked: number[];
  unacked: number[];
}

interface LedgerView {
  files: number;
  /** IMEI -> keys; keys are timestamps at the precision, counted from `loMs` */
  devices: Map<string, DeviceLedger>;
  /** window of keys to read from PostgreSQL: [loMs, loMs + (maxKey+1)·P µs) */
  loMs: number;
  maxKey: number;
}

/** The ledger files of a run (manifest engine.ledgerDir, default ledger/), sorted. */
export function runLedgerFiles(runDir: string, manifest: Pick<RunManifest, 'engine'>): string[] {
  return ledgerFiles(runDir, manifest.engine?.ledgerDir);
}

/** What the engine says it wrote to the ledger (engine-summary.json `ledger`): files relative to the run folder. */
export interface LedgerExpectation {
  files: string[];
  records: number;
}

/**
 * Hole closed (issue 12 mutation suite): a ledger that lost entries (a file missing, entries cut off at an entry
 * boundary) while the platform lost the same records reconciled as a pass — both sides agreed on fewer records.
 * The engine states how many records it wrote, in which files; a ledger without one of those files, or with fewer
 * records, is incomplete evidence, and nothing about the records is proven from it.
 */
function ledgerShortfall(files: string[], records: number, expected: LedgerExpectation | undefined): string | undefined {
  if (!expected) return undefined;
  const have = new Set(files.map((f) => f.split('/').slice(-2).join('/')));
  const absent = expected.files.filter((f) => !have.has(f.split('/').slice(-2).join('/')));
  if (absent.length > 0) return `the ACK ledger is incomplete: ${absent.join(', ')} named in the engine summary ${absent.length === 1 ? 'is' : 'are'} missing, so its records cannot be reconciled`;
  // fewer records than written hides losses; more can only show as missing or duplicated, never hide one
  if (records < expected.records)
    return `the ACK ledger is incomplete: its files hold ${records} records, the engine summary says it wrote ${expected.records}, so nothing about the records is proven`;
  return undefined;
}

/** Reads every ledger file into per-IMEI keys at the precision. Returns why not when it cannot be used. */
export function readLedger(
  files: string[],
  manifest: Pick<RunManifest, 'runId' | 'startedAt' | 'endedAt'>,
  precision: TimestampPrecision,
  expected?: LedgerExpectation,
): LedgerView | { missing: string } {
  const p = PRECISION_US[precision];
  // raw ms timestamps per device index first: the key origin depends on the earliest record
  const raw = new Map<number, { acked: Set<number>; unacked: Set<number>; seed: number }>();
  let minMs = Date.parse(manifest.startedAt);
  let maxMs = Date.parse(manifest.endedAt);
  let records = 0;
  try {
    for (const file of files) {
      const { header, entries } = readLedgerFile(file);
      if (header.runId !== manifest.runId) return { missing: `ledger ${file} belongs to run ${header.runId}, not ${manifest.runId}` };
      for (const e of entries) {
        let d = raw.get(e.device);
        if (!d) raw.set(e.device, (d = { acked: new Set(), unacked: new Set(), seed: header.seed }));
        const into = e.flags & FLAG_SENT_UNACKED ? d.unacked : d.acked;
        records += e.timestamps.length;
        for (const t of e.timestamps) {
          // The ledger stores ages against an f64 ACK time: a fractional ACK time adds its fraction back. Record
          // timestamps are whole milliseconds (Teltonika AVL), so the floor is the record's own timestamp.
          const ms = Math.floor(t + 1e-6);
          into.add(ms);
          if (ms < minMs) minMs = ms;
          if (ms > maxMs) maxMs = ms;
        }
      }
    }
  } catch (e) {
    if (e instanceof LedgerFormatError) return { missing: `the ACK ledger is unreadable: ${e.message}` };
    throw e;
  }
  const short = ledgerShortfall(files, records, expected);
  if (short) return { missing: short };
  const loMs = Math.floor(minMs / 1000) * 1000; // a whole second is a multiple of every precision
  const key = (ms: number) => Math.floor(((ms - loMs) * 1000) / p);
  const devices = new Map<string, DeviceLedger>();
  for (const [index, d] of raw) {
    let imei: string;
    try {
      imei = imeiForIndex(d.seed, index);
    } catch (e) {
      return { missing: `the ACK ledger names device index ${index}, which has no IMEI: ${(e as Error).message}` };
    }
    const acked = [...d.acked].map(key);
    const unacked = [...d.unacked].filter((ms) => !d.acked.has(ms)).map(key);
    devices.set(imei, { acked, unacked });
  }
  return { files: files.length, devices, loMs, maxKey: key(maxMs) };
}

interface Fingerprint {
  n: bigint;
  s1: bigint;
  s2: bigint;
}

const fingerprint = (keys: Iterable<number>, into: Fingerprint = { n: 0n, s1: 0n, s2: 0n }): Fingerprint => {
  for (const k of keys) {
    const b = BigInt(k);
    into.n += 1n;
    into.s1 += b;
    into.s2 += b * b;
  }
  return into;
};
const sameFp = (a: Fingerprint, b: Fingerprint) => a.n === b.n && a.s1 === b.s1 && a.s2 === b.s2;

/** The stored side: timestamp -> key at the precision, in PostgreSQL, for the run's IMEIs in the key window. */
const KEYED_ROWS = `FROM telemetry_records r JOIN devices d ON d.id = r.device_id
  CROSS JOIN LATERAL (SELECT div(extract(epoch FROM r."timestamp" - $1::timestamptz) * 1000000, $2::numeric)::int8 AS k) x
  WHERE d.imei = ANY($3::text[]) AND r."timestamp" >= $1::timestamptz AND r."timestamp" < $1::timestamptz + $4::int8 * interval '1 microsecond'`;
export const FINGERPRINT_SQL = `SELECT d.imei, count(*)::int8, sum(x.k)::text, sum(x.k::numeric * x.k)::text ${KEYED_ROWS} GROUP BY d.imei`;
export const KEYS_SQL = `SELECT d.imei, x.k ${KEYED_ROWS}`;
/**
 * Hole closed (issue 12 mutation suite): a row the platform invented for a run device with a timestamp outside the
 * reconciled window (a copy of the run's last record 250 ms later, a timestamp a day ahead, a record moved an hour
 * back) was never looked at. No device of the run sends a timestamp outside the window (it spans every ledger
 * timestamp and the load), so such a row stored during the run was sent by nobody: extra. "During the run":
 * received_at from the load start to LATE_WRITE_MS after its end (rows outside that may be another run's with the same
 * seed, on a database that outlives runs). Count and the first examples.
 */
export const LATE_WRITE_MS = 5 * 60_000;
export const OUTSIDE_SQL = `SELECT count(*)::int8, (array_agg(d.imei ORDER BY d.imei, r."timestamp"))[1:5], (array_agg(to_char(r."timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') ORDER BY d.imei, r."timestamp"))[1:5]
  FROM telemetry_records r JOIN devices d ON d.id = r.device_id
  WHERE d.imei = ANY($2::text[]) AND r.received_at >= $4::timestamptz AND r.received_at < $5::timestamptz
    AND (r."timestamp" < $1::timestamptz OR r."timestamp" >= $1::timestamptz + $3::int8 * interval '1 microsecond')`;

/** Reconciles a run's ledger against PostgreSQL. `runImeis`: the manifest's IMEIs (the ledger's are added). */
export async function reconcile(
  input: { files: string[]; manifest: Pick<RunManifest, 'runId' | 'startedAt' | 'endedAt' | 'imeis'>; precision: TimestampPrecision; expected?: LedgerExpectation },
  sql: SqlRows,
): Promise<ReconcileOutcome> {
  const { files, manifest, precision } = input;
  if (files.length === 0) return { missing: 'the run has no ACK ledger (ledger/*.bin): records cannot be reconciled, so nothing about them is proven' };
  const t0 = performance.now();
  const ledger = readLedger(files, manifest, precision, input.expected);
  if ('missing' in ledger) return ledger;
  const t1 = performance.now();
  const p = PRECISION_US[precision];
  const imeis = [...new Set([...manifest.imeis, ...ledger.devices.keys()])].sort();
  const params = [new Date(ledger.loMs), p, imeis, (ledger.maxKey + 1) * p];

  const stored = new Map<string, Fingerprint>();
  for (const [imei, n, s1, s2] of await sql(FINGERPRINT_SQL, params, 'record reconciliation (fingerprints)'))
    stored.set(String(imei), { n: BigInt(n as string), s1: BigInt(s1 as string), s2: BigInt(s2 as string) });
  const differing = imeis.filter((imei) => {
    const l = ledger.devices.get(imei) ?? { acked: [], unacked: [] };
    const db = stored.get(imei) ?? { n: 0n, s1: 0n, s2: 0n };
    const acked = fingerprint(l.acked);
    if (sameFp(acked, db)) return false;
    return l.unacked.length === 0 || !sameFp(fingerprint(l.unacked, { ...acked }), db);
  });
  const t2 = performance.now();

  const rows = new Map<string, number[]>(differing.map((i) => [i, []]));
  if (differing.length > 0)
    for (const [imei, k] of await sql(KEYS_SQL, [params[0], params[1], differing, params[3]], 'record reconciliation (exact comparison)'))
      rows.get(String(imei))!.push(Number(k));
  const result = classify(differing, ledger, rows, (k) => keyIso(ledger.loMs, k, p));
  const [[outside, outImeis, outTimes]] = (await sql(OUTSIDE_SQL, [params[0], imeis, params[3], new Date(manifest.startedAt), new Date(Date.parse(manifest.endedAt) + LATE_WRITE_MS)], 'record reconciliation (rows outside the window)')) as [[string, string[] | null, string[] | null]];
  for (let i = 0; i < Number(outside); i++) {
    result.counts.extra += 1;
    if (i < (outImeis?.length ?? 0) && result.examples.extra.length < MAX_EXAMPLES)
      result.examples.extra.push(`${outImeis![i]} @ ${outTimes![i]} stored during the run, outside the window, never sent`);
  }
  const t3 = performance.now();

  let acked = 0;
  let unacked = 0;
  for (const d of ledger.devices.values()) {
    acked += d.acked.length;
    unacked += d.unacked.length;
  }
  let storedRows = 0;
  for (const f of stored.values()) storedRows += Number(f.n);
  return {
    counts: { ...result.counts, acked, unacked, stored: storedRows },
    examples: result.examples,
    precision,
    ledgerFiles: ledger.files,
    devices: imeis.length,
    devicesCompared: differing.length,
    timings: { readMs: t1 - t0, fingerprintMs: t2 - t1, antiJoinMs: t3 - t2 },
  };
}

const countKeys = (keys: number[]) => {
  const m = new Map<number, number>();
  for (const k of keys) m.set(k, (m.get(k) ?? 0) + 1);
  return m;
};

type ClassTally = { counts: Record<ReconcileClass, number>; examples: Record<ReconcileClass, string[]> };
/** Adds n records to a class; the text is kept as an example while the class has fewer than MAX_EXAMPLES. */
type Note = (c: ReconcileClass, text: string, n: number) => void;
type MissingKey = { imei: string; k: number; n: number };
/** key -> the run devices that stored it without sending it, and how often */
type ExtraKeys = Map<number, Array<{ imei: string; n: number }>>;

/** Exact comparison of the differing devices: per key, expected (ledger) vs stored (rows) multiplicities. */
function classify(imeis: string[], ledger: LedgerView, rows: Map<string, number[]>, iso: (k: number) => string): ClassTally {
  const counts: Record<ReconcileClass, number> = { missing: 0, duplicated: 0, extra: 0, misattributed: 0 };
  const examples: Record<ReconcileClass, string[]> = { missing: [], duplicated: [], extra: [], misattributed: [] };
  const note: Note = (c, text, n) => {
    counts[c] += n;
    if (examples[c].length < MAX_EXAMPLES) examples[c].push(text);
  };
  const { missing, extra } = compareDevices(imeis, ledger, rows, iso, note);
  pairMisattributed(missing, extra, iso, note);
  noteExtras(extra, iso, note);
  return { counts, examples };
}

/** First pass, per device: duplicates are noted now; missing and extra keys wait for the misattribution pairing. */
function compareDevices(imeis: string[], ledger: LedgerView, rows: Map<string, number[]>, iso: (k: number) => string, note: Note): { missing: MissingKey[]; extra: ExtraKeys } {
  const missing: MissingKey[] = [];
  const extra: ExtraKeys = new Map();
  for (const imei of imeis) {
    const l = ledger.devices.get(imei) ?? { acked: [], unacked: [] };
    const expected = countKeys(l.acked);
    const inFlight = new Set(l.unacked);
    const got = countKeys(rows.get(imei) ?? []);
    for (const [k, s] of [...got].sort((a, b) => a[0] - b[0])) {
      const e = expected.get(k) ?? 0;
      const allowed = e > 0 ? e : inFlight.has(k) ? 1 : 0;
      if (allowed > 0 && s > allowed) note('duplicated', `${imei} @ ${iso(k)} stored ${s}× (expected ${allowed})`, s - allowed);
      if (allowed === 0) {
        const list = extra.get(k) ?? [];
        list.push({ imei, n: s });
        extra.set(k, list);
      }
    }
    for (const [k, e] of [...expected].sort((a, b) => a[0] - b[0])) {
      const s = got.get(k) ?? 0;
      if (s < e) missing.push({ imei, k, n: e - s });
    }
  }
  return { missing, extra };
}

/** A record missing under its device and extra under another run device at the same timestamp moved; the rest is missing. */
function pairMisattributed(missing: MissingKey[], extra: ExtraKeys, iso: (k: number) => string, note: Note): void {
  for (const m of missing) {
    for (const x of extra.get(m.k) ?? []) {
      if (m.n === 0) break;
      if (x.imei === m.imei || x.n === 0) continue;
      const moved = Math.min(m.n, x.n);
      note('misattributed', `sent by ${m.imei}, stored under ${x.imei} @ ${iso(m.k)}`, moved);
      m.n -= moved;
      x.n -= moved;
    }
    if (m.n > 0) note('missing', `${m.imei} @ ${iso(m.k)} ACKed, not stored`, m.n);
  }
}

/** What is left unpaired was never sent: noted in device then timestamp order. */
function noteExtras(extra: ExtraKeys, iso: (k: number) => string, note: Note): void {
  const extras = [...extra].sort((a, b) => a[0] - b[0]).flatMap(([k, list]) => list.map((x) => ({ k, ...x })));
  extras.sort((a, b) => (a.imei === b.imei ? a.k - b.k : a.imei < b.imei ? -1 : 1));
  for (const x of extras) if (x.n > 0) note('extra', `${x.imei} @ ${iso(x.k)} stored${x.n > 1 ? ` ${x.n}×` : ''}, never sent`, x.n);
}

/** ISO text of a key's start, with microseconds when the precision needs them. */
function keyIso(loMs: number, k: number, pUs: number): string {
  const us = k * pUs;
  const ms = loMs + Math.floor(us / 1000);
  const iso = new Date(ms).toISOString();
  return pUs < 1000 ? `${iso.slice(0, -1)}${String(us % 1000).padStart(3, '0')}Z` : iso;
}

/** What a ledger objective shows: the count, and the class's first examples for `why`. */
export function ledgerMeasurement(r: ReconcileOutcome, query: LedgerQuery): { value: number | null; reason?: string; note?: string } {
  if ('missing' in r) return { value: null, reason: r.missing };
  const value = r.counts[query];
  const examples = (RECONCILE_CLASSES as readonly string[]).includes(query) ? r.examples[query as ReconcileClass] : [];
  const scope = `${r.devices} devices, ${r.counts.acked} ACKed records, timestamps at ${r.precision}`;
  const note = examples.length > 0 ? `first ${examples.length} of ${value}: ${examples.join('; ')} (${scope})` : `(${scope})`;
  return { value, note };
}
