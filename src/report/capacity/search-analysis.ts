// Capacity of an adaptive search (capacity-search.json): per-step figures from series.json over each step's
// measured steady part, per-step verdicts as the step's own verifier gave them, the bracket [last pass, first
// fail], what failed first and whether the generator, not the platform, ended the search.
import type { SeriesFile } from '../series.js';
import type { CapacityFinding, Saturation, StepResult } from './headroom.js';
import type { StepSamples } from './noise-knee.js';
import { bracketOf, type SearchRecord, type SearchStep, type SearchSummary } from './search.js';
import { fmt, stepMetrics, type StepCheck, type StepMetrics } from './steps.js';

export interface SearchAnalysis {
  steps: StepResult[];
  kneeSamples: StepSamples[];
  capacity: (saturation: Saturation[]) => CapacityFinding;
  summary: SearchSummary;
}

const sec = (iso: string) => Date.parse(iso) / 1000;

function metricsOf(s: SearchStep, series: SeriesFile | undefined): StepMetrics {
  const w = { name: s.name, devices: s.devices, start: sec(s.start), end: sec(s.end), steadyStart: sec(s.steadyStart), settleSeconds: sec(s.steadyStart) - sec(s.start) };
  const m = series ? stepMetrics(series, w) : { name: s.name, devices: s.devices, start: s.start, end: s.end, steadyStart: s.steadyStart, steadySeconds: w.end - w.steadyStart };
  // the engine's own figures where Prometheus has none
  if (m.ackedRate === undefined && s.ackedRate !== undefined) m.ackedRate = s.ackedRate;
  if (m.ackP95 === undefined && s.ackP95Ms !== undefined) m.ackP95 = s.ackP95Ms / 1000;
  return m;
}

function checksOf(s: SearchStep): StepCheck[] {
  const failed = s.failed.map<StepCheck>((f) => ({ objective: f.objective, label: f.objective, value: f.value, unit: f.unit, target: f.target, status: 'fail', source: 'verifier', why: f.why }));
  const passed = s.passed.map<StepCheck>((id) => ({ objective: id, label: id, value: null, unit: '', target: '', status: 'pass', source: 'verifier', why: 'met its target in this step' }));
  return [...failed, ...passed];
}

function steadySamples(s: SearchStep): number[] {
  const from = s.settle.steadyStartSec;
  return s.samples.filter((x) => x.t > from && x.ackP95 !== undefined).map((x) => x.ackP95 as number);
}

