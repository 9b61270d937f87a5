// fleetload's load engine: runs a fleet config's devices over TCP in worker threads, its REST API and WebSocket
// clients in the main thread, serves the merged figures to Prometheus while it runs, and ends with an exact summary
// (src/core/engine-summary.ts) and an ACK ledger per thread. Phases: plan the threads → serve metrics → start the
// threads → start at the common instant → watch (progress, peaks) → collect → judge its own health → write.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { systemClock, type Clock } from '../core/clock.js';
import { ENGINE_SUMMARY_FILE, type EngineSummary } from '../core/engine-summary.js';
import { LEDGER_DIR } from '../core/ledger.js';
import { connectAt, deviceSettings } from '../sim/device.js';
import { fleetSteps, stepRanges, type FleetConfig } from '../sim/fleet-config.js';
import { runApiClients } from './api-clients.js';
import type { Registry } from 'prom-client';
import { engineRegistry, serveMetrics, type MetricsListener, type MetricsServer } from './metrics-endpoint.js';
import { assessGenerator, startGeneratorSampler, type GeneratorSamples, type GeneratorThresholds } from './health.js';
import { counterTotal, type ProgressSink } from './progress.js';
import { LATENCY_BUCKETS_S, mergeExact, mergeSnapshots, Stats, type Labels, type StatsSnapshot } from './stats.js';
import { buildSummary } from './summary.js';
import type { ThreadInit } from './thread.js';
import { startThreads, type ThreadEvent, type ThreadGroup } from './threads.js';
import { runWsClients } from './ws-clients.js';
import type { WsWindow } from './clients/context.js';
import { countWsDeliveries } from './ws-deliveries.js';

export interface EngineOptions {
  runId: string;
  config: FleetConfig;
  /** worker threads for devices; 0 = run them in the main thread */
  workers: number;
  /** run folder: ledger/ and engine-summary.json go there; absent = neither is written */
  outDir?: string;
  /** serve /metrics on host:port (0 = a free port), or on a listener bound earlier; extra labels go on every series */
  metrics?: { host: string; port: number; labels?: Labels; listener?: MetricsListener };
  sourceAddresses?: string[];
  /** the common start instant (epoch ms); default: as soon as the threads are ready */
  startAt?: number;
  shard?: { index: number; count: number };
  thresholds?: Partial<GeneratorThresholds>;
  /** the engine ends everything after this long, whatever the devices do (the run is then invalid) */
  hardLimitMs: number;
  clock?: Clock;
  env?: Record<string, string | undefined>;
  fleetloadVersion: string;
  log: (line: string) => void;
  progress?: ProgressSink;
  /**
   * Awaited after /metrics is up and the threads are ready, before the start instant is chosen: the embedded run
   * waits there for Prometheus's first scrape of the engine, so every counter has a 0 sample before the load.
   */
  beforeStart?: (metrics: MetricsServer | undefined) => Promise<void>;
  /** called once a second with the merged figures so far (the live view, src/live) */
  observe?: (tick: EngineTick) => void;
  /** called with the start instant once the threads are told to start (fault runner, manifest) */
  onStart?: (testStartMs: number, metrics: MetricsServer | undefined) => void;
}

/** The engine's figures at one moment of the run: cumulative counts and latency buckets of every thread, merged. */
export interface EngineTick {
  elapsedMs: number;
  totalMs: number;
  stage: string;
  plannedDevices: number;
  counts: StatsSnapshot;
}

export interface EngineRun {
  summary: EngineSummary;
  summaryFile?: string;
  loadStart: Date;
  loadEnd: Date;
  killedAtLimit: boolean;
  /** still serving, so that Prometheus can take its last scrape; the caller closes it */
  metrics?: MetricsServer;
  samples?: GeneratorSamples;
  /** generator health figures for run.json (rss_peak_mb, cpu_avg_percent_of_machine, send_lag_p95_ms, …) */
  generatorFigures: Record<string, number>;
  /** the final counters by series key (all threads and clients summed): `fleetload merge` rebuilds a shards' summary from them */
  counters: Record<string, number>;
}

