// Prometheus evidence that must be exact: counter deltas over the run window, and whether Prometheus saw the
// whole window at all.
//
// exact_increase(selector): the objective query form for counts. Per series: the last sample at or before the window
// start is the baseline (none: the series was born in the window, so it counted from 0), then every sample in the
// window adds its increment; a value below the previous one is a reset (a restart), so it adds the value itself.
// No extrapolation (increase() extrapolates to the window edges): integers in, integers out. No series at all is
// no data, never 0.
//
// Coverage: a run judged from a Prometheus that missed part of the window judges a guess. For every scrape job the
// SLO file queries (job="…"), the `up` samples in the window must cover ≥ 95 % of the expected scrapes and leave no
// gap longer than 3 scrape intervals; otherwise the run is invalid, and the reason names the gap.
import type { Measurement } from './evaluate.js';
import type { PrometheusClient, Series } from './evidence-prometheus.js';
import { durationSeconds, type Window } from './placeholders.js';
import type { SloFile } from './slo-types.js';

export const EXACT_INCREASE = /^\s*exact_increase\(([\s\S]*)\)\s*$/;
/** How far before the window a baseline sample is looked for (as the earlier `[5m] offset` form did). */
const LOOKBACK_SEC = 300;
export const MIN_COVERAGE = 0.95;
export const MAX_GAP_INTERVALS = 3;

/** The selector inside exact_increase(...), or undefined when the query is ordinary PromQL. */
export const exactIncreaseSelector = (query: string): string | undefined => EXACT_INCREASE.exec(query)?.[1].trim();

/** Increase of one counter series over (start, end], resets accounted, no extrapolation. */
export function counterDelta(values: ReadonlyArray<readonly [number, number]>, startSec: number, endSec: number): number {
  let prev = 0;
  let delta = 0;
  for (const [t, v] of values) {
    if (t <= startSec) {
      prev = v; // the baseline: the last value before the window
      continue;
    }
    if (t > endSec) break;
    delta += v >= prev ? v - prev : v;
    prev = v;
  }
  return delta;
}

export async function exactIncrease(prom: PrometheusClient, selector: string, w: Window, who: string): Promise<Measurement> {
  const range = durationSeconds(w) + LOOKBACK_SEC;
  const expr = `${selector}[${range}s]`;
  const series = await prom.samples(expr, w.end, who);
  const query = `exact_increase(${selector})`;
  if (series.length === 0) return { value: null, reason: `no series matched ${selector} (a renamed metric or label?)`, query };
  const startSec = w.start.getTime() / 1000;
  const endSec = w.end.getTime() / 1000;
  let total = 0;
  for (const s of series) total += counterDelta(s.values, startSec, endSec);
  return { value: total, query };
}

/** Scrape jobs an SLO file's Prometheus queries select with job="…". */
export function queriedJobs(slo: SloFile): string[] {
  const jobs = new Set<string>();
  for (const o of slo.objectives) {
    if (o.source !== 'prometheus') continue;
    for (const q of [o.query, o.samplesQuery ?? '']) for (const m of q.matchAll(/\bjob\s*=\s*"([^"]+)"/g)) jobs.add(m[1]);
  }
  return [...jobs].sort();
}

/** Reasons the Prometheus evidence does not cover the window (empty = covered). */
/** A time span (seconds since the epoch) in which a job could not be scraped by design: a fault the run injected. */
export interface SilencedSpan {
  job: string;
  fromSec: number;
  toSec: number;
  why: string;
}

export async function coverageProblems(prom: PrometheusClient, jobs: string[], w: Window, silenced: SilencedSpan[] = []): Promise<string[]> {
  if (jobs.length === 0) return [];
  const intervals = await prom.scrapeIntervals();
  const out: string[] = [];
  for (const job of jobs) {
    const series = await prom.samples(`up{job="${job.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"}[${durationSeconds(w)}s]`, w.end, `the scrape coverage of job "${job}"`);
    out.push(...jobCoverage(job, series, intervals.get(job), w, silenced));
  }
  return out;
}

/** Seconds of [a, b] that a silenced span covers (spans widened by one interval each side: a restart's first scrape). */
function silencedWithin(a: number, b: number, spans: SilencedSpan[], interval: number): number {
  let n = 0;
  for (const s of spans) n += Math.max(0, Math.min(b, s.toSec + interval) - Math.max(a, s.fromSec - interval));
  return n;
}

