// One load run from profile to verdict, in named phases: check everything a person can get wrong (before any process
// starts or any load is sent) → bring up the target (the embedded stack, or an external platform) → run the engine →
// record the run (run.json) → judge it → capture what the reports need → write the reports → stack down.
import { createWriteStream, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { badInput } from '../core/errors.js';
import { RUN_ID_PATTERN, writeManifest, type FaultRecord, type RunManifest } from '../core/manifest.js';
import { makeRunDir } from '../core/run-folder.js';
import { fleetloadVersion } from '../core/version.js';
import { redactUrl } from '../core/redact.js';
import { ENGINE_SUMMARY_FILE } from '../core/engine-summary.js';
import { LEDGER_DIR } from '../core/ledger.js';
import { runEngine, type EngineRun, type EngineTick } from '../engine/engine.js';
import { listenMetrics, type MetricsListener } from '../engine/metrics-endpoint.js';
import { openLiveView } from '../live/index.js';
import { progressSink } from '../engine/progress.js';
import { imeiForIndex } from '../protocol/teltonika/index.js';
import { hash32 } from '../sim/rng.js';
import type { FleetConfig } from '../sim/fleet-config.js';
import { formatTable } from '../report/index.js';
import { captureDbStats } from '../report/capacity/db-stats.js';
import { writeRunOutputs } from '../report/run-outputs.js';
import { captureSeries } from '../report/series.js';
import { PLATFORM_JOB, startEmbeddedStack, type EmbeddedStack } from '../stack/embedded-stack.js';
import { evidenceFolders, folderBytes, type EvidenceFolders } from '../stack/evidence.js';
import { waitForFirstScrape } from '../stack/prometheus.js';
import { repoRoot } from '../core/repo-root.js';
import { exitCodeFor, loadBaseline, loadSloFile, prometheusClient, validateSloAgainst, verifyRun } from '../verify/index.js';
import type { Report } from '../verify/index.js';
import { parseDurationFlag } from './duration.js';
import { embeddedFaultTarget, planFaults, startFaultRunner, type FaultRunner } from './faults.js';
import { fleetConfigFor } from './fleet-plan.js';
import { loadProfile, type Profile } from './profile.js';
import { newRunId } from './run-id.js';
import { prometheusEndpoint, type PrometheusEndpoint } from '../core/prometheus-endpoint.js';
import { checkResourcesBeforeRun, platformConnPerIpArg } from './resource-guard.js';
import { allowedTargets, checkTarget, targetBanner, type TargetCheck } from './target-safety.js';

export interface RunOptions {
  profile: string;
  devices?: number;
  duration?: string;
  slo?: string;
  baseline?: string;
  failOnWarn?: boolean;
  reportsDir?: string;
  runId?: string;
  /** host:port of a platform's Teltonika TCP listener; absent = start the embedded stack. */
  tcp?: string;
  /** Base URL of an external platform's HTTP API and WebSocket (for API and WebSocket clients). */
  http?: string;
  prometheusUrl?: string;
  pgUrl?: string;
  allowTarget: string[];
  /** Planned fleet size for headroom and database growth in the capacity report. */
  plannedDevices?: number;
  /** Extra flags for the embedded platform (fault knobs). */
  platformArgs?: string[];
  /** Embedded stack: keep its Prometheus TSDB and PostgreSQL data in <run>/evidence/ (default true). */
  keepEvidence?: boolean;
  /** engine worker threads (default: one per core) */
  workers?: number;
  /** the engine's /metrics port (default: a free port on the embedded stack, 9464 against an external target) */
  metricsPort?: number;
  /** source addresses for device connections */
  sourceAddresses?: string[];
  /** --web [PORT]: a live view of the run in the browser (src/live); --web-host: its address (default 127.0.0.1) */
  web?: string | true;
  webHost?: string;
  log: (line: string) => void;
}

export interface RunOutcome {
  runDir: string;
  report: Report;
  exitCode: number;
}

/** The engine's Prometheus job on the embedded stack; an external Prometheus should scrape it under this name too. */
export const ENGINE_JOB = 'fleetload-engine';
/** Port the engine serves /metrics on for external targets, where the user's Prometheus must find it. */
export const DEFAULT_METRICS_PORT = 9464;

interface CheckedRun {
  loaded: Profile;
  profile: Profile;
  slo: ReturnType<typeof loadSloFile>;
  baseline: Report | undefined;
  runId: string;
  external?: { host: string; port: number };
  externalProm?: PrometheusEndpoint;
  targetCheck?: TargetCheck;
}

/** A run's seed: the profile's seed mixed with the run id, so two runs never share IMEIs (run.json keeps it). */
export function runSeed(profileSeed: number, runId: string): number {
  let h = 0;
  for (let i = 0; i < runId.length; i++) h = hash32(h, runId.charCodeAt(i), i);
  return hash32(profileSeed, h, 7919) % 2_147_483_647;
}

function applyOverrides(p: Profile, o: RunOptions): Profile {
  const out = { ...p, devices: { ...p.devices } };
  if (o.devices !== undefined) {
    if (!Number.isInteger(o.devices) || o.devices < 1) throw badInput(`--devices: expected a whole number ≥ 1, got ${o.devices}`);
    out.devices.count = o.devices;
  }
  if (o.duration !== undefined) {
    const ms = parseDurationFlag(o.duration);
    out.maxDurationMs = ms + (p.maxDurationMs - p.durationMs);
    out.durationMs = ms;
  }
  return out;
}

function parseHostPort(text: string, flag: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65535) throw badInput(`${flag}: expected host:port such as 127.0.0.1:5000, got "${text}"`);
  return { host: m[1], port };
}