const SNAPSHOT_MS = 1000;

/**
 * The threads' inits: device j runs in global thread j mod (shards × workers), and shard i owns the global threads
 * w·shards + i (w = 0 … workers−1). So shard i runs exactly the devices j ≡ i (mod shards) — whatever worker count
 * each shard picks (pods on different machines may differ) — which is also what plannedAt counts.
 */
export function planThreads(o: Pick<EngineOptions, 'runId' | 'config' | 'workers' | 'outDir' | 'sourceAddresses' | 'shard'>): ThreadInit[] {
  const n = Math.max(1, o.workers);
  const shard = o.shard ?? { index: 0, count: 1 };
  const ledgerDir = o.outDir ? join(o.outDir, LEDGER_DIR) : undefined;
  return Array.from({ length: n }, (_, w) => ({
    runId: o.runId,
    config: o.config,
    slice: { thread: w * shard.count + shard.index, threads: shard.count * n, sourceAddresses: o.sourceAddresses ?? [] },
    target: { host: o.config.tcpHost, port: o.config.tcpPort, connectTimeoutMs: Math.max(1000, Math.min(10_000, o.config.ackTimeoutMs)) },
    ledgerDir,
    part: shard.count > 1 ? `s${shard.index}-w${w}` : `w${w}`,
    snapshotMs: SNAPSHOT_MS,
  }));
}

/** Devices the fleet has at `elapsedMs` after the start (stepped fleets grow). */
export function plannedAt(c: FleetConfig, elapsedMs: number, shard = { index: 0, count: 1 }): { devices: number; stage: string } {
  const steps = fleetSteps(c);
  let i = 0;
  steps.forEach((s, k) => {
    if (s.startMs <= elapsedMs) i = k;
  });
  const all = steps[i].devices;
  // this shard's share of devices 0..all-1 (device j belongs to shard j mod count)
  const mine = Math.floor(all / shard.count) + (shard.index < all % shard.count ? 1 : 0);
  return { devices: mine, stage: steps.length > 1 ? `step ${i + 1}/${steps.length}` : 'steady' };
}

/** Devices whose place in the connect spread (one interval from their step's start) lies past the run's end. */
export function devicesNeverConnecting(c: FleetConfig): number {
  const s = deviceSettings(c);
  let n = 0;
  for (const step of stepRanges(c)) for (let i = step.from; i < step.to; i++) if (connectAt(s, i, step.startMs) >= c.durationSec * 1000) n++;
  return n;
}

