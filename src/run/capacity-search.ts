// Capacity that finds the limit: one embedded stack kept up for the whole search, each step its own engine run
// at one device count of the same fleet shape, judged by the same SLO file over its own window, and the next
// step's size chosen from the verdicts so far (src/report/capacity/search.ts): geometric growth to the first
// breach (or the generator's own limit), then bisection of [last pass, first fail]. Phases: check → stack up →
// steps → capture the evidence of the whole search → write capacity-search.json, run.json, capacity.json and
// report.html → stack down. The whole search stops by itself within maxDuration.
import { createWriteStream, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { badInput } from '../core/errors.js';
import { ExitCode } from '../core/errors.js';
import { RUN_ID_PATTERN, writeManifest, type RunManifest } from '../core/manifest.js';
import { ENGINE_SUMMARY_FILE } from '../core/engine-summary.js';
import { LEDGER_DIR } from '../core/ledger.js';
import { prometheusEndpoint } from '../core/prometheus-endpoint.js';
import { redactUrl } from '../core/redact.js';
import { repoRoot } from '../core/repo-root.js';
import { runEngine, type EngineRun, type EngineTick } from '../engine/engine.js';
import { counterTotal } from '../engine/progress.js';
import { LATENCY_BUCKETS_S, type BucketCounts } from '../engine/stats.js';
import { imeiForIndex } from '../protocol/teltonika/index.js';
import type { FleetConfig } from '../sim/fleet-config.js';
import { captureDbStats } from '../report/capacity/db-stats.js';
import type { CapacityAnalysis } from '../report/capacity/index.js';
import { findSteadyStart, risingLatency, type SettleResult } from '../report/capacity/settle.js';
import { nextStep, SEARCH_FILE, SEARCH_FORMAT, type FleetShape, type SearchPolicy, type SearchRecord, type SearchStep, type StepOutcome, type StopReason } from '../report/capacity/search.js';
import { writeRunOutputs } from '../report/run-outputs.js';
import { captureSeries } from '../report/series.js';
import { startEmbeddedStack, type EmbeddedStack } from '../stack/embedded-stack.js';
import { evidenceFolders, type EvidenceFolders } from '../stack/evidence.js';
import { freePort } from '../stack/ports.js';
import { waitForFirstScrape } from '../stack/prometheus.js';
import { loadSloFile, validateSloAgainst, verifyRun, type Report } from '../verify/index.js';
import { parseDurationMs } from './duration.js';
import { fleetConfigFor } from './fleet-plan.js';
import { loadProfile, type Profile } from './profile.js';
import { checkResourcesBeforeRun, platformConnPerIpArg } from './resource-guard.js';
import { newRunId } from './run-id.js';
import { fleetloadVersion } from '../core/version.js';
import { defaultWorkers, ENGINE_JOB, runSeed } from './run.js';

export interface CapacitySearchOptions {
  profile: string;
  slo?: string;
  reportsDir?: string;
  runId?: string;
  plannedDevices?: number;
  startDevices?: number;
  maxDevices?: number;
  /** the generator's own device limit (a cap on the engine): reaching it ends the search generator-bound */
  generatorMaxDevices?: number;
  growth?: number;
  resolution?: number;
  maxBisectSteps?: number;
  /** engine run time of each step, e.g. 60s */
  hold?: string;
  /** the whole search, e.g. 30m */
  maxDuration?: string;
  /** REST API requests/s and WebSocket clients per 1,000 devices (default: the profile's, per its device count) */
  apiPer1000?: number;
  wsPer1000?: number;
  platformArgs?: string[];
  keepEvidence?: boolean;
  workers?: number;
  log: (line: string) => void;
}

export interface CapacitySearchOutcome {
  runDir: string;
  record: SearchRecord;
  capacity: CapacityAnalysis;
  exitCode: number;
}

/** Seconds a step costs beyond its hold: the tail scrapes, the verifier's settle wait and its queries. */
const STEP_OVERHEAD_SEC = 8;

interface Plan {
  profile: Profile;
  slo: ReturnType<typeof loadSloFile>;
  runId: string;
  policy: SearchPolicy;
  apiPer1000: number;
  wsPer1000: number;
  generatorLimit?: string;
}

function positive(v: number | undefined, flag: string, integer: boolean): number | undefined {
  if (v === undefined) return undefined;
  if (!Number.isFinite(v) || v <= 0 || (integer && !Number.isInteger(v))) throw badInput(`${flag}: expected a ${integer ? 'whole ' : ''}number > 0, got ${v}`);
  return v;
}

function seconds(text: string | undefined, flag: string, fallbackMs: number): number {
  if (text === undefined) return fallbackMs / 1000;
  const ms = parseDurationMs(text);
  if (ms === undefined || ms < 1000) throw badInput(`${flag}: expected a duration of at least 1s such as 10s, 2m, got "${text}"`);
  return ms / 1000;
}

/** Everything a person can get wrong, before any process starts. */
export function planSearch(o: CapacitySearchOptions): Plan {
  const profile = loadProfile(o.profile);
  const slo = loadSloFile(o.slo ?? profile.sloFile);
  const runId = o.runId ?? newRunId(`${profile.name}-search`);
  if (!RUN_ID_PATTERN.test(runId)) throw badInput(`--run-id: only letters, digits, "-" and "_" are allowed, got "${runId}"`);
  if (profile.faults) throw badInput(`profile ${profile.name} has faults: a capacity search measures the platform as it is; use a profile without faults`);
  const largest = Math.max(profile.devices.count, ...(profile.steps ?? []).map((s) => s.devices));
  const startDevices = positive(o.startDevices, '--start-devices', true) ?? profile.steps?.[0]?.devices ?? Math.max(1, Math.round(largest / 10));
  const maxDevices = positive(o.maxDevices, '--max-devices', true) ?? largest * 4;
  if (startDevices > maxDevices) throw badInput(`--start-devices ${startDevices} is above --max-devices ${maxDevices}`);
  const growth = positive(o.growth, '--growth', false) ?? 2;
  if (growth <= 1) throw badInput(`--growth: each step must add load, expected a factor > 1, got ${growth}`);
  const resolution = positive(o.resolution, '--resolution', false) ?? 0.1;
  const holdSec = seconds(o.hold, '--hold', 60_000);
  const maxDurationSec = seconds(o.maxDuration, '--max-duration', profile.maxDurationMs);
  if (maxDurationSec < holdSec + STEP_OVERHEAD_SEC) throw badInput(`--max-duration ${maxDurationSec}s leaves no room for one ${holdSec}s step (+${STEP_OVERHEAD_SEC}s to judge it)`);
  const generatorMaxDevices = positive(o.generatorMaxDevices, '--generator-max-devices', true);
  const policy: SearchPolicy = { startDevices, maxDevices, growth, resolution, maxBisectSteps: o.maxBisectSteps ?? 4, holdSec, maxDurationSec, ...(generatorMaxDevices ? { generatorMaxDevices } : {}) };
  const perK = (n: number | undefined) => (n === undefined ? 0 : (n * 1000) / profile.devices.count);
  return {
    profile,
    slo,
    runId,
    policy,
    apiPer1000: o.apiPer1000 ?? perK(profile.api?.rate),
    wsPer1000: o.wsPer1000 ?? perK(profile.ws?.clients),
    ...(generatorMaxDevices ? { generatorLimit: `--generator-max-devices ${generatorMaxDevices}` } : {}),
  };
}

/** The profile at one step: `devices` of the same shape for `holdSec`, API and WebSocket load scaled per 1,000. */
export function stepProfile(p: Plan, devices: number): Profile {
  const { steps: _steps, ...rest } = p.profile;
  const out: Profile = { ...rest, devices: { ...p.profile.devices, count: devices }, durationMs: p.policy.holdSec * 1000, maxDurationMs: p.policy.holdSec * 1000 + 60_000 };
  const rate = (p.apiPer1000 * devices) / 1000;
  if (out.api && rate > 0) out.api = { ...out.api, rate, stages: undefined };
  else delete out.api;
  const clients = Math.round((p.wsPer1000 * devices) / 1000);
  if (out.ws && clients > 0) out.ws = { ...out.ws, clients };
  else delete out.ws;
  return out;
}

/** A latency quantile from the engine's cumulative buckets, interpolated inside the bucket like Prometheus. */
export function bucketQuantile(q: number, cumulative: number[], total: number): number | undefined {
  if (!(total > 0)) return undefined;
  const rank = q * total;
  const i = cumulative.findIndex((c) => c >= rank);
  if (i < 0) return LATENCY_BUCKETS_S[LATENCY_BUCKETS_S.length - 1];
  const lo = i === 0 ? 0 : LATENCY_BUCKETS_S[i - 1];
  const below = i === 0 ? 0 : cumulative[i - 1];
  const inBucket = cumulative[i] - below;
  return inBucket > 0 ? lo + ((LATENCY_BUCKETS_S[i] - lo) * (rank - below)) / inBucket : LATENCY_BUCKETS_S[i];
}

/** Per-second ACK p95 and ACKed records/s from the engine's once-a-second merged figures. */
class SecondSampler {
  readonly samples: SearchStep['samples'] = [];
  private prev: { acked: number; hist?: BucketCounts; ms: number } = { acked: 0, ms: 0 };

  onTick = (tick: EngineTick): void => {
    const acked = counterTotal(tick.counts, 'records_acked');
    const hist = tick.counts.histograms.ack_latency;
    const dt = (tick.elapsedMs - this.prev.ms) / 1000;
    if (dt <= 0.2) return;
    const delta = hist ? hist.buckets.map((c, i) => c - (this.prev.hist?.buckets[i] ?? 0)) : [];
    const count = hist ? hist.count - (this.prev.hist?.count ?? 0) : 0;
    const p95 = bucketQuantile(0.95, delta, count);
    this.samples.push({ t: Math.round(tick.elapsedMs / 100) / 10, ...(p95 !== undefined ? { ackP95: p95 } : {}), ackedRate: (acked - this.prev.acked) / dt, acked });
    this.prev = { acked, hist, ms: tick.elapsedMs };
  };
}

/** The shape a planner reads: interval, parked interval, records per packet, codec mix, API and WebSocket per 1,000. */
function shapeOf(p: Plan, measuredPerDevice?: number): FleetShape {
  const d = p.profile.devices;
  const intervalSec = d.intervalMs / 1000;
  const parkedIntervalSec = (d.parkedIntervalMs ?? d.intervalMs) / 1000;
  const moving = d.recordsPerPacket / intervalSec;
  const parked = 1 / parkedIntervalSec;
  const rate = measuredPerDevice ?? moving;
  const parkedShare = moving > parked && measuredPerDevice !== undefined ? Math.min(1, Math.max(0, (moving - rate) / (moving - parked))) : null;
  return {
    intervalSec,
    parkedIntervalSec,
    recordsPerPacket: d.recordsPerPacket,
    codec8eShare: d.codec8eShare ?? (d.codec === 142 ? 1 : 0),
    apiRatePer1000: p.apiPer1000,
    wsClientsPer1000: p.wsPer1000,
    recordsPerDeviceSec: rate,
    recordsPerDeviceSource: measuredPerDevice !== undefined ? 'measured: records ACKed per device per second over the steady part of the first passing step' : 'from the interval (no step passed)',
    parkedShare,
  };
}

interface StepContext {
  plan: Plan;
  stack: EmbeddedStack;
  runDir: string;
  metricsPort: number;
  log: (line: string) => void;
  workers?: number;
}

/** One step: the engine at `devices` for the hold, then its window judged by the SLO file. */
async function runStep(c: StepContext, index: number, devices: number, phase: SearchStep['phase']): Promise<{ step: SearchStep; engine: EngineRun }> {
  const name = `step-${index + 1}`;
  const dir = join(c.runDir, 'steps', name);
  mkdirSync(dir, { recursive: true });
  const profile = stepProfile(c.plan, devices);
  const target = { host: '127.0.0.1', port: c.stack.platform.tcpPort, httpUrl: `http://127.0.0.1:${c.stack.platform.httpPort}` };
  const config = fleetConfigFor(profile, c.plan.runId, target);
  // every step's devices are the same fleet: device i has the same IMEI in every step
  config.seed = runSeed(c.plan.profile.seed, c.plan.runId);
  const sampler = new SecondSampler();
  const scrapeMs = c.stack.prometheus.scrapeIntervalSec * 1000;
  c.log(`${name} (${phase}): ${devices} devices for ${c.plan.policy.holdSec}s`);
  const engine = await runEngine({
    runId: c.plan.runId,
    config,
    workers: c.workers ?? defaultWorkers(config),
    outDir: dir,
    metrics: { host: '127.0.0.1', port: c.metricsPort },
    thresholds: profile.generator,
    hardLimitMs: profile.maxDurationMs,
    fleetloadVersion: fleetloadVersion(),
    log: c.log,
    // a scrape of this step's fresh counters (at 0) before its load, not the last step's
    beforeStart: async () => {
      await new Promise((r) => setTimeout(r, scrapeMs + 300));
      await waitForFirstScrape(c.stack.prometheus.url, ENGINE_JOB);
    },
    observe: sampler.onTick,
  });
  try {
    const tailMs = scrapeMs * 2 + 500;
    await new Promise((r) => setTimeout(r, tailMs));
    const manifest = stepManifest(c, config, engine, name, new Date(engine.loadEnd.getTime() + tailMs));
    writeManifest(dir, manifest);
    const report = await verifyRun({
      slo: c.plan.slo,
      manifest,
      runDir: dir,
      prometheusUrl: c.stack.prometheus.url,
      pgUrl: c.stack.pg.url,
      settleMs: scrapeMs * 2 + 1000,
      invalidReasons: manifest.invalidReasons ?? [],
    });
    writeFileSync(join(dir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
    const settle = findSteadyStart(sampler.samples.filter((x) => x.t <= c.plan.policy.holdSec + 0.05), { minSettleSec: Math.min(5, Math.max(1, Math.floor(c.plan.policy.holdSec / 5))), minSteadySec: Math.max(3, Math.floor(c.plan.policy.holdSec / 3)) });
    return { step: stepRecord({ name, index, devices, phase, dir: `steps/${name}`, engine, report, settle, samples: sampler.samples, offeredRate: devices * shapeOf(c.plan).recordsPerDeviceSec, holdSec: c.plan.policy.holdSec }), engine };
  } finally {
    await engine.metrics?.close();
  }
}

function stepManifest(c: StepContext, config: FleetConfig, engine: EngineRun, name: string, windowEnd: Date): RunManifest {
  return {
    runId: c.plan.runId,
    profile: c.plan.profile.name,
    seed: config.seed,
    startedAt: engine.loadStart.toISOString(),
    endedAt: windowEnd.toISOString(),
    stages: [{ name, start: engine.loadStart.toISOString(), end: windowEnd.toISOString(), devices: config.devices }],
    devices: config.devices,
    imeis: Array.from({ length: config.devices }, (_, i) => imeiForIndex(config.seed, i)),
    target: { tcp: `${config.tcpHost}:${config.tcpPort}`, ...(config.httpUrl ? { http: config.httpUrl } : {}), embedded: true },
    prometheus: { url: c.stack.prometheus.url },
    postgres: { url: redactUrl(c.stack.pg.url) },
    versions: { fleetload: fleetloadVersion(), engine: fleetloadVersion(), node: process.version, prometheus: c.stack.prometheus.version },
    engine: { summaryFile: ENGINE_SUMMARY_FILE, ledgerDir: LEDGER_DIR, exitCode: engine.killedAtLimit ? 4 : 0 },
    generator: engine.generatorFigures,
    invalidReasons: engine.summary.generator.invalidReasons.map((r) => `load engine: ${r}`),
  };
}

interface StepFacts {
  name: string;
  index: number;
  devices: number;
  phase: SearchStep['phase'];
  dir: string;
  engine: EngineRun;
  report: Report;
  settle: SettleResult;
  samples: SearchStep['samples'];
  offeredRate: number;
  holdSec: number;
}

/**
 * A step's outcome: generator-bound when the engine itself could not be trusted (its health, its time limit);
 * fail when an objective missed its target (fail or warn) or latency still climbed at the end of the hold (the
 * platform falls behind: a queue that grows has no steady state to judge); else pass.
 */
export function stepRecord(f: StepFacts): SearchStep {
  const generatorReasons = [...f.engine.summary.generator.invalidReasons, ...(f.engine.killedAtLimit ? ['stopped at its hard time limit'] : [])];
  const missed = f.report.objectives.filter((o) => o.status === 'fail' || o.status === 'warn');
  const failed = missed.map((o) => ({ objective: o.id, value: o.value, unit: o.unit, target: o.target, why: o.why }));
  if (risingLatency(f.settle) && f.settle.latency) {
    failed.push({ objective: 'steady_state', value: f.settle.latency.slope, unit: 's/s', target: 'no rising trend', why: f.settle.explanation });
  }
  const outcome: StepOutcome = generatorReasons.length > 0 ? 'generator-bound' : failed.length > 0 ? 'fail' : 'pass';
  const steadySec = f.settle.steadyStartSec;
  const ackedRate = steadyAckedRate(f.samples, steadySec, f.holdSec);
  // the step's figures end where its devices stop sending, not where the engine finished waiting for the last ACKs
  const sendEnd = new Date(Math.min(f.engine.loadEnd.getTime(), f.engine.loadStart.getTime() + f.holdSec * 1000));
  const start = f.engine.loadStart;
  return {
    index: f.index,
    name: f.name,
    devices: f.devices,
    phase: f.phase,
    start: start.toISOString(),
    end: sendEnd.toISOString(),
    steadyStart: new Date(start.getTime() + steadySec * 1000).toISOString(),
    settle: f.settle,
    samples: f.samples,
    offeredRate: f.offeredRate,
    ...(ackedRate !== undefined ? { ackedRate } : {}),
    ...(f.engine.summary.ackLatencyMs ? { ackP95Ms: f.engine.summary.ackLatencyMs.p95 } : {}),
    outcome,
    verdict: f.report.verdict,
    failed,
    passed: f.report.objectives.filter((o) => o.status === 'pass').map((o) => o.id),
    generatorReasons,
    dir: f.dir,
  };
}

/**
 * Records/s ACKed over the steady part from the cumulative count (first sample at or after the steady start to the
 * last one before the devices stop at the end of the hold): the per-second rates jitter with when each thread's
 * snapshot arrives, the total does not.
 */
export function steadyAckedRate(samples: SearchStep['samples'], steadySec: number, holdSec: number): number | undefined {
  // after holdSec the devices have stopped sending and the engine only waits for their last ACKs and closes
  const part = samples.filter((s) => s.t >= steadySec && s.t <= holdSec + 0.05 && s.acked !== undefined);
  if (part.length < 2) return undefined;
  const last = part[part.length - 1];
  const dt = last.t - part[0].t;
  return dt > 0 ? ((last.acked as number) - (part[0].acked as number)) / dt : undefined;
}

/** The steps, each sized from the verdicts before it, until the search stops by itself. */
async function searchLoop(c: StepContext, started: number): Promise<{ steps: SearchStep[]; stop: SearchRecord['stop']; perDevice?: number }> {
  const steps: SearchStep[] = [];
  let perDevice: number | undefined;
  let costSec = c.plan.policy.holdSec + STEP_OVERHEAD_SEC;
  for (;;) {
    const next = nextStep(steps, c.plan.policy);
    if ('stop' in next) return { steps, stop: { reason: next.stop, explanation: next.explanation }, perDevice };
    const elapsed = (Date.now() - started) / 1000;
    if (elapsed + costSec > c.plan.policy.maxDurationSec) {
      return { steps, stop: { reason: 'time-budget' as StopReason, explanation: `the next step (${next.devices} devices, ~${Math.round(costSec)} s) would end past --max-duration ${c.plan.policy.maxDurationSec}s` }, perDevice };
    }
    const t0 = Date.now();
    const { step } = await runStep(c, steps.length, next.devices, next.phase);
    costSec = Math.max(costSec, (Date.now() - t0) / 1000);
    // the shape's records/s per device: ACKed over the first step's steady part, where the platform keeps up (ACKed = sent)
    if (perDevice === undefined && step.outcome === 'pass' && step.ackedRate !== undefined) perDevice = step.ackedRate / next.devices;
    steps.push(step);
    c.log(`  ${step.name}: ${step.outcome}${step.failed.length ? ` (${step.failed.map((x) => x.objective).join(', ')})` : ''}; ACK p95 ${step.ackP95Ms?.toFixed(0) ?? '–'} ms, ${step.ackedRate?.toFixed(1) ?? '–'} records/s ACKed; ${step.settle.explanation}`);
  }
}

function searchManifest(plan: Plan, stack: EmbeddedStack, steps: SearchStep[], start: Date, end: Date): RunManifest {
  const seed = runSeed(plan.profile.seed, plan.runId);
  const most = Math.max(1, ...steps.map((s) => s.devices));
  return {
    runId: plan.runId,
    profile: plan.profile.name,
    seed,
    startedAt: start.toISOString(),
    endedAt: end.toISOString(),
    // the search path: one stage per step, in the order the steps ran
    stages: steps.map((s) => ({ name: s.name, start: s.start, end: s.end, devices: s.devices })),
    devices: most,
    imeis: Array.from({ length: most }, (_, i) => imeiForIndex(seed, i)),
    target: { tcp: `127.0.0.1:${stack.platform.tcpPort}`, http: `http://127.0.0.1:${stack.platform.httpPort}`, embedded: true },
    prometheus: { url: stack.prometheus.url },
    postgres: { url: redactUrl(stack.pg.url) },
    versions: { fleetload: fleetloadVersion(), engine: fleetloadVersion(), node: process.version, prometheus: stack.prometheus.version },
    // each step's engine summary and ledger are in steps/step-k/ (with that step's run.json and report.json); the
    // search folder itself has none, so this names a file that is not there and nothing reads a step's as the whole's
    engine: { summaryFile: ENGINE_SUMMARY_FILE, exitCode: steps.some((s) => s.outcome === 'generator-bound') ? ExitCode.InvalidRun : 0 },
  };
}

/** The whole search: stack up, steps, evidence, outputs, stack down. */
export async function runCapacitySearch(o: CapacitySearchOptions): Promise<CapacitySearchOutcome> {
  const plan = planSearch(o);
  const limit = Math.min(plan.policy.maxDevices, plan.policy.generatorMaxDevices ?? Infinity);
  checkResourcesBeforeRun(limit, {
    embedded: true,
    extraConnections: Math.ceil((plan.wsPer1000 * limit) / 1000) + (plan.profile.api?.connections ?? 0),
    platformMaxConnPerIp: platformConnPerIpArg(o.platformArgs),
    log: o.log,
  });
  const runDir = resolve(o.reportsDir ?? join(repoRoot(), 'reports'), plan.runId);
  mkdirSync(runDir, { recursive: true });
  const stackLog = createWriteStream(join(runDir, 'stack.log'));
  const metricsPort = await freePort();
  let stack: EmbeddedStack | undefined;
  let keep: EvidenceFolders | undefined;
  const stopStack = async () => {
    const s = stack;
    stack = undefined;
    if (!s) return;
    if (keep) rmSync(keep.dir, { recursive: true, force: true });
    await s.stop({ keepData: keep });
  };
  const onSignal = (signal: NodeJS.Signals) => {
    o.log(`${signal}: stopping the capacity search`);
    void stopStack().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    o.log(`capacity search ${plan.runId}: from ${plan.policy.startDevices} devices (×${plan.policy.growth}) up to ${plan.policy.maxDevices}, ${plan.policy.holdSec}s per step, at most ${plan.policy.maxDurationSec}s in all`);
    stack = await startEmbeddedStack({
      label: plan.runId,
      platformArgs: o.platformArgs,
      extraScrapeTargets: [{ job: ENGINE_JOB, address: `127.0.0.1:${metricsPort}` }],
      log: (component, line) => stackLog.write(`[${component}] ${line}\n`),
    });
    await validateSloAgainst({ slo: plan.slo, prometheusUrl: stack.prometheus.url, pgUrl: stack.pg.url });
    const started = Date.now();
    const loop = await searchLoop({ plan, stack, runDir, metricsPort, log: o.log, workers: o.workers }, started);
    const end = new Date();
    const record: SearchRecord = {
      format: SEARCH_FORMAT,
      runId: plan.runId,
      profile: plan.profile.name,
      shape: shapeOf(plan, loop.perDevice),
      policy: plan.policy,
      startedAt: new Date(started).toISOString(),
      endedAt: end.toISOString(),
      stop: loop.stop,
      ...(plan.generatorLimit ? { generatorLimit: plan.generatorLimit } : {}),
      steps: loop.steps,
    };
    o.log(`search stopped: ${record.stop.explanation}`);
    return await writeOutputs(o, plan, stack, record, runDir, (k) => (keep = k));
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await stopStack();
    await new Promise<void>((r) => stackLog.end(r));
  }
}

async function writeOutputs(o: CapacitySearchOptions, plan: Plan, stack: EmbeddedStack, record: SearchRecord, runDir: string, keepAs: (k: EvidenceFolders) => void): Promise<CapacitySearchOutcome> {
  writeFileSync(join(runDir, SEARCH_FILE), `${JSON.stringify(record, null, 2)}\n`);
  if (record.steps.length === 0) throw badInput(`the capacity search ran no step: ${record.stop.explanation}`);
  const start = new Date(record.steps[0].start);
  const end = new Date(Date.parse(record.steps[record.steps.length - 1].end) + stack.prometheus.scrapeIntervalSec * 2000);
  const manifest = searchManifest(plan, stack, record.steps, start, end);
  writeManifest(runDir, manifest);
  if (o.keepEvidence !== false) keepAs(evidenceFolders(runDir));
  await captureSeries(runDir, { prometheusUrl: prometheusEndpoint(stack.prometheus.url, {}), runId: plan.runId, start, end, sourceLabel: stack.prometheus.url }, o.log);
  await captureDbStats(runDir, stack.pg.url, manifest.imeis, { start, end }, o.log);
  const outputs = writeRunOutputs(runDir, undefined, manifest, { plannedDevices: o.plannedDevices });
  const cap = outputs.capacity.capacity;
  o.log(
    `capacity: ${cap.devices ?? 'none'} devices${cap.recordsPerSecond !== null ? ` (${cap.recordsPerSecond.toFixed(1)} records/s)` : ''}, bracket [${cap.bracket.pass ?? '–'}, ${cap.bracket.fail ?? '–'}]` +
      `${cap.limitedBy ? `, limited by ${cap.limitedBy}` : ''}${cap.generatorBound ? ' — GENERATOR-BOUND: a lower bound, not the platform\'s capacity' : ''}`,
  );
  o.log(`knee: ${outputs.capacity.kneeCheck.explanation}`);
  o.log(`reports: ${runDir} (open ${outputs.htmlFile})`);
  const noVerdict = record.steps.every((s) => s.outcome === 'generator-bound');
  const short = o.plannedDevices !== undefined && (cap.devices ?? 0) < o.plannedDevices && !cap.generatorBound && cap.bracket.fail !== null;
  return { runDir, record, capacity: outputs.capacity, exitCode: noVerdict ? ExitCode.InvalidRun : short ? ExitCode.SloBreach : ExitCode.Pass };
}
