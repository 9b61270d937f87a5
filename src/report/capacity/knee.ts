// Knee of a latency-versus-load curve. Kneedle (Satopää, Albrecht, Irwin, Raghavan 2011) on the per-step
// points, with the documented slope rule as a cross-check for curves too short or too noisy for it.

export interface KneeResult {
  method: 'kneedle' | 'slope';
  index: number;
  x: number;
  y: number;
  /** kneedle: the normalised distance below the diagonal at the knee (0..1); slope: the slope ratio */
  strength: number;
  explanation: string;
}

/**
 * Kneedle for a convex increasing curve (latency that bends upward with load). x and y are normalised to
 * [0, 1]; the difference curve D = x_n − y_n measures how far the curve runs below the straight line
 * from its first to its last point; the knee is the local maximum of D that is followed by a drop below
 * D_max − S · mean(Δx_n) (sensitivity S, default 1). A knee needs at least 3 points, a rise of y, and
 * D_max ≥ minStrength (default 0.1); an endpoint cannot be a knee. Points must be sorted by x.
 */
export function kneedle(xs: number[], ys: number[], o: { sensitivity?: number; minStrength?: number } = {}): KneeResult | undefined {
  const n = Math.min(xs.length, ys.length);
  if (n < 3) return undefined;
  const S = o.sensitivity ?? 1;
  const minStrength = o.minStrength ?? 0.1;
  const x0 = xs[0];
  const x1 = xs[n - 1];
  const ymin = Math.min(...ys.slice(0, n));
  const ymax = Math.max(...ys.slice(0, n));
  if (!(x1 > x0) || !(ymax > ymin)) return undefined;
  const xn = xs.slice(0, n).map((x) => (x - x0) / (x1 - x0));
  const yn = ys.slice(0, n).map((y) => (y - ymin) / (ymax - ymin));
  const d = xn.map((x, i) => x - yn[i]);
  const meanDx = (xn[n - 1] - xn[0]) / (n - 1);
  let best: number | undefined;
  for (let i = 1; i < n - 1; i++) {
    const isLocalMax = d[i] >= d[i - 1] && d[i] > d[i + 1];
    if (!isLocalMax || d[i] < minStrength) continue;
    const threshold = d[i] - S * meanDx;
    // confirmed when D falls below the threshold before rising above this maximum again
    let confirmed = false;
    for (let j = i + 1; j < n; j++) {
      if (d[j] > d[i]) break;
      if (d[j] < threshold) {
        confirmed = true;
        break;
      }
    }
    if (confirmed && (best === undefined || d[i] > d[best])) best = i;
  }
  if (best === undefined) return undefined;
  return {
    method: 'kneedle',
    index: best,
    x: xs[best],
    y: ys[best],
    strength: d[best],
    explanation: `Kneedle: the curve runs furthest below the line from its first to its last point at ${xs[best]} (normalised distance ${d[best].toFixed(2)})`,
  };
}

/**
 * Slope rule: the knee is the last point before the first segment whose slope exceeds `factor` (default 3)
 * times the slope of the first segment (floored at 1 % of the mean y per x-range, so a flat start still
 * has a scale). Documented in prior-art §3.2 as the practical alternative to Kneedle.
 */
export function slopeKnee(xs: number[], ys: number[], factor = 3): KneeResult | undefined {
  const n = Math.min(xs.length, ys.length);
  if (n < 3) return undefined;
  const slope = (i: number) => (ys[i] - ys[i - 1]) / (xs[i] - xs[i - 1]);
  const meanY = ys.slice(0, n).reduce((a, b) => a + b, 0) / n;
  const floor = (0.01 * Math.abs(meanY)) / Math.max(1e-12, xs[n - 1] - xs[0]);
  const base = Math.max(slope(1), floor);
  for (let i = 2; i < n; i++) {
    const s = slope(i);
    if (s > factor * base) {
      return {
        method: 'slope',
        index: i - 1,
        x: xs[i - 1],
        y: ys[i - 1],
        strength: s / base,
        explanation: `slope rule: from ${xs[i - 1]} to ${xs[i]} the curve rises ${(s / base).toFixed(1)}× faster than over the first step (threshold ${factor}×)`,
      };
    }
  }
  return undefined;
}

/** Kneedle first; the slope rule when Kneedle finds nothing. */
export function findKnee(xs: number[], ys: number[]): KneeResult | undefined {
  return kneedle(xs, ys) ?? slopeKnee(xs, ys);
}