export async function runEngine(o: EngineOptions): Promise<EngineRun> {
  const clock = o.clock ?? systemClock;
  const inits = planThreads(o);
  const idle = devicesNeverConnecting(o.config);
  if (idle > 0) o.log(`note: ${idle} of ${o.config.devices} devices would connect after the run's ${o.config.durationSec} s (a fleet connects spread over one ${o.config.intervalMs / 1000} s interval): they take no part; run longer than the interval to load every device`);
  if (inits[0].ledgerDir) mkdirSync(inits[0].ledgerDir, { recursive: true });
  const state = new EngineState(o);
  const metrics = o.metrics ? await openMetrics(o.metrics, engineRegistry(() => state.merged(), { run_id: o.runId, ...(o.metrics.labels ?? {}) }, endpointSeries(o.config))) : undefined;
  let group: ThreadGroup | undefined;
  try {
    group = await startThreads(inits, o.workers === 0, (e) => state.onThread(e), clock);
  } catch (e) {
    await metrics?.close();
    throw e;
  }
  try {
    await o.beforeStart?.(metrics);
  } catch (e) {
    await group.terminate();
    await metrics?.close();
    throw e;
  }
  const testStartMs = Math.max(o.startAt ?? 0, clock.now() + 50);
  group.start(testStartMs);
  o.onStart?.(testStartMs, metrics);
  const sampler = startGeneratorSampler(process.pid);
  const clients = startClients(o, state, clock, testStartMs);
  const watch = setInterval(() => state.tick(clock.now() - testStartMs), SNAPSHOT_MS);
  const killedAtLimit = await finishWithin(Promise.all([group.finished, clients]), o.hardLimitMs - (clock.now() - testStartMs), group);
  clearInterval(watch);
  state.countWsDeliveries();
  const loadEnd = new Date(clock.now());
  state.tick(clock.now() - testStartMs);
  o.progress?.end();
  const samples = sampler.stop();
  const summary = state.summary(new Date(testStartMs), loadEnd, samples, killedAtLimit);
  const summaryFile = o.outDir ? join(o.outDir, ENGINE_SUMMARY_FILE) : undefined;
  if (summaryFile) writeFileSync(summaryFile, `${JSON.stringify(summary, null, 2)}\n`);
  return { summary, summaryFile, loadStart: new Date(testStartMs), loadEnd, killedAtLimit, metrics, samples, generatorFigures: state.figures, counters: state.merged().counters };
}

async function openMetrics(m: NonNullable<EngineOptions['metrics']>, registry: Registry): Promise<MetricsServer> {
  if (!m.listener) return serveMetrics(registry, m.host, m.port);
  m.listener.serve(registry);
  return m.listener;
}

/** API endpoints' series exist at 0 from the first scrape too. */
function endpointSeries(c: FleetConfig): Array<{ id: string; labels: Labels }> {
  const out: Array<{ id: string; labels: Labels }> = [];
  if (!c.api || !c.httpUrl) return out;
  for (const e of c.api.endpoints) for (const id of ['api_requests', 'api_succeeded', 'api_throttled', 'api_dropped']) out.push({ id, labels: { endpoint: e.name } });
  return out;
}

function startClients(o: EngineOptions, state: EngineState, clock: Clock, testStartMs: number): Promise<unknown> {
  if (!o.config.httpUrl) return Promise.resolve();
  // clients belong to shard 0 only: the API and WebSocket load is the fleet's, not each shard's
  if (o.shard && o.shard.index !== 0) return Promise.resolve();
  // with a ledger, WebSocket deliveries are counted record by record against it once the devices are done
  const ctx = { config: o.config, testStartMs, stats: state.main, clock, env: o.env ?? process.env, ...(o.outDir ? { wsWindows: state.wsWindows } : {}) };
  const runs: Promise<void>[] = [];
  if (o.config.api && o.config.api.endpoints.length > 0) runs.push(runApiClients(ctx));
  if (o.config.ws && o.config.ws.clients > 0) runs.push(runWsClients(ctx));
  return Promise.all(runs);
}

/** Waits for `work`; past `limitMs` ends the threads. Returns whether the limit was hit. */
async function finishWithin(work: Promise<unknown>, limitMs: number, group: ThreadGroup): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<'limit'>((r) => (timer = setTimeout(() => r('limit'), Math.max(0, limitMs))));
  const outcome = await Promise.race([work.then(() => 'done' as const), limit]);
  clearTimeout(timer);
  if (outcome === 'limit') await group.terminate();
  return outcome === 'limit';
}

/** What the main thread knows of the run: the threads' latest counts, its own clients' counts, peaks. */
class EngineState {
  readonly main = new Stats();
  readonly wsWindows: WsWindow[] = [];
  private readonly latest = new Map<number, StatsSnapshot>();
  private readonly exact: Array<Record<string, string>> = [];
  private readonly ledgers: Array<{ file: string; entries: number; records: number }> = [];
  private readonly fatal: string[] = [];
  private readonly bugs: string[] = [];
  private loopP99MaxMs = 0;
  figures: Record<string, number> = {};
  private connectedPeak = 0;
  private readonly mainLoop = monitorEventLoopDelay({ resolution: 10 });
  private readonly mainWhole = monitorEventLoopDelay({ resolution: 10 });
  private readonly cpuAtStart = process.cpuUsage();

