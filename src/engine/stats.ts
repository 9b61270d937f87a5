// What one engine thread measured: counters, gauges and latency recorders, keyed by series (name + labels).
// Two views of every latency, for two readers:
// - an HdrHistogram (hdr-histogram-js: the reference HdrHistogram's TypeScript port, BSD-2-Clause; 3 significant
//   digits, so every percentile is within 0.1 % of the sorted-sample value) — exact figures for the summary and the
//   verdict, merged exactly across workers and shards by adding counts;
// - cumulative counts on fixed Prometheus buckets (LATENCY_BUCKETS_S) — for /metrics and PromQL over the run.
// Threads send plain snapshots (JSON-able) to the main thread, which sums them: counts add exactly.
import * as hdr from 'hdr-histogram-js';
import type { LatencyFigures } from '../core/engine-summary.js';

/** Bucket upper bounds in seconds; SLO thresholds sit on these bounds (0.25, 0.5, 1, 2, 5 s …). */
export const LATENCY_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30, 60, 120, 300];

export type Labels = Record<string, string>;

/** Canonical series key: name{a="x",b="y"} with labels sorted, or the bare name. */
export function seriesKey(name: string, labels?: Labels): string {
  if (!labels) return name;
  const keys = Object.keys(labels).sort();
  if (keys.length === 0) return name;
  return `${name}{${keys.map((k) => `${k}=${JSON.stringify(labels[k])}`).join(',')}}`;
}

export function parseSeriesKey(key: string): { name: string; labels: Labels } {
  const i = key.indexOf('{');
  if (i < 0) return { name: key, labels: {} };
  const labels: Labels = {};
  for (const m of key.slice(i + 1, -1).matchAll(/(\w+)=("(?:[^"\\]|\\.)*")/g)) labels[m[1]] = JSON.parse(m[2]) as string;
  return { name: key.slice(0, i), labels };
}

export type Histogram = hdr.Histogram;

/** HDR histograms hold integer microseconds: 1 µs resolution, auto-resizing range. */
export function newHistogram(): Histogram {
  return hdr.build({ bitBucketSize: 32, autoResize: true, numberOfSignificantValueDigits: 3, useWebAssembly: false });
}

export function encodeHistogram(h: Histogram): string {
  return hdr.encodeIntoCompressedBase64(h);
}

export function decodeHistogram(text: string): Histogram {
  const h = hdr.decodeFromCompressedBase64(text, 32, false);
  // the decoded one must keep growing when more is added to it
  h.autoResize = true;
  return h;
}

export interface BucketCounts {
  /** cumulative count per LATENCY_BUCKETS_S bound (le), Prometheus style */
  buckets: number[];
  sumSeconds: number;
  count: number;
}

export class Recorder {
  readonly hdr = newHistogram();
  readonly buckets = new Array<number>(LATENCY_BUCKETS_S.length).fill(0);
  sumSeconds = 0;
  count = 0;

  record(ms: number): void {
    const v = ms > 0 ? ms : 0;
    this.hdr.recordValue(Math.round(v * 1000));
    const s = v / 1000;
    this.sumSeconds += s;
    this.count++;
    for (let i = LATENCY_BUCKETS_S.length - 1; i >= 0 && s <= LATENCY_BUCKETS_S[i]; i--) this.buckets[i]++;
  }

  counts(): BucketCounts {
    return { buckets: [...this.buckets], sumSeconds: this.sumSeconds, count: this.count };
  }
}

export interface StatsSnapshot {
  counters: Record<string, number>;
  gauges: Record<string, number>;
  histograms: Record<string, BucketCounts>;
}

export class Stats {
  readonly counters = new Map<string, number>();
  readonly gauges = new Map<string, number>();
  readonly recorders = new Map<string, Recorder>();

  inc(name: string, n = 1, labels?: Labels): void {
    const k = seriesKey(name, labels);
    this.counters.set(k, (this.counters.get(k) ?? 0) + n);
  }

  set(name: string, value: number, labels?: Labels): void {
    this.gauges.set(seriesKey(name, labels), value);
  }

  /** a latency in milliseconds */
  observe(name: string, ms: number, labels?: Labels): void {
    this.recorder(name, labels).record(ms);
  }

  recorder(name: string, labels?: Labels): Recorder {
    const k = seriesKey(name, labels);
    let r = this.recorders.get(k);
    if (!r) this.recorders.set(k, (r = new Recorder()));
    return r;
  }

  snapshot(): StatsSnapshot {
    const histograms: Record<string, BucketCounts> = {};
    for (const [k, r] of this.recorders) histograms[k] = r.counts();
    return { counters: Object.fromEntries(this.counters), gauges: Object.fromEntries(this.gauges), histograms };
  }

  /** the exact histograms, encoded for another thread or a file */
  exact(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, r] of this.recorders) out[k] = encodeHistogram(r.hdr);
    return out;
  }
}

/** Sums snapshots: counters, gauges and bucket counts add exactly. */
export function mergeSnapshots(list: StatsSnapshot[]): StatsSnapshot {
  const out: StatsSnapshot = { counters: {}, gauges: {}, histograms: {} };
  for (const s of list) {
    for (const [k, v] of Object.entries(s.counters)) out.counters[k] = (out.counters[k] ?? 0) + v;
    for (const [k, v] of Object.entries(s.gauges)) out.gauges[k] = (out.gauges[k] ?? 0) + v;
    for (const [k, h] of Object.entries(s.histograms)) {
      const o = (out.histograms[k] ??= { buckets: new Array<number>(LATENCY_BUCKETS_S.length).fill(0), sumSeconds: 0, count: 0 });
      h.buckets.forEach((c, i) => (o.buckets[i] += c));
      o.sumSeconds += h.sumSeconds;
      o.count += h.count;
    }
  }
  return out;
}

/** Merges encoded exact histograms by series key (adding counts: exact). */
export function mergeExact(list: Array<Record<string, string>>): Map<string, Histogram> {
  const out = new Map<string, Histogram>();
  for (const m of list) {
    for (const [k, text] of Object.entries(m)) {
      const h = decodeHistogram(text);
      const o = out.get(k);
      if (o) o.add(h);
      else out.set(k, h);
    }
  }
  return out;
}

/** A latency's figures in milliseconds: the engine summary's shape (src/core/engine-summary.ts). */
export type LatencySummary = LatencyFigures;

/** Milliseconds, from an exact histogram of microseconds; undefined when it holds no sample. */
export function latencySummary(h: Histogram | undefined): LatencySummary | undefined {
  if (!h || h.totalCount === 0) return undefined;
  const ms = (us: number) => Math.round(us) / 1000;
  return {
    count: h.totalCount,
    min: ms(h.minNonZeroValue === Number.MAX_SAFE_INTEGER ? 0 : h.getValueAtPercentile(0)),
    mean: ms(h.mean),
    p50: ms(h.getValueAtPercentile(50)),
    p90: ms(h.getValueAtPercentile(90)),
    p95: ms(h.getValueAtPercentile(95)),
    p99: ms(h.getValueAtPercentile(99)),
    max: ms(h.maxValue),
  };
}
