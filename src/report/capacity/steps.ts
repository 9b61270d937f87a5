// Stepped runs: one window per stage, with its ramp/settling part cut off, and the steady-state figures of
// each step computed from the stored series (series.json) with the arithmetic of prommath.ts.
import { findQuery, type SeriesFile, type StoredQuery } from '../series.js';
import {
  counterIncrease,
  gaugeStats,
  histogramIncrease,
  histogramQuantile,
  sumIncrease,
  type StoredSeries,
} from './prommath.js';

export interface StageLike {
  name: string;
  start: string;
  end: string;
  devices: number;
}

export interface StepWindow {
  name: string;
  devices: number;
  /** unix seconds */
  start: number;
  end: number;
  /** start of the steady part (start + settle) */
  steadyStart: number;
  settleSeconds: number;
}

export interface SettleOptions {
  /** share of each step treated as ramp/settling and dropped (default 0.3) */
  fraction?: number;
  /** upper bound of the cut in seconds (default 120) */
  maxSeconds?: number;
}

/** A run is stepped when it has at least two stages with different device counts. */
export function isSteppedRun(m: { stages?: StageLike[] }): boolean {
  const counts = new Set((m.stages ?? []).map((s) => s.devices));
  return (m.stages?.length ?? 0) >= 2 && counts.size >= 2;
}

/**
 * Each stage's window with the first `fraction` of it (at most `maxSeconds`) dropped: the devices of a new
 * step connect and the queues settle then, so those seconds describe the transition, not the level.
 */
export function stepWindows(stages: StageLike[], o: SettleOptions = {}): StepWindow[] {
  const fraction = o.fraction ?? 0.3;
  const maxCut = o.maxSeconds ?? 120;
  return stages.map((s) => {
    const start = Date.parse(s.start) / 1000;
    const end = Date.parse(s.end) / 1000;
    const settle = Math.min(Math.max(0, (end - start) * fraction), maxCut);
    return { name: s.name, devices: s.devices, start, end, steadyStart: start + settle, settleSeconds: settle };
  });
}

/** Steady-state figures of one step; undefined = no data for it in the run. Times in seconds. */
export interface StepMetrics {
  name: string;
  devices: number;
  start: string;
  end: string;
  steadyStart: string;
  steadySeconds: number;
  /** records/s */
  sentRate?: number;
  ackedRate?: number;
  receivedRate?: number;
  storedRate?: number;
  /** device-side ACK latency percentiles (engine histogram: ACK time − the packet's due time), s */
  ackP50?: number;
  ackP95?: number;
  ackP99?: number;
  ackSamples?: number;
  /** server-side ACK duration p95 (platform histogram: frame received → ACK written), s */
  platformAckP95?: number;
  /** per-record delivery latency p95 (engine histogram: ACK time − the record's own timestamp), s */
  recordLatencyP95?: number;
  batchP95?: number;
  batchMean?: number;
  batchSizeMean?: number;
  ingestLagP95?: number;
  httpP95?: number;
  httpErrorRatio?: number;
  httpRequests?: number;
  /** device errors (engine) per packet sent */
  deviceErrorRatio?: number;
  connectedDevices?: number;
  /** platform process: CPU cores used (mean), RSS max bytes, event-loop lag p99 max (s) */
  platformCpuCores?: number;
  platformRssBytes?: number;
  eventLoopLagP99?: number;
  writerQueueMax?: number;
  poolWaitingMax?: number;
}

const q = (f: SeriesFile | undefined, id: string): StoredQuery | undefined => findQuery(f, id);
const seriesOf = (f: SeriesFile | undefined, id: string): StoredSeries[] => q(f, id)?.series ?? [];
const jobSeries = (f: SeriesFile | undefined, id: string, job: string): StoredSeries[] => seriesOf(f, id).filter((s) => s.labels.job === job);

function rate(f: SeriesFile | undefined, id: string, t0: number, t1: number, series?: StoredSeries[]): number | undefined {
  const def = q(f, id);
  const inc = sumIncrease(series ?? def?.series ?? [], t0, t1, def?.fromZero ?? false);
  return inc === undefined || t1 <= t0 ? undefined : inc / (t1 - t0);
}