/** Everything a person can get wrong, checked before any process starts or any load is sent. */
async function checkRun(o: RunOptions): Promise<CheckedRun> {
  const loaded = loadProfile(o.profile);
  const profile = applyOverrides(loaded, o);
  const slo = loadSloFile(o.slo ?? profile.sloFile);
  const baseline = o.baseline ? loadBaseline(o.baseline).report : undefined;
  const runId = o.runId ?? newRunId(profile.name);
  if (!RUN_ID_PATTERN.test(runId)) throw badInput(`--run-id: only letters, digits, "-" and "_" are allowed, got "${runId}"`);
  if (o.workers !== undefined && (!Number.isInteger(o.workers) || o.workers < 0 || o.workers > 256)) throw badInput(`--workers: expected a whole number from 0 to 256, got ${o.workers}`);
  const external = o.tcp ? parseHostPort(o.tcp, '--tcp') : undefined;
  if (external && profile.faults) {
    throw badInput(`profile ${profile.name} has faults: (${profile.faults.map((f) => f.action).join(', ')}); they restart and kill parts of the embedded stack, so they cannot run against an external --tcp target`);
  }
  if (o.http && !external) throw badInput('--http is for external targets: give --tcp (and --prometheus-url) too, or drop --http to use the embedded stack');
  const checked: CheckedRun = { loaded, profile, slo, baseline, runId, external };
  if (external) {
    if (!o.prometheusUrl) throw badInput('--tcp needs --prometheus-url too: the verifier reads the platform\'s metrics there');
    checked.targetCheck = await checkTarget(external.host, allowedTargets(o.allowTarget));
    if (o.http) await checkTarget(httpHost(o.http), allowedTargets(o.allowTarget));
    // credentials in the URL or PROMETHEUS_* variables; checked now, before anything starts
    checked.externalProm = prometheusEndpoint(o.prometheusUrl);
    const needsPg = slo.objectives.filter((x) => x.source === 'postgres').map((x) => x.id);
    if (needsPg.length > 0 && !o.pgUrl) {
      throw badInput(`the SLO file has PostgreSQL objectives (${needsPg.join(', ')}): pass --pg-url (or PG_URL / PG_URL_FILE), or use an SLO file without them`);
    }
  }
  // fd and ephemeral-port limits against the planned fleet: fail now with what to raise, not halfway
  checkResourcesBeforeRun(Math.max(profile.devices.count, ...(profile.steps ?? []).map((s) => s.devices)), {
    embedded: !external,
    extraConnections: (profile.ws?.clients ?? 0) + (profile.api?.connections ?? 0),
    platformMaxConnPerIp: platformConnPerIpArg(o.platformArgs),
    log: o.log,
  });
  return checked;
}

