// Pure arithmetic over stored Prometheus range-query points: counter increases (reset-aware), trailing
// rates, histogram bucket increases and Prometheus-compatible histogram_quantile. Everything the HTML
// report and the capacity analysis compute from series.json goes through here, so a report rebuilt
// offline gives the same numbers as the one written at the end of the run.

/** [unix seconds, value]; null = Prometheus returned NaN/Inf or nothing. */
export type Point = [number, number | null];

export interface StoredSeries {
  labels: Record<string, string>;
  points: Point[];
}

/** Last point at or before t (points sorted by time), or undefined. */
export function valueAt(points: Point[], t: number): number | undefined {
  let lo = 0;
  let hi = points.length - 1;
  let found: number | undefined;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (points[mid][0] <= t + 1e-9) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  if (found === undefined) return undefined;
  for (let i = found; i >= 0; i--) {
    const v = points[i][1];
    if (v !== null && Number.isFinite(v)) return v;
  }
  return undefined;
}

/**
 * Increase of a cumulative counter between t0 and t1 using the stored samples inside [t0, t1] plus the
 * last sample before t0 as the anchor. A drop is a reset (the new value counts from zero), like
 * Prometheus; unlike `increase()` there is no extrapolation to the window edges. A counter that first
 * appears inside the window counts from zero only when `fromZero` is set (a process that starts at 0 inside
 * the window, e.g. the engine counted before Prometheus's first scrape of it).
 */
export function counterIncrease(points: Point[], t0: number, t1: number, fromZero = false): number | undefined {
  let prev: number | undefined = valueAt(points, t0);
  let total = 0;
  let seen = prev !== undefined;
  if (prev === undefined && fromZero) prev = 0;
  for (const [t, v] of points) {
    if (t <= t0 + 1e-9 || t > t1 + 1e-9 || v === null || !Number.isFinite(v)) continue;
    seen = true;
    if (prev === undefined) {
      prev = v;
      continue;
    }
    total += v >= prev ? v - prev : v;
    prev = v;
  }
  return seen ? total : undefined;
}

/** Sum of the increases of several series (e.g. one per label set). */
export function sumIncrease(series: StoredSeries[], t0: number, t1: number, fromZero = false): number | undefined {
  let any = false;
  let sum = 0;
  for (const s of series) {
    const inc = counterIncrease(s.points, t0, t1, fromZero);
    if (inc !== undefined) {
      any = true;
      sum += inc;
    }
  }
  return any ? sum : undefined;
}

/** Per-second rate over a trailing window at each point's time (null until a full window exists). */
export function trailingRate(points: Point[], windowSec: number, fromZero = false): Point[] {
  if (points.length === 0) return [];
  const first = points[0][0];
  return points.map(([t]) => {
    if (t - windowSec < first - 1e-9 && !fromZero) return [t, null];
    const inc = counterIncrease(points, t - windowSec, t, fromZero);
    return [t, inc === undefined ? null : inc / windowSec];
  });
}

export interface Bucket {
  /** upper bound; Infinity for +Inf */
  le: number;
  /** cumulative count (Prometheus buckets are cumulative) */
  count: number;
}

function parseLe(le: string | undefined): number {
  if (le === undefined) return NaN;
  if (le === '+Inf' || le === 'Inf') return Infinity;
  return Number(le);
}

/** Bucket increases between t0 and t1 from `sum by (le)` series; sorted by le; empty when no data. */
export function histogramIncrease(series: StoredSeries[], t0: number, t1: number): Bucket[] {
  const out: Bucket[] = [];
  for (const s of series) {
    const le = parseLe(s.labels.le);
    if (Number.isNaN(le)) continue;
    const inc = counterIncrease(s.points, t0, t1, true);
    if (inc !== undefined) out.push({ le, count: inc });
  }
  out.sort((a, b) => a.le - b.le);
  // cumulative counts must not decrease with le (numerical noise from separate resets): enforce monotonicity
  for (let i = 1; i < out.length; i++) if (out[i].count < out[i - 1].count) out[i].count = out[i - 1].count;
  return out;
}

/**
 * Prometheus' histogram_quantile: linear interpolation inside the bucket that holds the rank; the lowest
 * bucket interpolates from 0 (when its bound is positive); a rank in +Inf returns the largest finite
 * bound. undefined when there are no observations.
 */
export function histogramQuantile(q: number, buckets: Bucket[]): number | undefined {
  if (buckets.length < 2 || buckets[buckets.length - 1].le !== Infinity) return undefined;
  const total = buckets[buckets.length - 1].count;
  if (!(total > 0)) return undefined;
  if (q < 0) return -Infinity;
  if (q > 1) return Infinity;
  const rank = q * total;
  let b = buckets.findIndex((x) => x.count >= rank);
  if (b === -1) b = buckets.length - 1;
  if (b === buckets.length - 1) return buckets[buckets.length - 2].le;
  if (b === 0 && buckets[0].le <= 0) return buckets[0].le;
  let start = 0;
  let end = buckets[b].le;
  let count = buckets[b].count;
  let r = rank;
  if (b > 0) {
    start = buckets[b - 1].le;
    count -= buckets[b - 1].count;
    r -= buckets[b - 1].count;
  }
  if (count <= 0) return end;
  return start + (end - start) * (r / count);
}

/** Quantile over a trailing window at each grid time. */
export function quantileOverTime(series: StoredSeries[], q: number, windowSec: number, grid: number[]): Point[] {
  return grid.map((t) => {
    const v = histogramQuantile(q, histogramIncrease(series, t - windowSec, t));
    return [t, v === undefined || !Number.isFinite(v) ? null : v];
  });
}

/** Mean and count of the non-null values of a gauge inside [t0, t1]. */
export function gaugeStats(points: Point[], t0: number, t1: number): { mean: number; max: number; min: number; n: number } | undefined {
  let n = 0;
  let sum = 0;
  let max = -Infinity;
  let min = Infinity;
  for (const [t, v] of points) {
    if (t < t0 - 1e-9 || t > t1 + 1e-9 || v === null || !Number.isFinite(v)) continue;
    n++;
    sum += v;
    if (v > max) max = v;
    if (v < min) min = v;
  }
  return n ? { mean: sum / n, max, min, n } : undefined;
}

