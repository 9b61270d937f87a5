// Generator health: was the load generator (k6), not the platform, the bottleneck? While k6 runs we sample its
// resident memory and CPU from /proc/<pid>/status and /proc/<pid>/stat; afterwards the k6 summary adds dropped
// iterations (the arrival-rate API scenario could not start requests on time), late sends (p95 of fleet_send_lag:
// a device woke for its tick late because the VU's event loop was busy) and generator errors (script bugs).
// Any threshold exceeded makes the run INVALID (exit 4): the platform's figures cannot be trusted then.
//
// Default thresholds (override per profile under `generator:`):
//   maxSendLagP95     250 ms   devices sent a quarter second behind schedule: ACK latency and rates are skewed
//   maxVuLoopLagP95   100 ms   a device VU's 250 ms heartbeat fired this late: its event loop was saturated, so
//                              every time it measured includes its own queueing (catches VUs that never catch up)
//   maxCpuPercent     90 %     k6's average CPU over the run, as a share of ALL cores of the machine
//   maxRssMb          none     peak resident memory of k6
//   maxDroppedIterations 0     k6 had no free VU for a scheduled API request (raise api.maxVUs)
//   maxGeneratorErrors   0     fleet_generator_errors: an exception in the scenario script
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

export interface GeneratorThresholds {
  maxSendLagP95Ms: number;
  maxVuLoopLagP95Ms: number;
  maxCpuPercent: number;
  maxRssMb?: number;
  maxDroppedIterations: number;
  maxGeneratorErrors: number;
}

export const DEFAULT_GENERATOR_THRESHOLDS: GeneratorThresholds = {
  maxSendLagP95Ms: 250,
  maxVuLoopLagP95Ms: 100,
  maxCpuPercent: 90,
  maxDroppedIterations: 0,
  maxGeneratorErrors: 0,
};

/** What the sampler saw of the k6 process. */
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

function summaryValue(summary: unknown, metric: string, stat: string): number | undefined {
  const m = (summary as { metrics?: Record<string, Record<string, unknown>> } | undefined)?.metrics?.[metric];
  if (!m) return undefined;
  const values = (m.values ?? m) as Record<string, unknown>;
  const v = values[stat];
  return typeof v === 'number' ? v : undefined;
}

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

/**
 * Generator figures (for the manifest's `generator` field) and the reasons, if any, why the generator rather than the
 * platform limited the run. `summary` is the k6 end-of-test summary JSON (handleSummary output or --summary-export).
 */
export function assessGenerator(
  summary: unknown,
  samples: GeneratorSamples | undefined,
  thresholds: Partial<GeneratorThresholds> = {},
): { figures: Record<string, number>; invalidReasons: string[] } {
  const t = { ...DEFAULT_GENERATOR_THRESHOLDS, ...thresholds };
  const figures: Record<string, number> = {};
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
      reasons.push(`k6 used ${round(avgCpuOfMachine)}% of all ${samples.cores} cores on average (limit ${t.maxCpuPercent}%): the generator was CPU-bound`);
    }
    if (t.maxRssMb !== undefined && peakMb > t.maxRssMb) reasons.push(`k6 peak memory ${round(peakMb)} MB exceeds ${t.maxRssMb} MB`);
  }
  const lag = summaryValue(summary, 'fleet_send_lag', 'p(95)');
  if (lag !== undefined) {
    figures.send_lag_p95_ms = round(lag, 2);
    const lagMax = summaryValue(summary, 'fleet_send_lag', 'max');
    if (lagMax !== undefined) figures.send_lag_max_ms = round(lagMax, 2);
    if (lag > t.maxSendLagP95Ms) reasons.push(`devices sent ${round(lag)} ms late at p95 (limit ${t.maxSendLagP95Ms} ms): the generator could not keep the schedule`);
  }
  // Send lag is only sampled when a device waited for its schedule; a VU that is always behind never waits.
  // The heartbeat's lateness covers that case: it measures the VU's event loop directly.
  const loopLag = summaryValue(summary, 'fleet_vu_loop_lag', 'p(95)');
  if (loopLag !== undefined) {
    figures.vu_loop_lag_p95_ms = round(loopLag, 2);
    if (loopLag > t.maxVuLoopLagP95Ms) {
      reasons.push(`device VUs' event loops ran ${round(loopLag)} ms late at p95 (limit ${t.maxVuLoopLagP95Ms} ms): too many devices per VU or too little CPU for k6`);
    }
  }
  const dropped = summaryValue(summary, 'dropped_iterations', 'count') ?? 0;
  figures.dropped_iterations = dropped;
  if (dropped > t.maxDroppedIterations) reasons.push(`${dropped} API iterations were dropped (limit ${t.maxDroppedIterations}): k6 had no free VU; raise api.maxVUs`);
  const errors = summaryValue(summary, 'fleet_generator_errors', 'count') ?? 0;
  figures.generator_errors = errors;
  if (errors > t.maxGeneratorErrors) reasons.push(`${errors} generator errors (exceptions in the scenario script; see k6.log)`);
  return { figures, invalidReasons: reasons };
}