  constructor(private readonly o: EngineOptions) {
    this.mainLoop.enable();
    this.mainWhole.enable();
  }

  onThread(e: ThreadEvent): void {
    if (e.type === 'snapshot' || e.type === 'done') this.latest.set(e.thread, e.stats);
    if (e.type === 'done') {
      this.exact.push(e.exact);
      if (e.ledger) this.ledgers.push(e.ledger);
      this.loopP99MaxMs = Math.max(this.loopP99MaxMs, e.eventLoopDelayP99Ms);
      this.bugs.push(...e.bugs);
    }
    if (e.type === 'fatal') {
      this.fatal.push(`engine thread ${e.thread} failed: ${e.message}`);
      this.o.log(`engine thread ${e.thread} failed: ${e.message}`);
    }
  }

  /** WebSocket expected / received / missed from the ledgers, now that every thread has closed its own */
  countWsDeliveries(): void {
    if (this.wsWindows.length === 0) return;
    countWsDeliveries(this.wsWindows, this.ledgers.map((l) => l.file), this.o.config.seed, this.main);
  }

  merged(): StatsSnapshot {
    return mergeSnapshots([...this.latest.values(), this.main.snapshot()]);
  }

  /** once a second: peaks, the main thread's loop delay, the progress line */
  tick(elapsedMs: number): void {
    const p99 = this.mainLoop.count > 0 ? this.mainLoop.percentile(99) / 1e6 : 0;
    this.mainLoop.reset();
    this.main.set('event_loop_delay_p99', p99 / 1000, { thread: 'main' });
    const plan = plannedAt(this.o.config, elapsedMs, this.o.shard);
    this.main.set('devices_planned', plan.devices);
    const m = this.merged();
    const connected = m.gauges.devices_connected ?? 0;
    this.connectedPeak = Math.max(this.connectedPeak, connected);
    this.report(elapsedMs, plan, m, connected);
    this.o.observe?.({ elapsedMs: Math.max(0, elapsedMs), totalMs: this.o.config.durationSec * 1000, stage: plan.stage, plannedDevices: plan.devices, counts: m });
  }

  private report(elapsedMs: number, plan: { devices: number; stage: string }, m: StatsSnapshot, connected: number): void {
    if (!this.o.progress) return;
    const ack = m.histograms.ack_latency;
    const p95Index = ack ? ack.buckets.findIndex((c) => c >= 0.95 * ack.count) : -1;
    const cpu = process.cpuUsage();
    this.o.progress.update({
      elapsedMs: Math.max(0, elapsedMs),
      totalMs: this.o.config.durationSec * 1000,
      stage: plan.stage,
      connected,
      planned: plan.devices,
      sent: counterTotal(m, 'records_sent'),
      acked: counterTotal(m, 'records_acked'),
      // since the load started, so the first line's rate is not the whole start-up's CPU over one second
      cpuSeconds: (cpu.user + cpu.system - this.cpuAtStart.user - this.cpuAtStart.system) / 1e6,
      ackP95UpToMs: ack && ack.count > 0 && p95Index >= 0 ? LATENCY_BUCKETS_S[p95Index] * 1000 : undefined,
      errors: counterTotal(m, 'device_errors') + counterTotal(m, 'api_errors') + counterTotal(m, 'ws_errors'),
      cores: cpus().length || 1,
    });
  }