export function searchAnalysis(rec: SearchRecord, series: SeriesFile | undefined): SearchAnalysis {
  const steps: StepResult[] = rec.steps.map((s) => ({
    metrics: metricsOf(s, series),
    // a generator-bound step judges the generator, not the platform: no verdict on the platform from it
    verdict: { status: s.outcome === 'pass' ? 'pass' : s.outcome === 'fail' ? 'fail' : 'no-data', checks: checksOf(s) },
  }));
  const kneeSamples = rec.steps.filter((s) => s.outcome !== 'generator-bound').map((s) => ({ devices: s.devices, name: s.name, samples: steadySamples(s) }));
  const bracket = bracketOf(rec.steps);
  const passStep = rec.steps.find((s) => s.devices === bracket.pass && s.outcome === 'pass');
  const failStep = rec.steps.find((s) => s.devices === bracket.fail && s.outcome === 'fail');
  const genStep = rec.steps.find((s) => s.outcome === 'generator-bound');
  const generatorBound = rec.stop.reason === 'generator-bound' && bracket.fail === null;
  const capacity = (saturation: Saturation[]): CapacityFinding => {
    const passMetrics = steps.find((r) => r.metrics.name === passStep?.name)?.metrics;
    const failMetrics = steps.find((r) => r.metrics.name === failStep?.name)?.metrics;
    // the engine's exact ACK count over the steady part first (an ACK follows the commit, so ACKed = stored);
    // Prometheus's increase over a few seconds is off by up to a scrape at each edge
    const recordsPerSecond = passStep?.ackedRate ?? passMetrics?.storedRate ?? passMetrics?.ackedRate ?? null;
    const failed = failStep?.failed.map((f) => f.objective) ?? [];
    const resources = limitingResources(passMetrics, failMetrics);
    const sat = resources.length === 0 ? saturation.find((x) => x.devices === bracket.fail) : undefined;
    const evidence = resources[0] ?? (sat ? `${sat.resource} (${sat.evidence})` : undefined);
    const limitedBy = generatorBound
      ? `load generator: ${genStep ? genStep.generatorReasons.join('; ') : rec.stop.explanation}`
      : failed.length
        ? `${failed.join(', ')}${evidence ? `; saturating: ${evidence}` : ''}`
        : null;
    const notes: string[] = [rec.stop.explanation];
    if (generatorBound) notes.push(`generator-bound: a lower bound of the platform's capacity, never the platform's own figure${rec.generatorLimit ? ` (generator limited by ${rec.generatorLimit})` : ''}`);
    if (bracket.fail === null && !generatorBound) notes.push('capacity is a lower bound: the search never reached a failing load');
    const explanation =
      bracket.pass === null
        ? `no step held every SLO${failStep ? `; at ${failStep.devices} devices ${failed.join(', ')} did not` : ''}`
        : bracket.fail !== null
          ? `every SLO held at ${bracket.pass} devices (${fmt(recordsPerSecond)} records/s); at ${bracket.fail} devices ${failed.join(', ')} did not — capacity in [${bracket.pass}, ${bracket.fail}]`
          : generatorBound
            ? `every SLO held up to ${bracket.pass} devices (${fmt(recordsPerSecond)} records/s), where the load generator reached its own limit at ${genStep?.devices} devices: at least ${bracket.pass}`
            : `every SLO held up to ${bracket.pass} devices (${fmt(recordsPerSecond)} records/s): at least that`;
    return {
      devices: bracket.pass,
      step: passStep?.name ?? null,
      firstFailingDevices: bracket.fail,
      failedObjectives: failed,
      explanation,
      notes,
      recordsPerSecond,
      bracket,
      limitedBy,
      generatorBound,
    };
  };
  const summary = {
    shape: rec.shape,
    policy: rec.policy,
    stop: rec.stop,
    ...(rec.generatorLimit ? { generatorLimit: rec.generatorLimit } : {}),
    startedAt: rec.startedAt,
    endedAt: rec.endedAt,
    path: rec.steps.map((s) => ({
      step: s.name,
      devices: s.devices,
      phase: s.phase,
      outcome: s.outcome,
      settled: s.settle.settled,
      ...(s.ackP95Ms !== undefined ? { ackP95Ms: s.ackP95Ms } : {}),
      ...(s.ackedRate !== undefined ? { ackedRate: s.ackedRate } : {}),
      failed: s.failed.map((f) => f.objective),
    })),
  };
  return { steps, kneeSamples, capacity, summary };
}

/**
 * The resource that saturated between the last passing and the first failing step, from what the series show at
 * both: the database writer (its queue or batch time growing, queries waiting for a pool connection), the
 * platform's event loop or CPU, or connections not all up. Empty when the evidence names none.
 */
export function limitingResources(pass: StepMetrics | undefined, fail: StepMetrics | undefined): string[] {
  if (!fail) return [];
  const out: string[] = [];
  const q0 = pass?.writerQueueMax ?? 0;
  // a device has at most a few packets unACKed (it waits for each ACK), so a queue holding a quarter of the fleet's
  // records — and twice what it held at the last pass — means the writer no longer keeps up
  if (fail.writerQueueMax !== undefined && fail.writerQueueMax > Math.max(2 * q0, 0.25 * fail.devices, 10)) {
    out.push(`database writer: ${fmt(fail.writerQueueMax)} records queued uncommitted at ${fail.devices} devices (${fmt(q0)} at ${pass?.devices ?? '–'})`);
  }
  if ((fail.poolWaitingMax ?? 0) > 0) out.push(`database pool: up to ${fmt(fail.poolWaitingMax)} queries waited for a connection`);
  if (fail.batchP95 !== undefined && pass?.batchP95 !== undefined && fail.batchP95 >= 2 * pass.batchP95 && fail.batchP95 >= 0.05) {
    out.push(`database: batch insert p95 ${fmt(fail.batchP95 * 1000)} ms (${fmt(pass.batchP95 * 1000)} ms at ${pass.devices})`);
  }
  if (fail.eventLoopLagP99 !== undefined && fail.eventLoopLagP99 > 0.1) out.push(`platform event loop: lag p99 ${fmt(fail.eventLoopLagP99 * 1000)} ms`);
  if (fail.platformCpuCores !== undefined && fail.platformCpuCores > 0.85) out.push(`platform CPU: ${fmt(fail.platformCpuCores)} cores`);
  if (fail.connectedDevices !== undefined && fail.connectedDevices < 0.95 * fail.devices && out.length === 0) {
    out.push(`connections: ${fmt(fail.connectedDevices)} of ${fail.devices} devices connected on average`);
  }
  return out;
}
