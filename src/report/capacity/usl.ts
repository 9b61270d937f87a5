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
  // initial slope per device from the smallest loads
  const sorted = [...pts].sort((a, b) => a.n - b.n);
  const l0 = ((sorted[0].x / sorted[0].n) * Ns) / Xs;
  const starts: number[][] = [
    [0.01, 0.1, l0],
    [0.1, 0.01, l0],
    [0.001, 1, l0],
    [0.3, 0.001, l0],
    [0.05, 5, l0],
    [0, 0, l0],
  ];
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
  const warnings: string[] = [];
  if (distinct < 6) warnings.push(`only ${distinct} distinct device counts: the USL fit needs at least 6 for stable coefficients (codahale/usl)`);
  if (r2 < 0.9) warnings.push(`poor fit (R² ${r2.toFixed(3)}): treat N* and X(N*) as rough`);
  if (nStar !== null && nStar > Ns * 10) warnings.push(`the predicted peak (${Math.round(nStar)}) is far beyond the largest measured load (${Ns}): an extrapolation`);
  return { sigma, kappa, lambda, r2, nStar, xStar, constraint, points: pts.length, warnings };
}
