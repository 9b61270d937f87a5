// Scale-out: one run split into n shard processes (on one machine or as the pods of a Kubernetes Indexed Job).
// Shard i of n runs the devices j ≡ i (mod n) (src/engine/engine.ts planThreads), so IMEIs never overlap and each
// device keeps the schedule it has in a single process. The shards share the run id (hence the seed and the IMEIs)
// and a common start instant; each writes its own folder: engine-summary.json, ledger/s<i>-w<k>.bin and shard.json
// (this file's record: who it was, when it really started, what its clock looked like, its exact counters, and
// whether it failed). `fleetload merge` (merge.ts) turns the folders into one run folder judged as one.
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../core/clock.js';
import { badInput } from '../core/errors.js';
import type { FleetConfig } from '../sim/fleet-config.js';

export const SHARD_FILE = 'shard.json';
export const SHARD_FORMAT = 'fleetload-shard';
/** the start instant may be at most this far ahead: a later one is a typo (a day, a month), not a plan */
export const MAX_START_AHEAD_MS = 24 * 3600_000;
export const DEFAULT_START_TOLERANCE_MS = 500;

export interface ShardRef {
  index: number;
  count: number;
}

/** What the clock check found: local clock − reference clock lies in [minMs, maxMs]. */
export interface ClockCheck {
  source: 'http-date' | 'prometheus-time';
  url: string;
  minMs: number;
  maxMs: number;
  /** the whole interval lies outside ± the tolerance: the shard's start instant is not the others' */
  skewed: boolean;
}

export interface ShardRecord {
  format: typeof SHARD_FORMAT;
  version: 1;
  status: 'running' | 'done' | 'failed';
  runId: string;
  profile: string;
  /** sha256 of the fleet config without its target (shards may reach the platform by different addresses) */
  configHash: string;
  seed: number;
  shard: ShardRef;
  /** the whole fleet's device count (all shards) */
  fleetDevices: number;
  fleetload: string;
  target: { tcp: string; http?: string };
  startAt?: string;
  loadStart?: string;
  loadEnd?: string;
  /** how much later than --start-at this shard's devices really started, ms */
  lateByMs?: number;
  clock?: ClockCheck;
  /** why the clock was not checked (no --http / --prometheus-url, or the check failed) */
  clockNote?: string;
  exitCode?: number;
  error?: string;
  /** this shard's reasons for an invalid run (generator health, late start, clock skew) */
  invalidReasons: string[];
  /** exact final counters by series key: the merge rebuilds the summary from their sums */
  counters?: Record<string, number>;
  generatorFigures?: Record<string, number>;
}

/** "i/n" with 0 ≤ i < n ≤ 1024 (i is 0-based, as $JOB_COMPLETION_INDEX is). */
export function parseShard(text: string): ShardRef {
  const m = /^(\d{1,4})\/(\d{1,4})$/.exec(text.trim());
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || count > 1024) throw badInput(`--shard: expected i/n with 1 ≤ n ≤ 1024 such as 0/4, got "${text}"`);
  if (index >= count) throw badInput(`--shard ${text}: the index is 0-based and must be below the count (0/${count} … ${count - 1}/${count})`);
  return { index, count };
}

/** --start-at: an ISO time in the future (not more than a day ahead). */
export function parseStartAt(text: string, nowMs: number): number {
  const t = /^\d{4}-\d\d-\d\dT/.test(text) ? Date.parse(text) : NaN;
  if (Number.isNaN(t)) throw badInput(`--start-at: expected an ISO time such as 2030-01-01T12:00:00Z, got "${text}"`);
  if (t <= nowMs) throw badInput(`--start-at ${text} is in the past by ${((nowMs - t) / 1000).toFixed(1)} s (this machine's clock says ${new Date(nowMs).toISOString()}): give every shard a common instant still ahead`);
  if (t - nowMs > MAX_START_AHEAD_MS) throw badInput(`--start-at ${text} is more than 24 h ahead: a typo?`);
  return t;
}