const iso = (sec: number) => new Date(Math.round(sec * 1000)).toISOString();

/** Coverage of one job from its `up` samples: ≥ 95 % of the expected scrapes, no gap > 3 intervals, per instance. */
export function jobCoverage(job: string, series: Series[], intervalSec: number | undefined, w: Window, allSilenced: SilencedSpan[] = []): string[] {
  const silenced = allSilenced.filter((x) => x.job === job);
  const startSec = w.start.getTime() / 1000;
  const endSec = w.end.getTime() / 1000;
  const windowSec = endSec - startSec;
  if (series.length === 0) return [`Prometheus has no scrape of job "${job}" in the run window (${iso(startSec)} to ${iso(endSec)}): its objectives would judge nothing`];
  const out: string[] = [];
  for (const s of series) {
    const who = `job "${job}"${s.metric.instance ? ` (${s.metric.instance})` : ''}`;
    const ok = s.values.filter(([t, v]) => t >= startSec && t <= endSec && v === 1).map(([t]) => t);
    const interval = intervalSec ?? medianStep(s.values.map(([t]) => t));
    if (interval === undefined) {
      out.push(`${who}: too few scrapes in the window to know the scrape interval (${ok.length} successful)`);
      continue;
    }
    // a fault that silenced the job (kill, pause) is not missing evidence: its span counts neither as expected
    // scrapes nor as a gap
    const expected = Math.floor((windowSec - silencedWithin(startSec, endSec, silenced, interval)) / interval);
    if (expected < 1) continue; // a window shorter than one interval cannot be judged for coverage
    const edges = [startSec, ...ok, endSec];
    for (let i = 1; i < edges.length; i++) {
      const gap = edges[i] - edges[i - 1] - silencedWithin(edges[i - 1], edges[i], silenced, interval);
      if (gap > MAX_GAP_INTERVALS * interval)
        out.push(`${who}: no successful scrape from ${iso(edges[i - 1])} to ${iso(edges[i])} (${gap.toFixed(1)} s > ${MAX_GAP_INTERVALS} × the ${interval} s scrape interval)`);
    }
    const coverage = Math.min(1, ok.length / expected);
    if (coverage < MIN_COVERAGE) out.push(`${who}: ${ok.length} successful scrapes of ${expected} expected in the window (${(coverage * 100).toFixed(1)} % < ${MIN_COVERAGE * 100} %)`);
  }
  return out;
}

function medianStep(ts: number[]): number | undefined {
  if (ts.length < 2) return undefined;
  const steps = ts.slice(1).map((t, i) => t - ts[i]).sort((a, b) => a - b);
  return steps[Math.floor(steps.length / 2)];
}

/**
 * For `histogram_quantile(q, INNER)`: the histogram bucket that holds the q-quantile, and how many samples the
 * histogram holds. PromQL interpolates linearly inside that bucket, so the figure is a guess between the bucket's
 * bounds — the report says which bounds, and n, instead of presenting the guess as exact. undefined when the
 * expression is not a plain histogram_quantile or its buckets have no samples.
 */
export async function quantileBucketNote(prom: PrometheusClient, expr: string, at: Date, who: string): Promise<string | undefined> {
  const m = /^\s*histogram_quantile\(\s*([0-9.]+)\s*,\s*([\s\S]+)\)\s*$/.exec(expr);
  if (!m) return undefined;
  const q = Number(m[1]);
  const rows = (await prom.vector(m[2], at, `the buckets of ${who}`))
    .map((r) => ({ le: r.metric.le === '+Inf' ? Infinity : Number(r.metric.le), count: r.value }))
    .filter((r) => Number.isFinite(r.count) && !Number.isNaN(r.le))
    .sort((a, b) => a.le - b.le);
  const total = rows.find((r) => r.le === Infinity)?.count;
  if (!total || total <= 0) return undefined;
  const i = rows.findIndex((r) => r.count >= q * total);
  if (i < 0) return undefined;
  const lower = i > 0 ? rows[i - 1].le : 0;
  const upper = rows[i].le === Infinity ? '+Inf' : String(rows[i].le);
  return `n = ${Math.round(total)}; the p${Math.round(q * 100)} lies in the bucket (${lower}, ${upper}] — the value is PromQL's interpolation inside it`;
}