function pct(f: SeriesFile | undefined, id: string, quantile: number, t0: number, t1: number): number | undefined {
  const v = histogramQuantile(quantile, histogramIncrease(seriesOf(f, id), t0, t1));
  return v === undefined || !Number.isFinite(v) ? undefined : v;
}

function maxGauge(series: StoredSeries[], t0: number, t1: number): number | undefined {
  let m: number | undefined;
  for (const s of series) {
    const st = gaugeStats(s.points, t0, t1);
    if (st && (m === undefined || st.max > m)) m = st.max;
  }
  return m;
}

const iso = (t: number) => new Date(Math.round(t * 1000)).toISOString();

export function stepMetrics(series: SeriesFile | undefined, w: StepWindow, platformJob = 'fleet-platform'): StepMetrics {
  const t0 = w.steadyStart;
  const t1 = w.end;
  const out: StepMetrics = {
    name: w.name,
    devices: w.devices,
    start: iso(w.start),
    end: iso(w.end),
    steadyStart: iso(t0),
    steadySeconds: t1 - t0,
  };
  const set = <K extends keyof StepMetrics>(k: K, v: StepMetrics[K] | undefined) => {
    if (v !== undefined && (typeof v !== 'number' || Number.isFinite(v))) out[k] = v;
  };
  set('sentRate', rate(series, 'engine_records_sent', t0, t1));
  set('ackedRate', rate(series, 'engine_records_acked', t0, t1));
  set('receivedRate', rate(series, 'platform_received', t0, t1));
  set('storedRate', rate(series, 'platform_inserted', t0, t1));
  set('ackP50', pct(series, 'engine_ack_latency', 0.5, t0, t1));
  set('ackP95', pct(series, 'engine_ack_latency', 0.95, t0, t1));
  set('ackP99', pct(series, 'engine_ack_latency', 0.99, t0, t1));
  const ackBuckets = histogramIncrease(seriesOf(series, 'engine_ack_latency'), t0, t1);
  if (ackBuckets.length) set('ackSamples', ackBuckets[ackBuckets.length - 1].count);
  set('platformAckP95', pct(series, 'ack_duration', 0.95, t0, t1));
  set('recordLatencyP95', pct(series, 'engine_record_latency', 0.95, t0, t1));
  set('batchP95', pct(series, 'batch_duration', 0.95, t0, t1));
  const batchBuckets = histogramIncrease(seriesOf(series, 'batch_duration'), t0, t1);
  const batches = batchBuckets.length ? batchBuckets[batchBuckets.length - 1].count : 0;
  const sizeSum = sumIncrease(seriesOf(series, 'batch_size_sum'), t0, t1);
  if (batches > 0 && sizeSum !== undefined) set('batchSizeMean', sizeSum / batches);
  set('ingestLagP95', pct(series, 'ingest_lag', 0.95, t0, t1));
  const httpBuckets = histogramIncrease(seriesOf(series, 'http_duration'), t0, t1);
  const httpTotal = sumIncrease(seriesOf(series, 'http_requests'), t0, t1);
  if (httpTotal !== undefined && httpTotal > 0) {
    set('httpRequests', httpTotal);
    set('httpP95', pct(series, 'http_duration', 0.95, t0, t1));
    set('httpErrorRatio', (sumIncrease(seriesOf(series, 'http_requests_5xx'), t0, t1) ?? 0) / httpTotal);
  } else if (httpBuckets.length && httpBuckets[httpBuckets.length - 1].count > 0) set('httpP95', pct(series, 'http_duration', 0.95, t0, t1));
  const packets = sumIncrease(seriesOf(series, 'engine_packets_sent'), t0, t1, true);
  const errors = sumIncrease(seriesOf(series, 'engine_device_errors'), t0, t1, true);
  // every error series exists at 0 from the first scrape, so no series means no data, never 0 errors
  if (packets !== undefined && packets > 0 && errors !== undefined) set('deviceErrorRatio', errors / packets);
  const connected = seriesOf(series, 'engine_devices_connected')[0] ?? seriesOf(series, 'tcp_connections')[0];
  if (connected) set('connectedDevices', gaugeStats(connected.points, t0, t1)?.mean);
  const cpu = jobSeries(series, 'process_cpu', platformJob)[0];
  if (cpu) {
    const inc = counterIncrease(cpu.points, t0, t1);
    if (inc !== undefined && t1 > t0) set('platformCpuCores', inc / (t1 - t0));
  }
  set('platformRssBytes', maxGauge(jobSeries(series, 'process_rss', platformJob), t0, t1));
  set('eventLoopLagP99', maxGauge(jobSeries(series, 'eventloop_lag_p99', platformJob), t0, t1));
  set('writerQueueMax', maxGauge(seriesOf(series, 'writer_queue'), t0, t1));
  set('poolWaitingMax', maxGauge(seriesOf(series, 'db_pool_waiting'), t0, t1));
  return out;
}