  summary(loadStart: Date, loadEnd: Date, samples: GeneratorSamples, killedAtLimit: boolean): EngineSummary {
    this.mainLoop.disable();
    this.mainWhole.disable();
    if (this.mainWhole.count > 0) this.loopP99MaxMs = Math.max(this.loopP99MaxMs, this.mainWhole.percentile(99) / 1e6);
    const counts = this.merged();
    const exact = mergeExact([...this.exact, this.main.exact()]);
    const o = this.o;
    const base = buildSummary({
      runId: o.runId,
      seed: o.config.seed,
      fleetloadVersion: o.fleetloadVersion,
      loadStart,
      loadEnd,
      stages: stagesOf(o.config, loadStart, loadEnd),
      shard: o.shard ?? { index: 0, count: 1 },
      plannedDevices: plannedAt(o.config, Infinity, o.shard).devices,
      connectedPeak: this.connectedPeak,
      apiConfigured: Boolean(o.config.httpUrl && o.config.api && o.config.api.endpoints.length > 0 && (o.shard?.index ?? 0) === 0),
      wsConfigured: Boolean(o.config.httpUrl && o.config.ws && o.config.ws.clients > 0 && (o.shard?.index ?? 0) === 0),
      wsClients: o.config.ws?.clients ?? 0,
      counts,
      exact,
      generator: { workers: o.workers, rssPeakBytes: 0, cpuSeconds: 0, cpuShareOfMachine: 0, cores: 0, eventLoopDelayP99MaxMs: 0, generatorErrors: 0, invalidReasons: [] },
      ledger: { files: this.ledgers.map((l) => l.file.split('/').slice(-2).join('/')).sort(), entries: sum(this.ledgers, 'entries'), records: sum(this.ledgers, 'records') },
    });
    base.generator = this.health(base, samples, killedAtLimit);
    return base;
  }

  private health(s: EngineSummary, samples: GeneratorSamples, killedAtLimit: boolean): EngineSummary['generator'] {
    const errors = counterTotal(this.merged(), 'generator_errors');
    const assessed = assessGenerator(
      { sendLagP95Ms: s.sendLagMs?.p95, sendLagMaxMs: s.sendLagMs?.max, eventLoopDelayP99MaxMs: this.loopP99MaxMs, droppedRequests: s.api.dropped, generatorErrors: errors, workers: this.o.workers },
      samples,
      this.o.thresholds,
    );
    this.figures = assessed.figures;
    const reasons = [...assessed.invalidReasons, ...this.fatal];
    if (killedAtLimit) reasons.push(`the engine was stopped at its hard time limit (${Math.round(this.o.hardLimitMs / 1000)} s): devices did not finish by themselves`);
    for (const b of this.bugs) this.o.log(`engine bug: ${b}`);
    return {
      workers: this.o.workers,
      rssPeakBytes: samples.peakRssKb * 1024,
      cpuSeconds: samples.cpuSeconds,
      cpuShareOfMachine: samples.wallSeconds > 0 ? samples.cpuSeconds / samples.wallSeconds / samples.cores : 0,
      cores: samples.cores,
      eventLoopDelayP99MaxMs: this.loopP99MaxMs,
      generatorErrors: errors,
      invalidReasons: reasons,
    };
  }
}

const sum = <T extends Record<K, number>, K extends string>(xs: T[], k: K) => xs.reduce((a, x) => a + x[k], 0);

/** Stage windows on the engine's clock: one per step ("step-1", …), or one "steady" stage. */
export function stagesOf(c: FleetConfig, start: Date, end: Date): EngineSummary['stages'] {
  const steps = c.steps && c.steps.length > 0 ? c.steps : undefined;
  if (!steps) return [{ name: 'steady', devices: c.devices, start: start.toISOString(), end: end.toISOString() }];
  const t0 = start.getTime();
  const t1 = end.getTime();
  return steps.map((s, i) => {
    const next = steps[i + 1];
    return { name: `step-${i + 1}`, devices: s.devices, start: new Date(Math.min(t0 + s.startMs, t1)).toISOString(), end: new Date(next ? Math.min(t0 + next.startMs, t1) : t1).toISOString() };
  });
}
