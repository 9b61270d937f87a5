// Universal Scalability Law (Gunther): X(N) = λN / (1 + σ(N−1) + κN(N−1)), fitted with Levenberg–Marquardt
// (npm ml-levenberg-marquardt) on throughput versus device count. Formulas as in codahale/usl model.go.
import { levenbergMarquardt } from 'ml-levenberg-marquardt';

export interface UslPoint {
  n: number;
  x: number;
}

export interface UslFit {
  sigma: number;
  kappa: number;
  lambda: number;
  r2: number;
  /** peak concurrency sqrt((1−σ)/κ); null when κ ≈ 0 (no peak: linear or contention-only) */
  nStar: number | null;
  /** X(N*) (or the asymptote λ/σ when there is no peak and σ > 0); null when unbounded */
  xStar: number | null;
  constraint: 'contention' | 'coherency' | 'linear';
  points: number;
  warnings: string[];
}

export function uslThroughput(p: Pick<UslFit, 'sigma' | 'kappa' | 'lambda'>, n: number): number {
  return (p.lambda * n) / (1 + p.sigma * (n - 1) + p.kappa * n * (n - 1));
}

/** Device counts at which the USL model is plotted: 0..max(N*, 1.5 × largest measured N). */
export function uslCurve(fit: UslFit, maxN: number, steps = 80): Array<[number, number]> {
  const top = Math.max(maxN * 1.5, fit.nStar && fit.nStar < maxN * 4 ? fit.nStar * 1.2 : 0);
  const out: Array<[number, number]> = [];
  for (let i = 0; i <= steps; i++) {
    const n = Math.max(1, (top * i) / steps);
    out.push([n, uslThroughput(fit, n)]);
  }
  return out;
}

const KAPPA_EPS = 1e-12;

/**
 * Fits σ, κ, λ. To keep the three parameters on comparable scales for the solver, it fits
 * y = X/Xs against l·(N/Ns) / (1 + σ(N−1) + (k/Ns²)·N(N−1)) with Ns = max N, Xs = max X, then maps back
 * λ = l·Xs/Ns, κ = k/Ns². The analytic Jacobian is passed to the solver; several starting points are
 * tried and the lowest residual wins. Bounds: 0 ≤ σ ≤ 1, κ ≥ 0, λ > 0. At least 3 distinct loads are
 * needed; fewer than 6 gets a warning (codahale/usl requires 6).
 */
export function fitUsl(points: UslPoint[]): UslFit | undefined {
  const pts = points.filter((p) => Number.isFinite(p.n) && Number.isFinite(p.x) && p.n > 0 && p.x >= 0);
  const distinct = new Set(pts.map((p) => p.n)).size;
  if (distinct < 3) return undefined;
  const Ns = Math.max(...pts.map((p) => p.n));
  const Xs = Math.max(...pts.map((p) => p.x));
  if (!(Xs > 0)) return undefined;
  const data = { x: pts.map((p) => p.n), y: pts.map((p) => p.x / Xs) };
  const best = bestScaledFit(data, Ns, startingPoints(pts, Ns, Xs));
  if (!best) return undefined;
  const [sigma, k, l] = best.params;
  const kappa = k / (Ns * Ns);
  const lambda = (l * Xs) / Ns;
  const meanY = data.y.reduce((a, b) => a + b, 0) / data.y.length;
  const sst = data.y.reduce((a, y) => a + (y - meanY) ** 2, 0);
  const r2 = sst > 0 ? 1 - best.sse / sst : 1;
  const hasPeak = kappa > KAPPA_EPS && sigma < 1;
  const nStar = hasPeak ? Math.sqrt((1 - sigma) / kappa) : null;
  const fitBase = { sigma, kappa, lambda };
  const xStar = nStar !== null ? uslThroughput(fitBase, nStar) : sigma > 1e-9 ? lambda / sigma : null;
  const constraint: UslFit['constraint'] = kappa <= KAPPA_EPS && sigma <= 1e-6 ? 'linear' : sigma >= kappa ? 'contention' : 'coherency';
  return { sigma, kappa, lambda, r2, nStar, xStar, constraint, points: pts.length, warnings: fitWarnings(distinct, r2, nStar, Ns) };
}