// ---- per-step SLO verdicts ------------------------------------------------------------------------------

export type CheckStatus = 'pass' | 'warn' | 'fail' | 'no-data';

export interface Criterion {
  op: '<' | '<=' | '>' | '>=' | '==' | '!=';
  value: number;
}

/** "< 1000", "<= 0.25 and >= 0": the pass/warning criteria as report.json writes them. undefined = not parseable. */
export function parseCriteria(text: string | undefined): Criterion[] | undefined {
  if (!text || !text.trim()) return undefined;
  const parts = text.split(/\s+and\s+|\s*&&\s*|\s*,\s*/i).map((p) => p.trim()).filter(Boolean);
  const out: Criterion[] = [];
  for (const p of parts) {
    const m = /^(<=|>=|==|!=|<|>|=)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?)\s*(%?)$/i.exec(p);
    if (!m) return undefined;
    const op = (m[1] === '=' ? '==' : m[1]) as Criterion['op'];
    out.push({ op, value: Number(m[2]) / (m[3] ? 100 : 1) });
  }
  return out.length ? out : undefined;
}

export function meets(v: number, cs: Criterion[]): boolean {
  return cs.every((c) => {
    switch (c.op) {
      case '<':
        return v < c.value;
      case '<=':
        return v <= c.value;
      case '>':
        return v > c.value;
      case '>=':
        return v >= c.value;
      case '==':
        return v === c.value;
      case '!=':
        return v !== c.value;
    }
  });
}

/** How a step figure maps onto an objective of the SLO file. */
export interface StepCheckDef {
  objective: string;
  label: string;
  /** value in seconds/ratio as computed per step */
  metric: (m: StepMetrics) => number | undefined;
  /** unit of the computed value; converted to the objective's unit (s→ms) */
  unit: 's' | 'ratio';
  /** the objective's unit in the default SLO file (when report.json lacks the objective) */
  defaultUnit: string;
  /** used when report.json lacks the objective */
  defaultPass: string;
  defaultWarning?: string;
  note?: string;
}

const STEP_CHECKS: StepCheckDef[] = [
  {
    objective: 'ack_latency_p95',
    label: 'ACK latency p95',
    metric: (m) => m.ackP95,
    unit: 's',
    defaultUnit: 'ms',
    defaultPass: '< 1000',
    defaultWarning: '< 2000',
    note: 'per step from the engine\'s ACK latency histogram (bucket-interpolated); the whole-run objective uses the exact figure of the engine summary',
  },
  { objective: 'device_error_ratio', label: 'device error ratio', metric: (m) => m.deviceErrorRatio, unit: 'ratio', defaultUnit: 'ratio', defaultPass: '< 0.001', defaultWarning: '< 0.01' },
  { objective: 'batch_insert_p95', label: 'batch insert p95', metric: (m) => m.batchP95, unit: 's', defaultUnit: 's', defaultPass: '<= 0.25', defaultWarning: '<= 0.5' },
  { objective: 'ingest_lag_p95', label: 'ingest lag p95', metric: (m) => m.ingestLagP95, unit: 's', defaultUnit: 's', defaultPass: '<= 2', defaultWarning: '<= 5' },
  {
    objective: 'received_vs_acked',
    label: 'received / ACKed',
    metric: (m) => (m.receivedRate !== undefined && m.ackedRate ? m.receivedRate / m.ackedRate : undefined),
    unit: 'ratio',
    defaultUnit: 'ratio',
    defaultPass: '>= 0.98',
    defaultWarning: '>= 0.9',
  },
  { objective: 'api_latency_p95', label: 'API latency p95', metric: (m) => m.httpP95, unit: 's', defaultUnit: 's', defaultPass: '<= 0.5', defaultWarning: '<= 1' },
  { objective: 'api_error_ratio', label: 'API error ratio', metric: (m) => m.httpErrorRatio, unit: 'ratio', defaultUnit: 'ratio', defaultPass: '< 0.001', defaultWarning: '< 0.01' },
];

