// Capacity analysis of a run (pure): per-step steady-state figures and SLO verdicts, capacity, knee, USL fit,
// first saturating resource, headroom and database growth. capacity.json is this object.
import type { RunManifest } from '../../core/manifest.js';
import type { Report } from '../../verify/report-types.js';
import type { SeriesFile } from '../series.js';
import type { DbStats } from './db-stats.js';
import { projectGrowth, type Growth } from './growth.js';
import { findCapacity, firstSaturation, headroom, type CapacityFinding, type Headroom, type Saturation, type StepResult } from './headroom.js';
import type { KneeResult } from './knee.js';
import { noiseKnee, type KneeCheck, type StepSamples } from './noise-knee.js';
import { searchAnalysis } from './search-analysis.js';
import type { SearchRecord, SearchSummary } from './search.js';
import { ackP95Samples, isSteppedRun, judgeStep, stepMetrics, stepWindows, type SettleOptions } from './steps.js';
import { fitUsl, uslCurve, uslThroughput, uslUncertainty, uslUnconstrained, type UslFit, type UslUncertainty } from './usl.js';
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
  /** present only where latency rises beyond the noise of the steps below (kneeCheck says why or why not) */
  knee?: Omit<KneeResult, 'method'> & { method: 'noise'; metric: string };
  kneeCheck: KneeCheck & { metric: string };
  kneeCrossCheck?: KneeResult;
  /** present only when the data constrain it (uslSkipped says why not) */
  usl?: UslFit & { throughputMetric: string; curve: Array<[number, number]>; uncertainty?: UslUncertainty };
  uslSkipped?: string;
  /** an adaptive search (fleetload capacity): its policy, shape, path and why it stopped */
  search?: SearchSummary;
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
  /** capacity-search.json of an adaptive search folder */
  search?: SearchRecord;
}

const KNEE_METRIC = 'ACK latency p95 (s) of each window of a step\'s steady part (engine histogram: ACK time − due time)';

export function analyzeCapacity(input: CapacityInput, o: CapacityOptions = {}): CapacityAnalysis {
  const settle = { fraction: o.settle?.fraction ?? 0.3, maxSeconds: o.settle?.maxSeconds ?? 120 };
  // an adaptive search brings its own steps and knee samples; a stepped run's come from its stage windows
  const searched = input.search ? searchAnalysis(input.search, input.series) : undefined;
  const windows = stepWindows(input.manifest.stages, settle);
  const steps: StepResult[] =
    searched?.steps ??
    windows.map((w) => {
      const metrics = stepMetrics(input.series, w);
      return { metrics, verdict: judgeStep(metrics, input.report?.objectives) };
    });
  const notes: string[] = [];
  if (!input.series) notes.push('no series.json: per-step figures are missing, so capacity cannot be judged from this run folder');
  const stepped = searched ? true : isSteppedRun(input.manifest);
  const sorted = [...steps].map((s) => s.metrics).sort((a, b) => a.devices - b.devices);
  const saturation = firstSaturation(sorted);
  const capacity = searched ? searched.capacity(saturation) : findCapacity(steps);
  const { knee, kneeCheck } = kneeOf(searched?.kneeSamples ?? windows.map((w) => ({ devices: w.devices, name: w.name, samples: ackP95Samples(input.series, w) })));
  const usl = uslInput(sorted);
  const perDeviceRate = perDeviceRateOf(input, searched !== undefined, sorted);
  const planned = o.plannedDevices;
  const hr =
    planned !== undefined
      ? headroom(planned, capacity, {
          plannedRatePerDevice: perDeviceRate,
          uslAtPlanned: usl.fit ? uslThroughput(usl.fit, planned) : undefined,
          lowerBound: capacity.firstFailingDevices === null || capacity.generatorBound,
        })
      : undefined;
  const growth = input.dbStats ? growthOf(input.dbStats, planned ?? input.manifest.devices, reportInterval(o, perDeviceRate), notes) : undefined;
  if (!input.dbStats) notes.push('no db-stats.json: no database growth projection');
  if (!stepped) notes.push('not a stepped run (fewer than two stages with different device counts): capacity, knee and USL need a stepped profile');

  return {
    runId: input.manifest.runId,
    stepped,
    settle,
    steps,
    capacity,
    ...(knee ? { knee } : {}),
    kneeCheck,
    ...uslSection(usl),
    ...(searched ? { search: searched.summary } : {}),
    saturation,
    ...(hr ? { headroom: hr } : {}),
    ...(growth ? { growth } : {}),
    ...(perDeviceRate !== undefined ? { perDeviceRate } : {}),
    notes,
  };
}

