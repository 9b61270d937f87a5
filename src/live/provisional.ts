// Each objective's status so far, marked provisional. The approach (simple and honest): the SLO file's
// engine-sourced objectives are evaluated exactly as the verifier evaluates them (same formulas, same criteria,
// same judge), but against a summary built from the counts so far (buildSummary) whose latency figures are
// bucket upper bounds, not exact HDR percentiles — so a latency shown passing really is below its bound, and one
// shown failing may be pessimistic by up to one bucket. Every other source (ledger, Prometheus, PostgreSQL, derived)
// needs the finished run: those are listed with their criteria and "judged at the end".
import type { LatencyFigures } from '../core/engine-summary.js';
import type { EngineTick } from '../engine/engine.js';
import { LATENCY_BUCKETS_S, type BucketCounts } from '../engine/stats.js';
import { buildSummary } from '../engine/summary.js';
import { engineFlag, evalEngine, type EngineSummaryData } from '../verify/evidence-engine.js';
import { judge, type Measurement } from '../verify/evaluate.js';
import { formatValue } from '../verify/format.js';
import type { Objective, SloFile } from '../verify/slo-types.js';

export interface ProvisionalObjective {
  id: string;
  description: string;
  source: string;
  key: boolean;
  target: string;
  warning: string;
  /** pass | warn | fail | no-data | report-only, or 'at-end' for sources only the finished run can answer */
  status: string;
  value: string;
  why: string;
}

export interface LiveRunShape {
  runId: string;
  seed: number;
  apiConfigured: boolean;
  wsConfigured: boolean;
  wsClients: number;
}

/** 1 µs: the engine records integer microseconds, so a sample strictly inside a bucket is at least this far below its bound */
const BELOW_BOUND_MS = 0.001;

const LATENCY_FIELDS = { ackLatencyMs: 'ack_latency', recordLatencyMs: 'record_latency', loginLatencyMs: 'login_latency', sendLagMs: 'send_lag', recoveryMs: 'recovery' } as const;

/** Latency figures at bucket resolution: each percentile is the upper bound of the bucket it fell in. */
export function bucketFigures(h: BucketCounts | undefined): LatencyFigures | undefined {
  if (!h || h.count <= 0) return undefined;
  // Just under the bound: the SLO thresholds sit on bucket bounds ("< 1000"), and a sample in (500, 1000] ms is
  // below 1000 ms unless it is exactly 1000.000 — so "< bound" holds for a bucket-bound figure as it would for the
  // exact one. Shown rounded up: "≤ 1000 ms".
  const at = (q: number) => {
    const i = h.buckets.findIndex((c) => c >= q * h.count);
    return i < 0 ? Infinity : LATENCY_BUCKETS_S[i] * 1000 - BELOW_BOUND_MS;
  };
  const first = h.buckets.findIndex((c) => c > 0);
  return { count: h.count, min: first < 0 ? Infinity : first === 0 ? 0 : LATENCY_BUCKETS_S[first - 1] * 1000, mean: (h.sumSeconds / h.count) * 1000, p50: at(0.5), p90: at(0.9), p95: at(0.95), p99: at(0.99), max: at(1) };
}

/** The engine summary the run would have if it ended now, latencies at bucket resolution. */
export function liveSummary(tick: EngineTick, shape: LiveRunShape, connectedPeak: number): EngineSummaryData {
  const now = new Date();
  const summary = buildSummary({
    runId: shape.runId,
    seed: shape.seed,
    fleetloadVersion: 'live',
    loadStart: new Date(now.getTime() - tick.elapsedMs),
    loadEnd: now,
    stages: [],
    shard: { index: 0, count: 1 },
    plannedDevices: tick.plannedDevices,
    connectedPeak,
    apiConfigured: shape.apiConfigured,
    wsConfigured: shape.wsConfigured,
    wsClients: shape.wsClients,
    counts: tick.counts,
    exact: new Map(),
    generator: { workers: 0, rssPeakBytes: 0, cpuSeconds: 0, cpuShareOfMachine: 0, cores: 0, eventLoopDelayP99MaxMs: 0, generatorErrors: 0, invalidReasons: [] },
    ledger: { files: [], entries: 0, records: 0 },
  });
  const data = summary as unknown as Record<string, unknown>;
  for (const [field, id] of Object.entries(LATENCY_FIELDS)) {
    const f = bucketFigures(tick.counts.histograms[id]);
    if (f) data[field] = f;
  }
  const api = summary.api as unknown as Record<string, unknown>;
  const apiLatency = bucketFigures(tick.counts.histograms.api_latency);
  if (apiLatency) api.latencyMs = apiLatency;
  const wsFresh = bucketFigures(tick.counts.histograms.ws_freshness);
  if (wsFresh) (summary.ws as unknown as Record<string, unknown>).freshnessMs = wsFresh;
  return { data, file: 'live' };
}

/** Every objective of the SLO file: engine ones judged on the summary so far, the rest waiting for the end. */
export function provisionalObjectives(slo: SloFile, summary: EngineSummaryData | undefined): ProvisionalObjective[] {
  return slo.objectives.map((o) => {
    const base = { id: o.id, description: o.description, source: o.source, key: o.key, target: o.pass.map((c) => c.text).join(' and '), warning: o.warning.map((c) => c.text).join(' and ') };
    if (o.source !== 'engine' || !o.formula) return { ...base, status: 'at-end', value: '–', why: `${o.source} source: judged when the run has ended` };
    if (!summary) return { ...base, status: 'no-data', value: '–', why: 'the load has not started' };
    const j = judge(o, measure(o, summary));
    if (j.value === null) return { ...base, status: j.status, value: 'no data', why: j.why };
    const shown = valueText(o, j.value);
    // the verifier's words, with the bucket-bound value as the page shows it ("≤ 5 ms", not "4.999 ms")
    return { ...base, status: j.status, value: shown, why: j.why.replace(formatValue(j.value, o.unit), shown) };
  });
}

function measure(o: Objective, summary: EngineSummaryData): Measurement {
  const m: Measurement = { ...evalEngine(summary, o.formula!) };
  if (o.samplesFormula) {
    const s = evalEngine(summary, o.samplesFormula);
    m.samples = s.value;
    if (s.reason) m.samplesReason = s.reason;
  }
  if (o.appliesIf !== undefined) {
    const f = engineFlag(summary, o.appliesIf);
    if (f === false) m.notApplicable = `${o.appliesIf} is false (the profile did not run this client)`;
    else if (f === true) m.required = `${o.appliesIf} is true (the profile ran this client)`;
  }
  return m;
}

/** Latency values are bucket bounds: say so ("≤ 250 ms"). */
function valueText(o: Objective, v: number): string {
  const latency = o.unit === 'ms' && /Ms\.(p\d+|max)\b/.test(o.query);
  return latency ? `≤ ${formatValue(Math.ceil(v), o.unit)}` : formatValue(v, o.unit);
}
