// Generator health: was the load engine, not the target, the bottleneck? While the engine runs it samples its own
// resident memory and CPU from /proc/self; afterwards its measurements add late sends (p95 of send lag: a device woke
// for its tick late), event-loop delay per engine thread (a thread too busy to keep time inflates every latency it
// measures), dropped API requests (the pool had no free connection for a scheduled arrival) and engine bugs.
// Any threshold exceeded makes the run INVALID (exit 4): the target's figures cannot be trusted then.
//
// Default thresholds (override per profile under `generator:`):
//   maxSendLagP95          250 ms  devices sent a quarter second behind schedule: latency and rates are skewed
//   maxEventLoopDelayP99   100 ms  an engine thread's event loop ran this late at p99 over the run
//   maxCpuPercent          90 %    the engine's average CPU over the run, as a share of ALL cores of the machine
//   maxRssMb               none    peak resident memory of the engine process
//   maxDroppedRequests     0       API arrivals dropped because every pooled connection was busy (raise api.connections)
//   maxGeneratorErrors     0       a device task that threw: a bug in the engine
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

export interface GeneratorThresholds {
  maxSendLagP95Ms: number;
  maxEventLoopDelayP99Ms: number;
  maxCpuPercent: number;
  maxRssMb?: number;
  maxDroppedRequests: number;
  maxGeneratorErrors: number;
}

export const DEFAULT_GENERATOR_THRESHOLDS: GeneratorThresholds = {
  maxSendLagP95Ms: 250,
  maxEventLoopDelayP99Ms: 100,
  maxCpuPercent: 90,
  maxDroppedRequests: 0,
  maxGeneratorErrors: 0,
};

/** What the sampler saw of the engine process. */
export interface GeneratorSamples {
  samples: number;
  wallSeconds: number;
  cores: number;
  /** peak resident set (VmHWM), kB */
  peakRssKb: number;
  /** resident set at the last sample, kB */
  lastRssKb: number;
  /** user + system CPU seconds between the first and last sample */
  cpuSeconds: number;
  /** highest CPU use over one sampling interval, % of ONE core */
  peakCpuPercentOfCore: number;
  /**
   * The samples over time for the report's process chart: [unix s, cumulative CPU s, RSS bytes]. At most
   * MAX_POINTS: past that every other point is dropped and the stride doubles, so an 8-hour soak costs no more.
   */
  points: Array<[number, number, number]>;
}

const MAX_POINTS = 2000;

/** Linux's USER_HZ: /proc/<pid>/stat times are in 1/100 s on every mainstream architecture. */
const CLK_TCK = 100;