/** One load run from profile to verdict. */
export async function runLoad(o: RunOptions): Promise<RunOutcome> {
  const c = await checkRun(o);
  const live = o.web === undefined ? undefined : await openLiveView({ port: o.web, host: o.webHost, runId: c.runId, title: `run ${c.runId} — profile ${c.profile.name}`, slo: c.slo, log: o.log });
  const runDir = makeRunDir(o.reportsDir ?? join(repoRoot(), 'reports'), c.runId);
  const life = new RunLife(o, runDir);
  process.once('SIGINT', life.onSignal);
  process.once('SIGTERM', life.onSignal);
  try {
    // the engine's /metrics port is bound now, before Prometheus is told to scrape it: no other process can take it
    const metricsListener = await listenMetrics(c.external ? '0.0.0.0' : '127.0.0.1', o.metricsPort ?? (c.external ? DEFAULT_METRICS_PORT : 0));
    life.engineMetrics = metricsListener;
    const metricsPort = metricsListener.port;
    const stack = c.external ? undefined : await life.startStack(c.runId, o.platformArgs, metricsPort);
    const target = c.external ?? { host: '127.0.0.1', port: (stack as EmbeddedStack).platform.tcpPort };
    const prom = stack ? prometheusEndpoint(stack.prometheus.url, {}) : (c.externalProm as PrometheusEndpoint);
    const pgUrl = stack?.pg.url ?? o.pgUrl;
    // API and WebSocket clients need the platform's HTTP base URL; without one only devices run
    const httpUrl = stack ? `http://127.0.0.1:${stack.platform.httpPort}` : o.http;
    const config = fleetConfigFor(c.profile, c.runId, { ...target, httpUrl });
    config.seed = runSeed(c.profile.seed, c.runId);
    life.observe = live?.observer(config);
    if (live) live.usePrometheus(prom, { windowSec: (stack?.prometheus.scrapeIntervalSec ?? 15) * 5, source: stack ? 'the embedded Prometheus' : prom.redacted });
    // every PromQL expression parsed by this Prometheus and every SQL statement prepared on this PostgreSQL,
    // before any load: a typo in the SLO file is exit 2 now, not exit 3 after a 30-minute run
    await validateSloAgainst({ slo: c.slo, prometheusUrl: stack?.prometheus.url ?? (o.prometheusUrl as string), pgUrl });
    const checked = c.targetCheck ?? (await checkTarget(target.host, []));
    o.log(targetBanner(checked, target.port, { embedded: !c.external, devices: config.devices, durationSec: config.durationSec }));
    o.log(`run ${c.runId}: ${config.devices} devices → ${target.host}:${target.port} for ${config.durationSec}s (profile ${c.profile.name}); hard time limit ${Math.round(hardLimitMs(c.profile) / 1000)} s`);
    const engine = await life.runEngine(c, config, stack, prom, metricsListener);
    live?.loadDone();
    // The window closes after two more scrapes: a counter's final value is only in Prometheus from the first
    // scrape after the last ACK. Nothing is sent in this tail, so it changes no figure but the counters' edges.
    const tailMs = await windowTailMs(stack, prom);
    await new Promise((r) => setTimeout(r, tailMs));
    const windowEnd = new Date(engine.loadEnd.getTime() + tailMs);
    const platformDied = stack ? platformDeath(stack) : undefined;
    if (platformDied) o.log(`the reference platform died during the run (${platformDied}): the run is invalid, not an SLO breach; see ${join(runDir, 'stack.log')}`);
    const manifest = manifestOf(c, config, engine, windowEnd, { target, httpUrl, prom, pgUrl, stack, faults: await life.stopFaults() });
    if (platformDied) manifest.invalidReasons = [...(manifest.invalidReasons ?? []), `the reference platform died during the run (${platformDied})`];
    writeManifest(runDir, manifest);
    if (stack && o.keepEvidence !== false) life.keepEvidence = evidenceFolders(runDir);
    const outcome = await judge(o, c, { runDir, manifest, engine, prom, pgUrl, stack });
    live?.finish(outcome.report, runDir);
    return outcome;
  } finally {
    process.removeListener('SIGINT', life.onSignal);
    process.removeListener('SIGTERM', life.onSignal);
    await life.close();
    await live?.close();
  }
}

