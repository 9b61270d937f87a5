// A synthetic stepped run with known answers, shaped exactly like series.json (cumulative counters and
// histogram buckets on a 1 s grid, the engine's series under their series.json ids), for the capacity tests.
import { LATENCY_BUCKETS_S } from '../../src/engine/stats.js';
import type { Point } from '../../src/report/capacity/prommath.js';
import { uslThroughput } from '../../src/report/capacity/usl.js';
import { SERIES_FORMAT, type SeriesFile, type StoredQuery } from '../../src/report/series.js';

export const TRUTH = { sigma: 0.03, kappa: 0.00004, lambda: 0.1 };
export const DEVICES = [100, 200, 300, 400, 500, 600, 700, 800];
export const STEP_SEC = 60;
export const T0 = 1_700_000_000;
/** the engine's fixed buckets (fleetload_ack_latency_seconds) */
const ACK_LE = [...LATENCY_BUCKETS_S, Infinity];
const BATCH_LE = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, Infinity];

/** Engine ACK latency bucket (upper bound) every steady observation of a step falls in. */
export function ackBucket(n: number): number {
  if (n <= 500) return 0.05; // p95 = 0.025 + 0.95 × 0.025 = 48.75 ms
  if (n === 600) return 0.25; // 242.5 ms
  if (n === 700) return 3; // 2950 ms: misses "< 1000" and the warning "< 2000"
  return 5; // 4900 ms
}
export function batchBucket(n: number): number {
  return n <= 600 ? 0.01 : n === 700 ? 0.1 : 0.25;
}

function stageAt(t: number): { i: number; n: number; settling: boolean } | undefined {
  const i = Math.floor((t - T0) / STEP_SEC);
  if (i < 0 || i >= DEVICES.length) return undefined;
  return { i, n: DEVICES[i], settling: t - (T0 + i * STEP_SEC) < STEP_SEC * 0.3 };
}

export function stages() {
  return DEVICES.map((n, i) => ({
    name: `step-${i + 1}`,
    start: new Date((T0 + i * STEP_SEC) * 1000).toISOString(),
    end: new Date((T0 + (i + 1) * STEP_SEC) * 1000).toISOString(),
    devices: n,
  }));
}

export function syntheticSeries(): SeriesFile {
  const start = T0 - 2;
  const end = T0 + DEVICES.length * STEP_SEC;
  const grid: number[] = [];
  for (let t = start; t <= end; t++) grid.push(t);
  const counter = (perSec: (t: number) => number): Point[] => {
    let c = 0;
    // the sample at t holds what happened during (t − 1, t]
    return grid.map((t) => {
      c += perSec(t - 0.5);
      return [t, c];
    });
  };
  const stored = (t: number) => {
    const s = stageAt(t);
    // during settling the platform is catching up: a distorted rate that must not reach the per-step figures
    return s ? (s.settling ? uslThroughput(TRUTH, s.n) * 0.2 : uslThroughput(TRUTH, s.n)) : 0;
  };
  const sent = (t: number) => {
    const s = stageAt(t);
    return s ? s.n * TRUTH.lambda : 0;
  };
  const histogram = (les: number[], bucketOf: (n: number) => number, obsPerSec: (n: number) => number) =>
    les.map((le) => ({
      labels: { le: le === Infinity ? '+Inf' : String(le) },
      points: counter((t) => {
        const s = stageAt(t);
        if (!s) return 0;
        // settling observations all land in +Inf: garbage the settle cut must drop
        const b = s.settling ? Infinity : bucketOf(s.n);
        return le >= b ? obsPerSec(s.n) : 0;
      }),
    }));
  const q = (id: string, kind: StoredQuery['kind'], series: StoredQuery['series'], unit = ''): StoredQuery => ({
    id,
    kind,
    unit,
    query: `synthetic ${id}`,
    status: 'ok',
    series,
  });
  const gauge = (f: (t: number) => number | null): Point[] => grid.map((t) => [t, f(t)]);
  return {
    format: SERIES_FORMAT,
    runId: 'synthetic',
    source: 'synthetic',
    start: new Date(start * 1000).toISOString(),
    end: new Date(end * 1000).toISOString(),
    stepSeconds: 1,
    fetchedAt: new Date(end * 1000).toISOString(),
    queries: [
      q('engine_records_sent', 'counter', [{ labels: {}, points: counter(sent) }]),
      q('engine_records_acked', 'counter', [{ labels: {}, points: counter(stored) }]),
      q('platform_received', 'counter', [{ labels: {}, points: counter(stored) }]),
      q('platform_inserted', 'counter', [{ labels: {}, points: counter(stored) }]),
      q('engine_packets_sent', 'counter', [{ labels: {}, points: counter(sent) }]),
      // the engine exposes every reason at 0 from the first scrape; one error per 10,000 packets
      q('engine_device_errors', 'counter', [{ labels: { reason: 'ack_timeout' }, points: counter((t) => sent(t) / 10_000) }, { labels: { reason: 'reset' }, points: counter(() => 0) }]),
      q('engine_ack_latency', 'histogram', histogram(ACK_LE, ackBucket, (n) => n * TRUTH.lambda)),
      // the platform's own ACK duration: fast and flat (the commit is quick; the engine sees the queueing)
      q('ack_duration', 'histogram', histogram([0.005, 0.01, 0.025, Infinity], () => 0.01, (n) => n * TRUTH.lambda)),
      q('batch_duration', 'histogram', histogram(BATCH_LE, batchBucket, () => 10)),
      q('batch_size_sum', 'counter', [{ labels: {}, points: counter((t) => stored(t)) }]),
      q('engine_devices_connected', 'gauge', [{ labels: {}, points: gauge((t) => stageAt(t)?.n ?? 0) }]),
      q('tcp_connections', 'gauge', [{ labels: {}, points: gauge((t) => stageAt(t)?.n ?? null) }]),
      q('eventloop_lag_p99', 'gauge', [{ labels: { job: 'fleet-platform' }, points: gauge((t) => ((stageAt(t)?.n ?? 0) >= 800 ? 0.2 : 0.01)) }]),
      q('process_cpu', 'counter', [{ labels: { job: 'fleet-platform' }, points: counter((t) => ((stageAt(t)?.n ?? 0) / 1000) * 0.8) }]),
    ],
  };
}

export function syntheticManifest() {
  const st = stages();
  return {
    runId: 'synthetic',
    profile: 'capacity',
    seed: 1,
    startedAt: st[0].start,
    endedAt: st[st.length - 1].end,
    stages: st,
    devices: DEVICES[DEVICES.length - 1],
    imeis: [],
    target: { tcp: '127.0.0.1:5000', embedded: true },
    prometheus: { url: 'http://127.0.0.1:9090' },
    versions: { fleetload: 'test' },
    engine: { exitCode: 0, summaryFile: 'engine-summary.json' },
  };
}