/** The fleet config's fingerprint, without where the load goes: equal for every shard of one run. */
export function configHash(c: FleetConfig): string {
  const { tcpHost: _h, tcpPort: _p, httpUrl: _u, ...rest } = c;
  return createHash('sha256').update(JSON.stringify(rest)).digest('hex').slice(0, 16);
}

/** Written at the start (status running), and again when the shard ends or fails: a crash leaves a trace. */
export function writeShardRecord(dir: string, r: ShardRecord): void {
  const file = join(dir, SHARD_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(r, null, 2)}\n`);
  renameSync(tmp, file);
}

export function readShardRecord(dir: string): ShardRecord | undefined {
  let text: string;
  try {
    text = readFileSync(join(dir, SHARD_FILE), 'utf8');
  } catch {
    return undefined;
  }
  const r = JSON.parse(text) as ShardRecord;
  if (r.format !== SHARD_FORMAT) throw badInput(`${join(dir, SHARD_FILE)}: format is ${JSON.stringify(r.format)}, expected "${SHARD_FORMAT}"`);
  return r;
}

/**
 * Local clock − the reference clock, as an interval. An HTTP Date header has 1 s resolution: the server's time at
 * the answer lies in [D, D + 1 s), so the skew lies in [sent − D − 1 s, received − D]. Prometheus's time() is
 * evaluated between send and receive with ms resolution: [sent − T, received − T].
 */
export async function checkClock(ref: { httpUrl?: string; prometheusUrl?: string }, clock: Clock, toleranceMs: number): Promise<ClockCheck | undefined> {
  if (ref.httpUrl) {
    const sent = clock.now();
    const res = await fetch(ref.httpUrl, { method: 'GET', signal: AbortSignal.timeout(5000) });
    const received = clock.now();
    await res.body?.cancel();
    const date = res.headers.get('date');
    const d = date ? Date.parse(date) : NaN;
    if (Number.isNaN(d)) throw new Error(`${ref.httpUrl} sent no usable Date header (${JSON.stringify(date)})`);
    return judgeSkew('http-date', ref.httpUrl, sent - d - 1000, received - d, toleranceMs);
  }
  if (ref.prometheusUrl) {
    const url = `${ref.prometheusUrl.replace(/\/$/, '')}/api/v1/query?query=time()`;
    const sent = clock.now();
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    const received = clock.now();
    const body = (await res.json()) as { status?: string; data?: { result?: [number, string] } };
    const t = Number(body.data?.result?.[1]) * 1000;
    if (body.status !== 'success' || !Number.isFinite(t)) throw new Error(`${url} did not answer time() (status ${res.status})`);
    return judgeSkew('prometheus-time', ref.prometheusUrl, sent - t, received - t, toleranceMs);
  }
  return undefined;
}

function judgeSkew(source: ClockCheck['source'], url: string, minMs: number, maxMs: number, toleranceMs: number): ClockCheck {
  const u = new URL(url);
  u.username = '';
  u.password = '';
  return { source, url: u.toString(), minMs: Math.round(minMs), maxMs: Math.round(maxMs), skewed: minMs > toleranceMs || maxMs < -toleranceMs };
}

/** The shard's reasons from its start: late past the tolerance, or a clock that disagrees with the target's. */
export function startReasons(s: ShardRef, lateByMs: number, clock: ClockCheck | undefined, toleranceMs: number): string[] {
  const out: string[] = [];
  const who = `shard ${s.index}/${s.count}`;
  if (lateByMs > toleranceMs) out.push(`${who} started ${lateByMs} ms after --start-at (tolerance ${toleranceMs} ms): its devices ran late against the other shards'`);
  if (clock?.skewed) out.push(`${who}: this machine's clock is ${clock.minMs}…${clock.maxMs} ms off ${clock.source === 'http-date' ? "the target's HTTP Date" : "Prometheus's time()"} (tolerance ${toleranceMs} ms): the common start instant was not common`);
  return out;
}