const hardLimitMs = (p: Profile) => p.maxDurationMs + 60_000;

/**
 * How long after the last ACK the window stays open: two scrapes of the slowest job, so every counter's final value
 * is in Prometheus inside the window. The embedded stack's interval is known; an external Prometheus is asked
 * (its targets' intervals), 15 s assumed when it will not say; never more than 2 minutes.
 */
async function windowTailMs(stack: EmbeddedStack | undefined, prom: PrometheusEndpoint): Promise<number> {
  if (stack) return stack.prometheus.scrapeIntervalSec * 2000 + 500;
  let slowest = 15;
  try {
    const intervals = [...(await prometheusClient(prom, { timeoutMs: 10_000 }).scrapeIntervals()).values()];
    if (intervals.length > 0) slowest = Math.max(...intervals);
  } catch {
    // the verifier reports an unreachable Prometheus; the tail only needs a guess
  }
  return Math.min(120_000, slowest * 2000 + 500);
}

/** Why the embedded platform process is gone, or undefined while it runs (a planned kill restarts it). */
function platformDeath(stack: EmbeddedStack): string | undefined {
  const child = stack.platform.child;
  if (child.exitCode !== null) return `exit code ${child.exitCode}`;
  if (child.signalCode !== null) return `killed by ${child.signalCode}`;
  return undefined;
}

/** Faults during which the embedded platform answers no scrape. */
const PLATFORM_SILENCING_FAULTS = new Set(['kill-platform', 'pause-platform']);

/** What a run holds while it lives (stack, fault runner, engine metrics) and how it all goes down. */
class RunLife {
  stack: EmbeddedStack | undefined;
  private stackStarting: Promise<EmbeddedStack> | undefined;
  faultRunner: FaultRunner | undefined;
  engineMetrics: EngineRun['metrics'];
  /** the live view's observer (--web) */
  observe: ((tick: EngineTick) => void) | undefined;
  /** set once run.json is written: from then on the stack's data is the evidence `fleetload verify` judges again */
  keepEvidence: EvidenceFolders | undefined;
  private closeStackLog = async () => {};

  constructor(
    private readonly o: RunOptions,
    private readonly runDir: string,
  ) {}

  onSignal = (signal: NodeJS.Signals) => {
    this.o.log(`${signal}: stopping`);
    // bounded even when a part of the stack hangs (a frozen PostgreSQL is SIGKILLed by its stop): exit 130 within 30 s
    const bound = new Promise<void>((r) => setTimeout(r, 30_000).unref());
    void Promise.race([this.close(), bound]).finally(() => process.exit(130));
  };

  async startStack(runId: string, platformArgs: string[] | undefined, metricsPort: number): Promise<EmbeddedStack> {
    this.o.log('starting the embedded stack (PostgreSQL, reference platform, Prometheus)');
    const stackLog = createWriteStream(join(this.runDir, 'stack.log'));
    this.closeStackLog = () => new Promise<void>((r) => stackLog.end(r));
    this.stackStarting = startEmbeddedStack({
      label: runId,
      platformArgs,
      extraScrapeTargets: [{ job: ENGINE_JOB, address: `127.0.0.1:${metricsPort}` }],
      log: (component, line) => stackLog.write(`[${component}] ${line}\n`),
    });
    this.stack = await this.stackStarting;
    this.o.log(`  platform tcp 127.0.0.1:${this.stack.platform.tcpPort}  http 127.0.0.1:${this.stack.platform.httpPort}  prometheus ${this.stack.prometheus.url}`);
    return this.stack;
  }

