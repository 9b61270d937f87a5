// Capacity (largest device count at which every SLO held), headroom against a planned fleet, and the first
// resource to saturate, each with the evidence that decided it.
import { fmt, type StepMetrics, type StepVerdict } from './steps.js';

export interface StepResult {
  metrics: StepMetrics;
  verdict: StepVerdict;
}

export interface CapacityFinding {
  /** largest tested device count at which every SLO held (and held at every smaller step); null = none held */
  devices: number | null;
  step: string | null;
  /** first tested count at which an SLO did not hold */
  firstFailingDevices: number | null;
  failedObjectives: string[];
  explanation: string;
  notes: string[];
  /** records/s stored (else ACKed) at the capacity step */
  recordsPerSecond: number | null;
  /** [last pass, first fail] of the tested counts */
  bracket: { pass: number | null; fail: number | null };
  /** what failed first (objective ids, and the saturated resource when the evidence names one); null = nothing failed */
  limitedBy: string | null;
  /** the load generator reached its own limit before the platform failed: capacity is a lower bound */
  generatorBound: boolean;
}

/**
 * Steps sorted by device count; capacity is the last step of the unbroken run of passing steps from the
 * smallest one. A passing step above a failed one is reported in notes but not counted (conservative: a
 * failure at a lower load is evidence, a later pass may be noise). Steps without data are skipped.
 */
export function findCapacity(steps: StepResult[]): CapacityFinding {
  const sorted = [...steps].filter((s) => s.verdict.status !== 'no-data').sort((a, b) => a.metrics.devices - b.metrics.devices);
  const notes: string[] = [];
  let cap: StepResult | undefined;
  let firstFail: StepResult | undefined;
  for (const s of sorted) {
    if (firstFail) {
      if (s.verdict.status === 'pass') notes.push(`step ${s.metrics.name} (${s.metrics.devices} devices) passed again above a failed step; not counted`);
      continue;
    }
    if (s.verdict.status === 'pass') cap = s;
    else firstFail = s;
  }
  const failed = firstFail ? firstFail.verdict.checks.filter((c) => c.status === 'fail' || c.status === 'warn').map((c) => c.objective) : [];
  let explanation: string;
  if (sorted.length === 0) explanation = 'no step had data to judge';
  else if (!cap) explanation = `no step held every SLO; the smallest (${sorted[0].metrics.devices} devices) missed ${failed.join(', ')}`;
  else if (!firstFail) explanation = `every step held every SLO up to the largest tested count (${cap.metrics.devices} devices): the real capacity is at least this`;
  else explanation = `every SLO held up to ${cap.metrics.devices} devices; at ${firstFail.metrics.devices} devices ${failed.join(', ')} did not`;
  if (!firstFail && cap) notes.push('capacity is a lower bound: the run never reached a failing load');
  return {
    devices: cap?.metrics.devices ?? null,
    step: cap?.metrics.name ?? null,
    firstFailingDevices: firstFail?.metrics.devices ?? null,
    failedObjectives: failed,
    explanation,
    notes,
    recordsPerSecond: cap ? (cap.metrics.storedRate ?? cap.metrics.ackedRate ?? null) : null,
    bracket: { pass: cap?.metrics.devices ?? null, fail: firstFail?.metrics.devices ?? null },
    limitedBy: failed.length ? failed.join(', ') : null,
    generatorBound: false,
  };
}

export interface Headroom {
  plannedDevices: number;
  capacityDevices: number | null;
  /** (capacity − planned) / planned; negative = the plan exceeds the measured capacity */
  ratio: number | null;
  /** USL throughput at the planned count vs what the planned fleet sends */
  uslPredictedRate?: number;
  plannedRate?: number;
  explanation: string;
}