/** The scaled model y = l·(N/Ns) / (1 + σ(N−1) + (k/Ns²)·N(N−1)) and its derivatives by σ, k and l. */
function scaledModel(Ns: number) {
  const model =
    ([s, k, l]: number[]) =>
    (n: number) =>
      (l * (n / Ns)) / (1 + s * (n - 1) + (k / (Ns * Ns)) * n * (n - 1));
  const jacobian =
    ([s, k, l]: number[]) =>
    (n: number) => {
      const den = 1 + s * (n - 1) + (k / (Ns * Ns)) * n * (n - 1);
      const num = l * (n / Ns);
      return [(-num * (n - 1)) / (den * den), (-num * (n * (n - 1))) / (Ns * Ns) / (den * den), n / Ns / den];
    };
  return { model, jacobian };
}

/** Spread-out (σ, k) guesses, all with the initial slope per device from the smallest loads. */
function startingPoints(pts: UslPoint[], Ns: number, Xs: number): number[][] {
  const sorted = [...pts].sort((a, b) => a.n - b.n);
  const l0 = ((sorted[0].x / sorted[0].n) * Ns) / Xs;
  return [
    [0.01, 0.1, l0],
    [0.1, 0.01, l0],
    [0.001, 1, l0],
    [0.3, 0.001, l0],
    [0.05, 5, l0],
    [0, 0, l0],
  ];
}

/** Runs the solver from every start; the lowest finite sum of squared residuals wins. */
function bestScaledFit(data: { x: number[]; y: number[] }, Ns: number, starts: number[][]): { params: number[]; sse: number } | undefined {
  const { model, jacobian } = scaledModel(Ns);
  let best: { params: number[]; sse: number } | undefined;
  for (const initialValues of starts) {
    try {
      const r = levenbergMarquardt(data, model, {
        initialValues,
        jacobianFunction: jacobian,
        minValues: [0, 0, 1e-9],
        maxValues: [1, 1e6, 1e6],
        maxIterations: 500,
        errorTolerance: 1e-14,
        improvementThreshold: 1e-4,
        damping: 1e-2,
      });
      const f = model(r.parameterValues);
      const sse = data.x.reduce((a, n, i) => a + (f(n) - data.y[i]) ** 2, 0);
      if (Number.isFinite(sse) && (!best || sse < best.sse)) best = { params: r.parameterValues, sse };
    } catch {
      // a start that diverges is just not used
    }
  }
  return best;
}

function fitWarnings(distinct: number, r2: number, nStar: number | null, Ns: number): string[] {
  const warnings: string[] = [];
  if (distinct < 6) warnings.push(`only ${distinct} distinct device counts: the USL fit needs at least 6 for stable coefficients (codahale/usl)`);
  if (r2 < 0.9) warnings.push(`poor fit (R² ${r2.toFixed(3)}): treat N* and X(N*) as rough`);
  if (nStar !== null && nStar > Ns * 10) warnings.push(`the predicted peak (${Math.round(nStar)}) is far beyond the largest measured load (${Ns}): an extrapolation`);
  return warnings;
}

/** Standard errors of the fitted coefficients (from the Jacobian at the optimum) and of N* (delta method). */
export interface UslUncertainty {
  sigmaSe: number;
  kappaSe: number;
  lambdaSe: number;
  /** standard error of N*; null when there is no peak */
  nStarSe: number | null;
  /** N* ± 2 standard errors (clamped at 0); null when there is no peak */
  nStarRange: [number, number] | null;
  /** residual standard deviation of throughput, records/s */
  residualSd: number;
  degreesOfFreedom: number;
}