  async runEngine(c: CheckedRun, config: FleetConfig, stack: EmbeddedStack | undefined, prom: PrometheusEndpoint, metricsListener: MetricsListener): Promise<EngineRun> {
    const faultPlan = planFaults(c.profile.faults ?? [], c.loaded.durationMs, config.durationSec * 1000);
    for (const f of faultPlan) this.o.log(`  fault planned: ${f.action} at +${f.atMs / 1000}s${f.durationMs ? ` for ${f.durationMs / 1000}s` : ''} (profile: ${f.at})`);
    const engine = await runEngine({
      runId: c.runId,
      config,
      workers: this.o.workers ?? defaultWorkers(config),
      outDir: this.runDir,
      metrics: { host: stack ? '127.0.0.1' : '0.0.0.0', port: metricsListener.port, listener: metricsListener },
      sourceAddresses: this.o.sourceAddresses,
      thresholds: c.profile.generator,
      hardLimitMs: hardLimitMs(c.profile),
      fleetloadVersion: fleetloadVersion(),
      log: this.o.log,
      progress: progressSink(process.stderr),
      observe: this.observe,
      // counters need a sample at 0 before the load, or the first seconds are missing from every rate
      beforeStart: stack ? () => waitForFirstScrape(stack.prometheus.url, ENGINE_JOB) : undefined,
      onStart: (t, m) => {
        this.o.log(`  engine metrics: ${m?.url ?? 'off'}${stack ? ` (scraped by the embedded Prometheus as job ${ENGINE_JOB})` : ` — let ${prom.redacted} scrape it as job ${ENGINE_JOB}`}`);
        if (faultPlan.length > 0 && stack) this.faultRunner = startFaultRunner(faultPlan, embeddedFaultTarget(stack), { log: this.o.log, loadStart: Promise.resolve(t) });
      },
    });
    this.engineMetrics = engine.metrics;
    for (const r of engine.summary.generator.invalidReasons) this.o.log(`load engine: ${r}`);
    return engine;
  }

  /** a fault still running restores the stack before anything is judged */
  async stopFaults(): Promise<FaultRecord[] | undefined> {
    const records = await this.faultRunner?.stop();
    // a killed or paused platform cannot be scraped: the verifier must know those gaps are the fault itself
    return records?.map((f) => (PLATFORM_SILENCING_FAULTS.has(f.action) ? { ...f, silencesJobs: [PLATFORM_JOB] } : f));
  }

  async close(): Promise<void> {
    // a signal during start-up: the stack still starting is stopped once it is up, not left behind
    if (!this.stack && this.stackStarting) this.stack = await this.stackStarting.catch(() => undefined);
    this.stackStarting = undefined;
    await this.faultRunner?.stop();
    await this.engineMetrics?.close();
    this.engineMetrics = undefined;
    const s = this.stack;
    this.stack = undefined;
    if (s) {
      this.o.log('stopping the embedded stack');
      const keep = this.keepEvidence;
      if (keep) rmSync(keep.dir, { recursive: true, force: true }); // a re-used --run-id
      await s.stop({ keepData: keep });
      if (keep) {
        const mb = (dir: string) => (folderBytes(dir) / 1e6).toFixed(1);
        this.o.log(`evidence kept: ${keep.dir} (Prometheus ${mb(keep.prometheus)} MB, PostgreSQL ${mb(keep.postgres)} MB); \`fleetload verify ${this.runDir}\` judges the run again from it`);
      }
    }
    await this.closeStackLog();
    this.closeStackLog = async () => {};
  }
}

/**
 * Worker threads for a fleet: one per 8,000 packets/s offered (a worker sustains over 20,000 on one core, see
 * bench:generator), at most one per core. Fewer threads hold less memory: each is a V8 isolate of its own.
 */
export function defaultWorkers(c: Pick<FleetConfig, 'devices' | 'intervalMs'>, cores = availableCores()): number {
  const packetsPerSec = (c.devices * 1000) / Math.max(1, c.intervalMs);
  return Math.max(1, Math.min(cores, Math.ceil(packetsPerSec / 8000)));
}

function availableCores(): number {
  return Math.max(1, availableParallelism());
}

interface ManifestContext {
  target: { host: string; port: number };
  httpUrl: string | undefined;
  prom: PrometheusEndpoint;
  pgUrl: string | undefined;
  stack: EmbeddedStack | undefined;
  faults: FaultRecord[] | undefined;
}