export function headroom(
  plannedDevices: number,
  cap: CapacityFinding,
  o: { plannedRatePerDevice?: number; uslAtPlanned?: number; lowerBound?: boolean } = {},
): Headroom {
  const ratio = cap.devices === null ? null : (cap.devices - plannedDevices) / plannedDevices;
  const plannedRate = o.plannedRatePerDevice !== undefined ? o.plannedRatePerDevice * plannedDevices : undefined;
  let explanation =
    ratio === null
      ? `no measured capacity to compare with the planned ${plannedDevices} devices`
      : ratio >= 0
        ? `${(ratio * 100).toFixed(0)} % headroom: capacity ${cap.devices} devices for a planned ${plannedDevices}${o.lowerBound ? ' (at least: no step failed)' : ''}`
        : `${(-ratio * 100).toFixed(0)} % short: the planned ${plannedDevices} devices exceed the measured capacity of ${cap.devices}`;
  if (o.uslAtPlanned !== undefined && plannedRate !== undefined) {
    explanation += `; the USL model predicts ${fmt(o.uslAtPlanned)} records/s at ${plannedDevices} devices for ${fmt(plannedRate)} records/s sent`;
  }
  return {
    plannedDevices,
    capacityDevices: cap.devices,
    ratio,
    ...(o.uslAtPlanned !== undefined ? { uslPredictedRate: o.uslAtPlanned } : {}),
    ...(plannedRate !== undefined ? { plannedRate } : {}),
    explanation,
  };
}

export interface Saturation {
  resource: 'database' | 'event-loop' | 'cpu' | 'connections';
  devices: number;
  step: string;
  evidence: string;
}

export interface SaturationThresholds {
  /** batch p95 this many times its value at the smallest step, or the writer queue growing */
  batchGrowth: number;
  /** event-loop lag p99 above this (s) */
  eventLoopLagSec: number;
  /** CPU cores used by the (single-threaded) platform process above this */
  cpuCores: number;
  /** connected devices below this share of the step's devices */
  connectedShare: number;
}

const DEFAULT_SATURATION: SaturationThresholds = { batchGrowth: 3, eventLoopLagSec: 0.1, cpuCores: 0.85, connectedShare: 0.95 };

/**
 * The first resource whose indicator trips, walking the steps from the smallest load: database (batch
 * insert p95 ≥ 3× its low-load value with at least 50 ms, or queries waiting for a pool connection, or the
 * writer queue above one batch per device), event loop (lag p99 > 100 ms), CPU (the Node process using
 * > 0.85 of a core), connections (fewer than 95 % of the step's devices connected). Ties at one step are
 * all listed; undefined when nothing tripped or the evidence is missing.
 */
export function firstSaturation(steps: StepMetrics[], t: SaturationThresholds = DEFAULT_SATURATION): Saturation[] {
  const sorted = [...steps].sort((a, b) => a.devices - b.devices);
  const baseBatch = sorted.find((s) => s.batchP95 !== undefined)?.batchP95;
  for (const s of sorted) {
    const found: Saturation[] = [];
    const at = { devices: s.devices, step: s.name };
    if (s.batchP95 !== undefined && baseBatch !== undefined && s.batchP95 >= Math.max(t.batchGrowth * baseBatch, 0.05)) {
      found.push({ resource: 'database', ...at, evidence: `batch insert p95 ${fmt(s.batchP95 * 1000)} ms, ${fmt(s.batchP95 / baseBatch)}× its ${fmt(baseBatch * 1000)} ms at the smallest step` });
    } else if ((s.poolWaitingMax ?? 0) > 0) {
      found.push({ resource: 'database', ...at, evidence: `up to ${fmt(s.poolWaitingMax)} queries waited for a pool connection` });
    } else if (s.writerQueueMax !== undefined && s.writerQueueMax > Math.max(1000, s.devices * 10)) {
      found.push({ resource: 'database', ...at, evidence: `writer queue reached ${fmt(s.writerQueueMax)} records not yet committed` });
    }
    if (s.eventLoopLagP99 !== undefined && s.eventLoopLagP99 > t.eventLoopLagSec) {
      found.push({ resource: 'event-loop', ...at, evidence: `event-loop lag p99 ${fmt(s.eventLoopLagP99 * 1000)} ms (limit ${t.eventLoopLagSec * 1000} ms)` });
    }
    if (s.platformCpuCores !== undefined && s.platformCpuCores > t.cpuCores) {
      found.push({ resource: 'cpu', ...at, evidence: `platform process used ${fmt(s.platformCpuCores)} CPU cores (limit ${t.cpuCores})` });
    }
    if (s.connectedDevices !== undefined && s.connectedDevices < t.connectedShare * s.devices) {
      found.push({ resource: 'connections', ...at, evidence: `only ${fmt(s.connectedDevices)} of ${s.devices} devices connected on average` });
    }
    if (found.length) return found;
  }
  return [];
}
