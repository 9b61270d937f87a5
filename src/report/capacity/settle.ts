// When a step has settled: from the step's own per-second measurements, not a fixed share of its time. A step
// is steady from the first second after which neither the ACK latency nor the ACKed throughput trends: over the
// rest of the step their least-squares change is within the series' own noise (2 standard errors of the slope)
// or within `tolerance` of its mean. A step that never gets there is "not settled": a queue still growing at the
// end of a hold is itself a sign of overload. Trends are projected over the whole step (slope × step length), so a
// steady climb is not excused by looking only at its last seconds.

export interface SettleSample {
  /** seconds since the step's load started (end of the sample's window) */
  t: number;
  /** ACK latency p95 of this window (s); undefined when no ACK arrived */
  ackP95?: number;
  /** records ACKed per second in this window */
  ackedRate: number;
}

export interface SettleOptions {
  /** seconds always left out at the start (logins) (default 2) */
  minSettleSec?: number;
  /** seconds a steady part needs at least (default 3) */
  minSteadySec?: number;
  /** a change over the steady part below this share of the mean is no trend (default 0.15) */
  tolerance?: number;
}

export interface Trend {
  /** change per second (least squares) */
  slope: number;
  /** change projected over the step: slope × the step's length */
  change: number;
  mean: number;
  /** standard error of the change */
  se: number;
  trending: boolean;
}

export interface SettleResult {
  settled: boolean;
  /** seconds after the step's start from which it is steady (or, unsettled, the last minSteadySec) */
  steadyStartSec: number;
  latency?: Trend;
  throughput?: Trend;
  explanation: string;
}

/**
 * Least-squares trend of ys over ts. `span` is the time the change is projected over (default: the samples' own
 * span); the settle rule projects over the whole step, so a queue growing steadily stays a trend however short
 * the part looked at.
 */
export function linearTrend(ts: number[], ys: number[], tolerance: number, span?: number): Trend | undefined {
  const n = ts.length;
  if (n < 3) return undefined;
  const mt = ts.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    sxx += (ts[i] - mt) ** 2;
    sxy += (ts[i] - mt) * (ys[i] - my);
  }
  if (sxx <= 0) return undefined;
  const slope = sxy / sxx;
  const sse = ys.reduce((a, y, i) => a + (y - (my + slope * (ts[i] - mt))) ** 2, 0);
  const seSlope = Math.sqrt(sse / Math.max(1, n - 2) / sxx);
  const over = span ?? ts[n - 1] - ts[0];
  const change = slope * over;
  const se = seSlope * over;
  const trending = Math.abs(change) > Math.max(2 * se, tolerance * Math.abs(my));
  return { slope, change, mean: my, se, trending };
}

/** The first start after which neither series trends; see the header. Samples sorted by t. */
export function findSteadyStart(samples: SettleSample[], o: SettleOptions = {}): SettleResult {
  const minSettle = o.minSettleSec ?? 2;
  const minSteady = o.minSteadySec ?? 3;
  const tol = o.tolerance ?? 0.15;
  const end = samples.length ? samples[samples.length - 1].t : 0;
  const judge = (from: number) => {
    const part = samples.filter((s) => s.t > from);
    const lat = part.filter((s) => s.ackP95 !== undefined);
    return {
      latency: linearTrend(lat.map((s) => s.t), lat.map((s) => s.ackP95 as number), tol, end),
      throughput: linearTrend(part.map((s) => s.t), part.map((s) => s.ackedRate), tol, end),
    };
  };
  for (let from = minSettle; end - from >= minSteady; from++) {
    const r = judge(from);
    if (!r.latency && !r.throughput) continue;
    if (!r.latency?.trending && !r.throughput?.trending) {
      return { settled: true, steadyStartSec: from, ...defined(r), explanation: `steady from +${from} s: ACK latency and throughput stop trending (change within 2 standard errors or ${tol * 100} % of the mean)` };
    }
  }
  const from = Math.max(minSettle, end - minSteady);
  const r = judge(from);
  const what = [r.latency?.trending ? `ACK latency p95 ${r.latency.slope > 0 ? 'rising' : 'falling'} ${fmtMs(r.latency.slope)}/s` : '', r.throughput?.trending ? `throughput ${r.throughput.slope > 0 ? 'rising' : 'falling'} ${r.throughput.slope.toFixed(1)} records/s per s` : '']
    .filter(Boolean)
    .join(', ');
  return { settled: false, steadyStartSec: from, ...defined(r), explanation: `not settled within the hold${what ? `: ${what}` : ' (too few samples)'}; the last ${minSteady} s are judged` };
}

/** A step whose latency still climbs at the end of its hold: the platform falls behind what is offered. */
export function risingLatency(r: SettleResult): boolean {
  return !r.settled && Boolean(r.latency?.trending && r.latency.slope > 0);
}

const fmtMs = (s: number) => `${(s * 1000).toFixed(1)} ms`;

function defined(r: { latency?: Trend; throughput?: Trend }): { latency?: Trend; throughput?: Trend } {
  return { ...(r.latency ? { latency: r.latency } : {}), ...(r.throughput ? { throughput: r.throughput } : {}) };
}
