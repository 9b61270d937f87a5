// Capacity analysis of a run (pure): per-step steady-state figures and SLO verdicts, capacity, knee, USL fit,
// first saturating resource, headroom and database growth. capacity.json is this object.
import type { RunManifest } from '../../core/manifest.js';
import type { Report } from '../../verify/report-types.js';
import type { SeriesFile } from '../series.js';
import type { DbStats } from './db-stats.js';
import { projectGrowth, type Growth } from './growth.js';
import { findCapacity, firstSaturation, headroom, type CapacityFinding, type Headroom, type Saturation, type StepResult } from './headroom.js';
import { findKnee, kneedle, slopeKnee, type KneeResult } from './knee.js';
import { isSteppedRun, judgeStep, stepMetrics, stepWindows, type SettleOptions } from './steps.js';
import { fitUsl, uslCurve, uslThroughput, type UslFit } from './usl.js';
import { runFile, writeJsonAtomic } from '../../core/run-folder.js';

export { isSteppedRun } from './steps.js';

export interface CapacityOptions {
  plannedDevices?: number;
  /** seconds between records of one device; default: measured from the run, else 10 s (seed 000) */
  reportIntervalSec?: number;
  settle?: SettleOptions;
}

export interface CapacityAnalysis {
  runId: string;
  stepped: boolean;
  settle: { fraction: number; maxSeconds: number };
  steps: StepResult[];
  capacity: CapacityFinding;
  knee?: KneeResult & { metric: string };
  kneeCrossCheck?: KneeResult;
  usl?: UslFit & { throughputMetric: string; curve: Array<[number, number]> };
  saturation: Saturation[];
  headroom?: Headroom;
  growth?: Growth;
  /** records per second one device sends, measured (stored or sent rate / devices at the lowest step) */
  perDeviceRate?: number;
  notes: string[];
}

export interface CapacityInput {
  manifest: Pick<RunManifest, 'runId' | 'stages' | 'devices'> & Partial<RunManifest>;
  report?: Pick<Report, 'objectives'>;
  series?: SeriesFile;
  dbStats?: DbStats;
}

export function analyzeCapacity(input: CapacityInput, o: CapacityOptions = {}): CapacityAnalysis {
  const settle = { fraction: o.settle?.fraction ?? 0.3, maxSeconds: o.settle?.maxSeconds ?? 120 };
  const windows = stepWindows(input.manifest.stages, settle);
  const steps: StepResult[] = windows.map((w) => {
    const metrics = stepMetrics(input.series, w);
    return { metrics, verdict: judgeStep(metrics, input.report?.objectives) };
  });
  const notes: string[] = [];
  if (!input.series) notes.push('no series.json: per-step figures are missing, so capacity cannot be judged from this run folder');
  const stepped = isSteppedRun(input.manifest);
  const capacity = findCapacity(steps);
  const sorted = [...steps].map((s) => s.metrics).sort((a, b) => a.devices - b.devices);

  // knee of ACK latency p95 over devices (one point per device count: the last step with that count)
  const byCount = new Map<number, (typeof sorted)[number]>();
  for (const m of sorted) if (m.ackP95 !== undefined) byCount.set(m.devices, m);
  const kx = [...byCount.keys()];
  const ky = [...byCount.values()].map((m) => m.ackP95 as number);
  const kneeMain = kneedle(kx, ky);
  const kneeSlope = slopeKnee(kx, ky);
  const knee = findKnee(kx, ky);

  // USL over throughput = stored records/s (falls back to ACKed, then received)
  const metricName = sorted.some((m) => m.storedRate !== undefined) ? 'storedRate' : sorted.some((m) => m.ackedRate !== undefined) ? 'ackedRate' : 'receivedRate';
  const uslPoints = sorted
    .map((m) => ({ n: m.devices, x: m[metricName as 'storedRate'] }))
    .filter((p): p is { n: number; x: number } => p.x !== undefined);
  const fit = fitUsl(uslPoints);
  const maxN = Math.max(0, ...uslPoints.map((p) => p.n));

  const lowest = sorted.find((m) => (m.sentRate ?? m.storedRate) !== undefined);
  const perDeviceRate = lowest ? ((lowest.sentRate ?? lowest.storedRate) as number) / lowest.devices : undefined;

  const planned = o.plannedDevices;
  const hr =
    planned !== undefined
      ? headroom(planned, capacity, {
          plannedRatePerDevice: perDeviceRate,
          uslAtPlanned: fit ? uslThroughput(fit, planned) : undefined,
          lowerBound: capacity.firstFailingDevices === null,
        })
      : undefined;

  let growth: Growth | undefined;
  if (input.dbStats) {
    const interval =
      o.reportIntervalSec !== undefined
        ? { sec: o.reportIntervalSec, source: '--report-interval' }
        : perDeviceRate && perDeviceRate > 0
          ? { sec: 1 / perDeviceRate, source: 'measured: records/s per device at the lowest step' }
          : { sec: 10, source: 'default (seed 000: devices report every 10 s)' };
    growth = projectGrowth(input.dbStats, {
      plannedDevices: planned ?? input.manifest.devices,
      reportIntervalSec: interval.sec,
      intervalSource: interval.source,
    });
    if (!growth) notes.push('db-stats.json has no usable bytes-per-row figure: no growth projection');
  } else notes.push('no db-stats.json: no database growth projection');
  if (!stepped) notes.push('not a stepped run (fewer than two stages with different device counts): capacity, knee and USL need a stepped profile');

  return {
    runId: input.manifest.runId,
    stepped,
    settle,
    steps,
    capacity,
    ...(knee ? { knee: { ...knee, metric: 'ACK latency p95 (s, engine histogram: ACK time − due time)' } } : {}),
    ...(knee && ((knee.method === 'kneedle' && kneeSlope) || (knee.method === 'slope' && kneeMain)) ? { kneeCrossCheck: knee.method === 'kneedle' ? kneeSlope : kneeMain } : {}),
    ...(fit ? { usl: { ...fit, throughputMetric: `${metricName} (records/s)`, curve: uslCurve(fit, maxN) } } : {}),
    saturation: firstSaturation(sorted),
    ...(hr ? { headroom: hr } : {}),
    ...(growth ? { growth } : {}),
    ...(perDeviceRate !== undefined ? { perDeviceRate } : {}),
    notes,
  };
}

export function writeCapacity(runDir: string, a: CapacityAnalysis): string {
  return writeJsonAtomic(runFile(runDir, 'capacityJson'), a);
}