function manifestOf(c: CheckedRun, config: FleetConfig, engine: EngineRun, windowEnd: Date, x: ManifestContext): RunManifest {
  const end = windowEnd.toISOString();
  const stages = engine.summary.stages.map((s) => ({ name: s.name, start: s.start, end: s.end, devices: s.devices }));
  stages[stages.length - 1].end = end;
  const faultErrors = (x.faults ?? []).filter((f) => f.error).map((f) => `fault ${f.action} (${f.at}) failed: ${f.error}`);
  return {
    runId: c.runId,
    profile: c.profile.name,
    seed: config.seed,
    startedAt: engine.loadStart.toISOString(),
    endedAt: end,
    stages,
    devices: config.devices,
    imeis: Array.from({ length: config.devices }, (_, i) => imeiForIndex(config.seed, i)),
    target: { tcp: `${x.target.host}:${x.target.port}`, ...(x.httpUrl ? { http: x.httpUrl } : {}), embedded: Boolean(x.stack) },
    prometheus: { url: x.prom.redacted },
    ...(x.pgUrl ? { postgres: { url: redactUrl(x.pgUrl) } } : {}),
    versions: { fleetload: fleetloadVersion(), engine: fleetloadVersion(), node: process.version, ...(x.stack ? { prometheus: x.stack.prometheus.version } : {}) },
    engine: { summaryFile: ENGINE_SUMMARY_FILE, ledgerDir: LEDGER_DIR, exitCode: engine.killedAtLimit ? 4 : 0 },
    generator: engine.generatorFigures,
    invalidReasons: [...engine.summary.generator.invalidReasons.map((r) => `load engine: ${r}`), ...faultErrors],
    ...(x.faults ? { faults: x.faults } : {}),
  };
}

interface JudgeContext {
  runDir: string;
  manifest: RunManifest;
  engine: EngineRun;
  prom: PrometheusEndpoint;
  pgUrl: string | undefined;
  stack: EmbeddedStack | undefined;
}

/** Verdict, then what the reports need is copied into the run folder while the target is up, then the reports. */
async function judge(o: RunOptions, c: CheckedRun, j: JudgeContext): Promise<RunOutcome> {
  const report = await verifyRun({
    slo: c.slo,
    manifest: j.manifest,
    runDir: j.runDir,
    prometheusUrl: j.stack?.prometheus.url ?? (o.prometheusUrl as string),
    pgUrl: j.pgUrl,
    baseline: c.baseline,
    failOnWarn: o.failOnWarn,
    // the engine's and the platform's last counts must be scraped before the window is judged
    settleMs: (j.stack?.prometheus.scrapeIntervalSec ?? 5) * 2000 + 1000,
    invalidReasons: j.manifest.invalidReasons ?? [],
  });
  if (report.verdict === 'invalid') o.log(`the run is invalid; see ${join(j.runDir, 'run.json')} (invalidReasons)`);
  const window = { start: new Date(j.manifest.startedAt), end: new Date(j.manifest.endedAt) };
  await captureSeries(j.runDir, { prometheusUrl: j.prom, runId: c.runId, ...window, sourceLabel: j.prom.redacted, generatorPoints: j.engine.samples?.points }, o.log);
  if (j.pgUrl) await captureDbStats(j.runDir, j.pgUrl, j.manifest.imeis, window, o.log);
  const outputs = writeRunOutputs(j.runDir, report, j.manifest, {
    plannedDevices: o.plannedDevices,
    baselineDir: o.baseline && !o.baseline.endsWith('.json') ? o.baseline : undefined,
  });
  process.stdout.write(`${formatTable(report)}\n`);
  if (outputs.capacity.stepped) o.log(`capacity: ${outputs.capacity.capacity.devices ?? 'none'} devices — ${outputs.capacity.capacity.explanation}`);
  o.log(`reports: ${j.runDir} (open ${outputs.htmlFile})`);
  return { runDir: j.runDir, report, exitCode: exitCodeFor(report, o.failOnWarn) };
}


function httpHost(url: string): string {
  try {
    const u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http(s)');
    return u.hostname.replace(/^\[|\]$/g, '');
  } catch {
    throw badInput(`--http: expected a base URL such as http://127.0.0.1:3000, got "${url}"`);
  }
}