/** RSS and CPU of a process from /proc, or undefined when it is gone (or not Linux). */
export function readProc(pid: number): { rssKb: number; hwmKb: number; cpuSeconds: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)\\s+kB`, 'm').exec(status)?.[1] ?? NaN);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after "(comm)": state is field 3, utime 14 and stime 15 → indices 11 and 12 after the ')'
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpuSeconds = (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
    const rssKb = kb('VmRSS');
    const hwmKb = kb('VmHWM');
    if (!Number.isFinite(rssKb) || !Number.isFinite(cpuSeconds)) return undefined;
    return { rssKb, hwmKb: Number.isFinite(hwmKb) ? hwmKb : rssKb, cpuSeconds };
  } catch {
    return undefined;
  }
}

export interface GeneratorSampler {
  /** Stops sampling (takes a last sample first) and returns the figures. */
  stop(): GeneratorSamples;
}

/** Samples a process every intervalMs until stop(); memory use is constant however long the run. */
export function startGeneratorSampler(pid: number, intervalMs = 1000, maxPoints = MAX_POINTS): GeneratorSampler {
  const started = Date.now();
  const out: GeneratorSamples = { samples: 0, wallSeconds: 0, cores: cpus().length || 1, peakRssKb: 0, lastRssKb: 0, cpuSeconds: 0, peakCpuPercentOfCore: 0, points: [] };
  let stride = 1;
  let first: { at: number; cpu: number } | undefined;
  let prev: { at: number; cpu: number } | undefined;
  const sample = () => {
    const p = readProc(pid);
    if (!p) return;
    const at = Date.now();
    out.samples++;
    out.peakRssKb = Math.max(out.peakRssKb, p.hwmKb, p.rssKb);
    out.lastRssKb = p.rssKb;
    if (!first) first = { at, cpu: p.cpuSeconds };
    if (prev && at - prev.at >= intervalMs / 2) {
      out.peakCpuPercentOfCore = Math.max(out.peakCpuPercentOfCore, ((p.cpuSeconds - prev.cpu) / ((at - prev.at) / 1000)) * 100);
    }
    prev = { at, cpu: p.cpuSeconds };
    out.cpuSeconds = p.cpuSeconds - first.cpu;
    out.wallSeconds = (at - first.at) / 1000;
    if ((out.samples - 1) % stride === 0) {
      out.points.push([at / 1000, p.cpuSeconds, p.rssKb * 1024]);
      if (out.points.length > maxPoints) {
        out.points = out.points.filter((_, i) => i % 2 === 0);
        stride *= 2;
      }
    }
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  timer.unref();
  return {
    stop() {
      sample();
      clearInterval(timer);
      if (out.wallSeconds === 0) out.wallSeconds = (Date.now() - started) / 1000;
      return { ...out, points: [...out.points] };
    },
  };
}

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

/** The engine's own measurements that say whether it kept up. */
export interface EngineHealthInputs {
  sendLagP95Ms?: number;
  sendLagMaxMs?: number;
  eventLoopDelayP99MaxMs: number;
  droppedRequests: number;
  generatorErrors: number;
  workers: number;
}

/**
 * Generator figures (for the manifest's `generator` field) and the reasons, if any, why the engine rather than the
 * target limited the run.
 */
export function assessGenerator(
  inputs: EngineHealthInputs,
  samples: GeneratorSamples | undefined,
  thresholds: Partial<GeneratorThresholds> = {},
): { figures: Record<string, number>; invalidReasons: string[] } {
  const t = { ...DEFAULT_GENERATOR_THRESHOLDS, ...thresholds };
  const figures: Record<string, number> = { workers: inputs.workers };
  const reasons: string[] = [];
  if (samples && samples.samples > 0) {
    const peakMb = samples.peakRssKb / 1024;
    const avgCpuOfMachine = samples.wallSeconds > 0 ? (samples.cpuSeconds / samples.wallSeconds / samples.cores) * 100 : 0;
    figures.rss_peak_mb = round(peakMb);
    figures.rss_end_mb = round(samples.lastRssKb / 1024);
    figures.cpu_seconds = round(samples.cpuSeconds, 2);
    figures.cpu_avg_percent_of_machine = round(avgCpuOfMachine);
    figures.cpu_peak_percent_of_core = round(samples.peakCpuPercentOfCore);
    figures.cores = samples.cores;
    figures.samples = samples.samples;
    if (avgCpuOfMachine > t.maxCpuPercent) {
      reasons.push(`the engine used ${round(avgCpuOfMachine)}% of all ${samples.cores} cores on average (limit ${t.maxCpuPercent}%): the generator was CPU-bound`);
    }
    if (t.maxRssMb !== undefined && peakMb > t.maxRssMb) reasons.push(`engine peak memory ${round(peakMb)} MB exceeds ${t.maxRssMb} MB`);
  }
  if (inputs.sendLagP95Ms !== undefined) {
    figures.send_lag_p95_ms = round(inputs.sendLagP95Ms, 2);
    if (inputs.sendLagMaxMs !== undefined) figures.send_lag_max_ms = round(inputs.sendLagMaxMs, 2);
    if (inputs.sendLagP95Ms > t.maxSendLagP95Ms) reasons.push(`devices sent ${round(inputs.sendLagP95Ms)} ms late at p95 (limit ${t.maxSendLagP95Ms} ms): the engine could not keep the schedule`);
  }
  // Send lag is only measured when a device waited for its schedule; a thread that is always behind never waits.
  // The event-loop delay covers that case: it measures the thread's loop directly.
  figures.event_loop_delay_p99_max_ms = round(inputs.eventLoopDelayP99MaxMs, 2);
  if (inputs.eventLoopDelayP99MaxMs > t.maxEventLoopDelayP99Ms) {
    reasons.push(`an engine thread's event loop ran ${round(inputs.eventLoopDelayP99MaxMs)} ms late at p99 over the run (limit ${t.maxEventLoopDelayP99Ms} ms): too little CPU for the engine, or too few --workers`);
  }
  figures.dropped_requests = inputs.droppedRequests;
  if (inputs.droppedRequests > t.maxDroppedRequests) reasons.push(`${inputs.droppedRequests} API requests were dropped (limit ${t.maxDroppedRequests}): every pooled connection was busy; raise api.connections`);
  figures.generator_errors = inputs.generatorErrors;
  if (inputs.generatorErrors > t.maxGeneratorErrors) reasons.push(`${inputs.generatorErrors} engine errors (a device task threw; see the log)`);
  return { figures, invalidReasons: reasons };
}