/** The knee is reported only where ACK latency rises beyond the noise of the steps below. */
function kneeOf(kneeSamples: StepSamples[]): Pick<CapacityAnalysis, 'knee' | 'kneeCheck'> {
  const kneeCheck = { ...noiseKnee(kneeSamples), metric: KNEE_METRIC };
  const knee = kneeCheck.found
    ? { method: 'noise' as const, index: kneeCheck.index as number, x: kneeCheck.x as number, y: kneeCheck.y as number, strength: kneeCheck.strength as number, explanation: kneeCheck.explanation, metric: KNEE_METRIC }
    : undefined;
  return { knee, kneeCheck };
}

type Metrics = StepResult['metrics'];

interface UslInput {
  metricName: 'storedRate' | 'ackedRate' | 'receivedRate';
  points: Array<{ n: number; x: number }>;
  /** why the data do not constrain a fit, if they do not */
  skipped: string | undefined;
  fit: UslFit | undefined;
}

/** USL over throughput = stored records/s (falls back to ACKed, then received), only when the data constrain it. */
function uslInput(sorted: Metrics[]): UslInput {
  const metricName = sorted.some((m) => m.storedRate !== undefined) ? 'storedRate' : sorted.some((m) => m.ackedRate !== undefined) ? 'ackedRate' : 'receivedRate';
  const points = sorted
    .map((m) => ({ n: m.devices, x: m[metricName as 'storedRate'] }))
    .filter((p): p is { n: number; x: number } => p.x !== undefined);
  const skipped = uslUnconstrained(points);
  return { metricName, points, skipped, fit: skipped ? undefined : fitUsl(points) };
}

function uslSection({ metricName, points, skipped, fit }: UslInput): Pick<CapacityAnalysis, 'usl' | 'uslSkipped'> {
  if (!fit) return { uslSkipped: skipped ?? 'the fit did not converge' };
  const maxN = Math.max(0, ...points.map((p) => p.n));
  return { usl: { ...fit, throughputMetric: `${metricName} (records/s)`, curve: uslCurve(fit, maxN), ...withUncertainty(uslUncertainty(fit, points)) } };
}

/** Records/s one device sends: the search's shape, else sent (or stored) rate per device at the lowest step. */
function perDeviceRateOf(input: CapacityInput, searched: boolean, sorted: Metrics[]): number | undefined {
  const lowest = sorted.find((m) => (m.sentRate ?? m.storedRate) !== undefined);
  return searched ? input.search?.shape.recordsPerDeviceSec : lowest ? ((lowest.sentRate ?? lowest.storedRate) as number) / lowest.devices : undefined;
}

/** Seconds between records of one device, and where that figure came from (it is printed with the projection). */
function reportInterval(o: CapacityOptions, perDeviceRate: number | undefined): { sec: number; source: string } {
  return o.reportIntervalSec !== undefined
    ? { sec: o.reportIntervalSec, source: '--report-interval' }
    : perDeviceRate && perDeviceRate > 0
      ? { sec: 1 / perDeviceRate, source: 'measured: records/s per device at the lowest step' }
      : { sec: 10, source: 'default (seed 000: devices report every 10 s)' };
}

function growthOf(dbStats: DbStats, plannedDevices: number, interval: { sec: number; source: string }, notes: string[]): Growth | undefined {
  const growth = projectGrowth(dbStats, { plannedDevices, reportIntervalSec: interval.sec, intervalSource: interval.source });
  if (!growth) notes.push('db-stats.json has no usable bytes-per-row figure: no growth projection');
  return growth;
}

function withUncertainty(u: UslUncertainty | undefined): { uncertainty?: UslUncertainty } {
  return u ? { uncertainty: u } : {};
}

export function writeCapacity(runDir: string, a: CapacityAnalysis): string {
  return writeJsonAtomic(runFile(runDir, 'capacityJson'), a);
}