function invert3(m: number[][]): number[][] | undefined {
  const [a, b, c] = m[0];
  const [d, e, f] = m[1];
  const [g, h, i] = m[2];
  const A = e * i - f * h;
  const B = -(d * i - f * g);
  const C = d * h - e * g;
  const det = a * A + b * B + c * C;
  if (!Number.isFinite(det) || Math.abs(det) < 1e-300) return undefined;
  const inv = [
    [A, -(b * i - c * h), b * f - c * e],
    [B, a * i - c * g, -(a * f - c * d)],
    [C, -(a * h - b * g), a * e - b * d],
  ];
  return inv.map((r) => r.map((v) => v / det));
}

/**
 * Linearised uncertainty of a USL fit: cov = s² (JᵀJ)⁻¹ with J the model's derivatives by σ, κ, λ at the fitted
 * values and s² = SSE / (points − 3). Undefined with 3 points or fewer (no degrees of freedom) or a singular JᵀJ.
 */
export function uslUncertainty(fit: Pick<UslFit, 'sigma' | 'kappa' | 'lambda' | 'nStar'>, points: UslPoint[]): UslUncertainty | undefined {
  const m = points.length;
  if (m <= 3) return undefined;
  const { sigma: s, kappa: k, lambda: l } = fit;
  const J = points.map(({ n }) => {
    const den = 1 + s * (n - 1) + k * n * (n - 1);
    return [(-l * n * (n - 1)) / den ** 2, (-l * n * n * (n - 1)) / den ** 2, n / den];
  });
  const sse = points.reduce((a, p) => a + (uslThroughput(fit, p.n) - p.x) ** 2, 0);
  const s2 = sse / (m - 3);
  const jtj = [0, 1, 2].map((r) => [0, 1, 2].map((c) => J.reduce((a, row) => a + row[r] * row[c], 0)));
  const inv = invert3(jtj);
  if (!inv) return undefined;
  const cov = inv.map((r) => r.map((v) => v * s2));
  const se = (i: number) => Math.sqrt(Math.max(0, cov[i][i]));
  let nStarSe: number | null = null;
  if (fit.nStar !== null && k > 0) {
    const g = [-1 / (2 * k * fit.nStar), -fit.nStar / (2 * k), 0];
    const v = g.reduce((a, gi, i) => a + gi * g.reduce((b, gj, j) => b + cov[i][j] * gj, 0), 0);
    nStarSe = Math.sqrt(Math.max(0, v));
  }
  return {
    sigmaSe: se(0),
    kappaSe: se(1),
    lambdaSe: se(2),
    nStarSe,
    nStarRange: fit.nStar !== null && nStarSe !== null ? [Math.max(0, fit.nStar - 2 * nStarSe), fit.nStar + 2 * nStarSe] : null,
    residualSd: Math.sqrt(s2),
    degreesOfFreedom: m - 3,
  };
}

/**
 * Whether the points can constrain σ and κ: throughput per device must fall clearly below its low-load value
 * (by more than `drop`, default 10 %) at `minPast` (default 2) distinct loads — the linear region alone fits any
 * σ, κ near 0 and predicts nothing — and there must be at least 4 distinct loads. Returns why not, or undefined.
 */
export function uslUnconstrained(points: UslPoint[], o: { drop?: number; minPast?: number } = {}): string | undefined {
  const drop = o.drop ?? 0.1;
  const minPast = o.minPast ?? 2;
  const pts = points.filter((p) => p.n > 0 && Number.isFinite(p.x)).sort((a, b) => a.n - b.n);
  const distinct = new Set(pts.map((p) => p.n)).size;
  if (distinct < 4) return `only ${distinct} distinct device counts with throughput (at least 4 needed)`;
  const e0 = pts[0].x / pts[0].n;
  const past = new Set(pts.filter((p) => p.x / p.n < (1 - drop) * e0).map((p) => p.n)).size;
  if (past < minPast) {
    return `only ${past} load(s) past the linear region (throughput per device more than ${drop * 100} % below its value at ${pts[0].n} devices; ${minPast} needed): the data do not constrain contention and coherency`;
  }
  return undefined;
}
