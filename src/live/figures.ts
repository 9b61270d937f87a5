// From the engine's once-a-second ticks (cumulative counts, Prometheus-bucket histograms) to the live view's
// points: rates between ticks, latency percentiles over a trailing window of bucket counts, generator health.
// Latency figures are bucket-resolution: "p95 ≤ 250 ms" means the p95 sample fell in the bucket whose upper
// bound is 250 ms — never an interpolated value (the exact HDR figures only exist in the final summary).
import { LATENCY_BUCKETS_S, parseSeriesKey, type BucketCounts, type StatsSnapshot } from '../engine/stats.js';
import type { EngineTick } from '../engine/engine.js';

/** The columns of a point, in order: the page reads them by name from this list (sent once, at connect). */
export const FIELDS = [
  't', // seconds since the load started
  'connected',
  'planned',
  'sentPerSec',
  'ackedPerSec',
  'storedPerSec', // platform (Prometheus), null without one
  'ackP50',
  'ackP95',
  'ackP99',
  'recP50',
  'recP95',
  'recP99',
  'deviceErrorsPerSec',
  'apiPerSec',
  'apiErrorsPerSec',
  'apiP95',
  'wsClients',
  'wsMessagesPerSec',
  'wsFreshP95',
  'loopP99', // ms, the busiest engine thread
  'cpuPercent', // of the whole machine
  'rssMb',
  'batchP95', // platform, ms
  'ingestLagP95', // platform, ms
  'platformConnections',
] as const;
export type Field = (typeof FIELDS)[number];
export type Point = Array<number | null>;

/** Fields merged by max when points are decimated (latency figures: a spike must survive); the rest by mean. */
export const MAX_FIELDS: ReadonlySet<Field> = new Set(['ackP50', 'ackP95', 'ackP99', 'recP50', 'recP95', 'recP99', 'apiP95', 'wsFreshP95', 'loopP99', 'batchP95', 'ingestLagP95']);

/** Seconds of bucket counts each percentile spans: one second holds too few samples for a small fleet's p99. */
export const PERCENTILE_WINDOW_TICKS = 5;

/** Sum of a counter over all its label values. */
export function counterSum(s: StatsSnapshot, name: string): number {
  let n = 0;
  for (const [k, v] of Object.entries(s.counters)) if (k === name || k.startsWith(`${name}{`)) n += v;
  return n;
}

/** Upper bound (ms) of the bucket holding the q-quantile of these counts, or null: no sample, or beyond the last bound. */
export function bucketQuantileMs(h: BucketCounts | undefined, q: number): number | null {
  if (!h || h.count <= 0) return null;
  const rank = q * h.count;
  const i = h.buckets.findIndex((c) => c >= rank);
  return i < 0 ? null : LATENCY_BUCKETS_S[i] * 1000;
}

/** Bucket counts of `now` minus `before` (both cumulative): the samples in between. */
export function bucketDelta(now: BucketCounts | undefined, before: BucketCounts | undefined): BucketCounts | undefined {
  if (!now) return undefined;
  if (!before) return now;
  return { buckets: now.buckets.map((c, i) => c - (before.buckets[i] ?? 0)), sumSeconds: now.sumSeconds - before.sumSeconds, count: now.count - before.count };
}

/** Errors so far by "device: reset", "api: 5xx", "ws: dropped" (non-zero only, largest first). */
export function errorsByReason(s: StatsSnapshot): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  const kinds: Record<string, [string, string]> = { device_errors: ['device', 'reason'], api_errors: ['api', 'class'], ws_errors: ['websocket', 'reason'], generator_errors: ['engine', ''] };
  for (const [k, v] of Object.entries(s.counters)) {
    if (v <= 0) continue;
    const { name, labels } = parseSeriesKey(k);
    const kind = kinds[name];
    if (!kind) continue;
    const reason = kind[1] ? (labels[kind[1]] ?? '?') : 'bug';
    const label = `${kind[0]}: ${reason}${labels.endpoint ? ` (${labels.endpoint})` : ''}`;
    const known = out.find((e) => e[0] === label);
    if (known) known[1] += v;
    else out.push([label, v]);
  }
  return out.sort((a, b) => b[1] - a[1]);
}

/** Event-loop delay p99 of each engine thread (ms), from the `event_loop_delay_p99{thread}` gauges (seconds). */
export function loopDelays(s: StatsSnapshot): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(s.gauges)) {
    const { name, labels } = parseSeriesKey(k);
    if (name === 'event_loop_delay_p99') out[labels.thread ?? '?'] = v * 1000;
  }
  return out;
}

/** What the platform's own metrics show now (Prometheus), or nulls without one. */
export interface PlatformFigures {
  storedPerSec: number | null;
  batchP95Ms: number | null;
  ingestLagP95Ms: number | null;
  connections: number | null;
}