export interface ObjectiveLike {
  id: string;
  unit: string;
  target: string;
  warning?: string;
  status?: string;
  stages?: Array<{ name: string; value: number | null; status: string; why: string }>;
}

export interface StepCheck {
  objective: string;
  label: string;
  value: number | null;
  unit: string;
  target: string;
  status: CheckStatus;
  /** 'verifier' = taken from report.json's per-stage result; 'series' = computed here */
  source: 'verifier' | 'series';
  why: string;
}

export interface StepVerdict {
  status: 'pass' | 'fail' | 'no-data';
  checks: StepCheck[];
}

function convert(v: number, from: 's' | 'ratio', to: string): number {
  if (from === 's' && to === 'ms') return v * 1000;
  return v;
}

/**
 * Judges one step against the run's objectives. A verifier's per-stage result (report.json objectives[].stages)
 * wins; otherwise the step figure is compared with the objective's target (or the default SLO's). An SLO
 * "held" only on 'pass': a value in the warning band did miss its target. Checks without data are not counted.
 */
export function judgeStep(m: StepMetrics, objectives: ObjectiveLike[] | undefined, checks: StepCheckDef[] = STEP_CHECKS): StepVerdict {
  const out: StepCheck[] = [];
  for (const def of checks) {
    const obj = objectives?.find((o) => o.id === def.objective);
    if (obj && obj.status === 'report-only') continue;
    const stage = obj?.stages?.find((s) => s.name === m.name);
    if (stage && (stage.status === 'pass' || stage.status === 'warn' || stage.status === 'fail' || stage.status === 'no-data')) {
      out.push({
        objective: def.objective,
        label: def.label,
        value: stage.value,
        unit: obj?.unit ?? def.unit,
        target: obj?.target ?? def.defaultPass,
        status: stage.status,
        source: 'verifier',
        why: stage.why,
      });
      continue;
    }
    const unit = obj?.unit ?? def.defaultUnit;
    const target = obj?.target ?? def.defaultPass;
    const warning = obj ? obj.warning : def.defaultWarning;
    const raw = def.metric(m);
    if (raw === undefined) {
      out.push({ objective: def.objective, label: def.label, value: null, unit, target, status: 'no-data', source: 'series', why: 'no data in this step' });
      continue;
    }
    const value = convert(raw, def.unit, unit);
    const pass = parseCriteria(target);
    const warn = parseCriteria(warning);
    let status: CheckStatus;
    if (!pass) status = 'no-data';
    else if (meets(value, pass)) status = 'pass';
    else if (warn && meets(value, warn)) status = 'warn';
    else status = 'fail';
    const why = !pass
      ? `target "${target}" is not a simple comparison`
      : status === 'pass'
        ? `${fmt(value)} ${unit} meets ${target}`
        : `${fmt(value)} ${unit} misses ${target}${status === 'warn' ? ` (within warning ${warning})` : ''}`;
    out.push({ objective: def.objective, label: def.label, value, unit, target, status, source: 'series', why: def.note && status !== 'pass' ? `${why}; ${def.note}` : why });
  }
  const counted = out.filter((c) => c.status !== 'no-data');
  const status = counted.length === 0 ? 'no-data' : counted.every((c) => c.status === 'pass') ? 'pass' : 'fail';
  return { status, checks: out };
}

export function fmt(v: number | null | undefined, digits = 3): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e6 || a < 1e-3) return v.toExponential(2);
  if (a >= 100) return v.toFixed(0);
  return Number(v.toPrecision(digits)).toString();
}

/**
 * ACK latency p95 of each `sec`-second window of a step's steady part (the spread the knee rule compares a rise
 * with). Windows without an ACK are left out. Seconds.
 */
export function ackP95Samples(series: SeriesFile | undefined, w: Pick<StepWindow, 'steadyStart' | 'end'>, sec = 5): number[] {
  const out: number[] = [];
  for (let t = w.steadyStart; t + sec <= w.end + 1e-9; t += sec) {
    const v = pct(series, 'engine_ack_latency', 0.95, t, t + sec);
    if (v !== undefined) out.push(v);
  }
  return out;
}