export const NO_PLATFORM: PlatformFigures = { storedPerSec: null, batchP95Ms: null, ingestLagP95Ms: null, connections: null };

/** The process's own CPU and memory: the engine's worker threads run in this process, so they are included. */
export interface ProcessSample {
  atMs: number;
  cpuMicros: number;
  rssBytes: number;
}

export function sampleProcess(atMs: number): ProcessSample {
  const c = process.cpuUsage();
  return { atMs, cpuMicros: c.user + c.system, rssBytes: process.memoryUsage.rss() };
}

const LATENCIES = ['ack_latency', 'record_latency', 'api_latency', 'ws_freshness'] as const;

/** Turns consecutive ticks into points; keeps only the few earlier snapshots the rates and windows need. */
export class PointMaker {
  private prev: { tick: EngineTick; proc: ProcessSample } | undefined;
  private readonly window: Array<Record<string, BucketCounts | undefined>> = [];

  constructor(private readonly cores: number) {}

  next(tick: EngineTick, proc: ProcessSample, platform: PlatformFigures): Point {
    const s = tick.counts;
    const prev = this.prev;
    const dt = prev ? (tick.elapsedMs - prev.tick.elapsedMs) / 1000 : 0;
    // the engine's last tick comes right after its last regular one: a rate over a few ms would be a false spike
    const rate = (name: string) => (prev && dt >= 0.5 ? Math.max(0, counterSum(s, name) - counterSum(prev.tick.counts, name)) / dt : null);
    const merged = Object.fromEntries(LATENCIES.map((id) => [id, mergedHistogram(s, id)]));
    const oldest = this.window[0];
    this.window.push(merged);
    if (this.window.length > PERCENTILE_WINDOW_TICKS) this.window.shift();
    const q = (id: (typeof LATENCIES)[number], p: number) => bucketQuantileMs(bucketDelta(merged[id], this.window.length >= PERCENTILE_WINDOW_TICKS ? oldest?.[id] : undefined), p);
    const wall = prev ? proc.atMs - prev.proc.atMs : 0;
    const cpu = prev && wall >= 500 ? ((proc.cpuMicros - prev.proc.cpuMicros) / 1000 / wall / this.cores) * 100 : null;
    const loops = Object.values(loopDelays(s));
    const values: Record<Field, number | null> = {
      t: Math.round(tick.elapsedMs / 100) / 10,
      connected: s.gauges.devices_connected ?? 0,
      planned: tick.plannedDevices,
      sentPerSec: rate('records_sent'),
      ackedPerSec: rate('records_acked'),
      storedPerSec: platform.storedPerSec,
      ackP50: q('ack_latency', 0.5),
      ackP95: q('ack_latency', 0.95),
      ackP99: q('ack_latency', 0.99),
      recP50: q('record_latency', 0.5),
      recP95: q('record_latency', 0.95),
      recP99: q('record_latency', 0.99),
      deviceErrorsPerSec: rate('device_errors'),
      apiPerSec: rate('api_requests'),
      apiErrorsPerSec: rate('api_errors'),
      apiP95: q('api_latency', 0.95),
      wsClients: s.gauges.ws_clients_connected ?? 0,
      wsMessagesPerSec: rate('ws_messages'),
      wsFreshP95: q('ws_freshness', 0.95),
      loopP99: loops.length > 0 ? Math.max(...loops) : null,
      cpuPercent: cpu,
      rssMb: proc.rssBytes / 1e6,
      batchP95: platform.batchP95Ms,
      ingestLagP95: platform.ingestLagP95Ms,
      platformConnections: platform.connections,
    };
    this.prev = { tick, proc };
    return FIELDS.map((f) => round(values[f]));
  }
}

/** One histogram over all label values of `id` (e.g. api_latency of every endpoint). */
function mergedHistogram(s: StatsSnapshot, id: string): BucketCounts | undefined {
  let out: BucketCounts | undefined;
  for (const [k, h] of Object.entries(s.histograms)) {
    if (k !== id && !k.startsWith(`${id}{`)) continue;
    if (!out) out = { buckets: [...h.buckets], sumSeconds: h.sumSeconds, count: h.count };
    else {
      h.buckets.forEach((c, i) => (out!.buckets[i] += c));
      out.sumSeconds += h.sumSeconds;
      out.count += h.count;
    }
  }
  return out;
}

/** Three significant digits are all a chart shows; shorter JSON for every tab every second. */
function round(v: number | null): number | null {
  if (v === null || !Number.isFinite(v)) return null;
  if (v === 0 || Math.abs(v) >= 100) return Math.round(v);
  return Number(v.toPrecision(3));
}
