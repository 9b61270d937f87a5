// `fleetload generate`: the engine alone against any Teltonika server — no embedded stack, no verdict. The same
// target safety as `run` (loopback unless allowed). Exit 0 when the load ran, 2 on bad input, 3 when the target
// cannot be reached, 4 when the engine itself was the bottleneck — or, for a shard (--shard i/n, shards.ts), when it
// started late or its clock disagrees with the target's: the shard says so in its summary and shard.json.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { systemClock, type Clock } from '../core/clock.js';
import { badInput, infraError, ExitCode } from '../core/errors.js';
import { ENGINE_SUMMARY_FILE, type EngineSummary } from '../core/engine-summary.js';
import { RUN_ID_PATTERN } from '../core/manifest.js';
import { runEngine, type EngineRun } from '../engine/engine.js';
import { progressSink } from '../engine/progress.js';
import { openLiveView } from '../live/index.js';
import { loadSloFile } from '../verify/index.js';
import { redactUrl } from '../core/redact.js';
import { prometheusEndpoint } from '../core/prometheus-endpoint.js';
import type { FleetConfig } from '../sim/fleet-config.js';
import { fleetConfigFor } from './fleet-plan.js';
import { parseDurationFlag } from './duration.js';
import { loadProfile } from './profile.js';
import { newRunId } from './run-id.js';
import { fleetloadVersion } from '../core/version.js';
import { defaultWorkers, runSeed } from './run.js';
import { checkClock, configHash, DEFAULT_START_TOLERANCE_MS, parseShard, parseStartAt, startReasons, writeShardRecord, SHARD_FORMAT, type ShardRecord, type ShardRef } from './shards.js';
import { allowedTargets, checkTarget, targetBanner } from './target-safety.js';

export interface GenerateOptions {
  profile: string;
  tcp: string;
  http?: string;
  devices?: number;
  duration?: string;
  workers?: number;
  summary?: string;
  /** keep the ACK ledger here (a folder); default: none kept */
  out?: string;
  metricsPort?: number;
  sourceAddresses?: string[];
  allowTarget: string[];
  runId?: string;
  /** "i/n": this process is shard i of n (needs --run-id, --start-at and --out) */
  shard?: string;
  /** ISO time: the common start instant of every shard */
  startAt?: string;
  /** checks this machine's clock against Prometheus's time() when there is no --http */
  prometheusUrl?: string;
  /** late start and clock skew beyond this many ms make the shard's run invalid (default 500) */
  startToleranceMs?: number;
  clock?: Clock;
  /** --web [PORT] / --web-host: a live view in the browser (src/live); objectives shown are the default SLO file's engine ones */
  web?: string | true;
  webHost?: string;
  log: (line: string) => void;
}

export interface GenerateOutcome {
  summary: EngineSummary;
  exitCode: number;
}

function parseTarget(text: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65535) throw badInput(`--tcp: expected host:port such as 127.0.0.1:5000, got "${text}"`);
  return { host: m[1], port };
}

/** One TCP connect to the target before any device starts: an unreachable target is exit 3, not a run of errors. */
async function probe(host: string, port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const s = connect({ host, port });
    const timer = setTimeout(() => (s.destroy(), reject(new Error('no answer within 5 s'))), 5000);
    s.once('connect', () => (clearTimeout(timer), s.destroy(), resolve()));
    s.once('error', (e) => (clearTimeout(timer), reject(e)));
  }).catch((e: unknown) => {
    throw infraError(`--tcp ${host}:${port}: cannot connect (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); is the server up?`, e);
  });
}

interface ShardPlan {
  shard?: ShardRef;
  startAtMs?: number;
  toleranceMs: number;
}

/** --shard, --start-at and their companions: every mistake is bad input before anything connects. */
function checkShardOptions(o: GenerateOptions, clock: Clock): ShardPlan {
  const shard = o.shard !== undefined ? parseShard(o.shard) : undefined;
  if (shard) {
    const missing = [!o.runId && '--run-id (the seed, hence the IMEIs, comes from it: every shard must share it)', !o.startAt && '--start-at (the common start instant)', !o.out && '--out (the shard folder that `fleetload merge` reads)'].filter(Boolean);
    if (missing.length > 0) throw badInput(`--shard ${o.shard} needs ${missing.join(', ')}`);
  }
  if (o.runId !== undefined && !RUN_ID_PATTERN.test(o.runId)) throw badInput(`--run-id: only letters, digits, "-" and "_" are allowed, got "${o.runId}"`);
  const toleranceMs = o.startToleranceMs ?? DEFAULT_START_TOLERANCE_MS;
  if (!Number.isInteger(toleranceMs) || toleranceMs < 0) throw badInput(`--start-tolerance: expected a whole number of ms ≥ 0, got ${toleranceMs}`);
  return { shard, startAtMs: o.startAt !== undefined ? parseStartAt(o.startAt, clock.now()) : undefined, toleranceMs };
}

export async function generateLoad(o: GenerateOptions): Promise<GenerateOutcome> {
  const clock = o.clock ?? systemClock;
  const plan = checkShardOptions(o, clock);
  const profile = loadProfile(o.profile);
  const target = parseTarget(o.tcp);
  if (o.devices !== undefined && (!Number.isInteger(o.devices) || o.devices < 1)) throw badInput(`--devices: expected a whole number ≥ 1, got ${o.devices}`);
  if (o.devices !== undefined) profile.devices = { ...profile.devices, count: o.devices };
  if (o.duration !== undefined) {
    const ms = parseDurationFlag(o.duration);
    profile.maxDurationMs = ms + (profile.maxDurationMs - profile.durationMs);
    profile.durationMs = ms;
  }
  if (o.workers !== undefined && (!Number.isInteger(o.workers) || o.workers < 0 || o.workers > 256)) throw badInput(`--workers: expected a whole number from 0 to 256, got ${o.workers}`);
  const checked = await checkTarget(target.host, allowedTargets(o.allowTarget));
  if (o.http) await checkTarget(new URL(o.http).hostname.replace(/^\[|\]$/g, ''), allowedTargets(o.allowTarget));
  await probe(target.host, target.port);
  const runId = o.runId ?? newRunId(`generate-${profile.name}`);
  const config = fleetConfigFor(profile, runId, { ...target, httpUrl: o.http });
  config.seed = runSeed(profile.seed, runId);
  const liveProm = o.web !== undefined && o.prometheusUrl ? prometheusEndpoint(o.prometheusUrl) : undefined;
  const live = o.web === undefined ? undefined : await openLiveView({ port: o.web, host: o.webHost, runId, title: `generate ${runId} — profile ${profile.name}`, slo: loadSloFile(), log: o.log });
  if (live && liveProm) live.usePrometheus(liveProm, { windowSec: 60, source: liveProm.redacted });
  if (!o.http && (profile.api || profile.ws)) o.log(`no --http: the profile's ${[profile.api && 'REST API', profile.ws && 'WebSocket'].filter(Boolean).join(' and ')} clients are left out; only devices run`);
  o.log(targetBanner(checked, target.port, { embedded: false, devices: config.devices, durationSec: config.durationSec }));
  const outDir = o.out ?? mkdtempSync(join(tmpdir(), 'fleetload-generate-'));
  mkdirSync(outDir, { recursive: true });
  const record = shardRecord(o, plan, { profile: profile.name, config, target: `${target.host}:${target.port}` });
  try {
    const clockCheck = await checkClockOf(o, plan, clock, record);
    writeShardRecord(outDir, record);
    const run = await runEngine({
      runId,
      config,
      workers: o.workers ?? defaultWorkers({ devices: Math.ceil(config.devices / (plan.shard?.count ?? 1)), intervalMs: config.intervalMs }),
      outDir,
      ...(o.metricsPort !== undefined ? { metrics: { host: '0.0.0.0', port: o.metricsPort, ...(plan.shard ? { labels: { shard: String(plan.shard.index) } } : {}) } } : {}),
      sourceAddresses: o.sourceAddresses,
      ...(plan.shard ? { shard: plan.shard } : {}),
      ...(plan.startAtMs !== undefined ? { startAt: plan.startAtMs } : {}),
      thresholds: profile.generator,
      hardLimitMs: profile.maxDurationMs + 60_000,
      clock,
      fleetloadVersion: fleetloadVersion(),
      log: o.log,
      progress: progressSink(process.stderr),
      observe: live?.observer(config),
      onStart: (t) => {
        if (plan.startAtMs === undefined) return;
        record.lateByMs = t - plan.startAtMs;
        if (record.lateByMs > plan.toleranceMs) o.log(`shard ${plan.shard?.index ?? 0}: started ${record.lateByMs} ms after --start-at`);
      },
    });
    await run.metrics?.close();
    const s = run.summary;
    s.generator.invalidReasons.push(...startReasons(plan.shard ?? { index: 0, count: 1 }, record.lateByMs ?? 0, clockCheck, plan.toleranceMs));
    writeOutputs(o, outDir, s);
    o.log(`records sent ${s.records.sent}, ACKed ${s.records.acked}, resent ${s.records.resent}; ACK p95 ${s.ackLatencyMs?.p95 ?? 'n/a'} ms; devices connected at peak ${s.devices.connectedPeak}/${s.devices.planned}`);
    for (const r of s.generator.invalidReasons) o.log(`load engine: ${r}`);
    const exitCode = s.generator.invalidReasons.length > 0 || run.killedAtLimit ? ExitCode.InvalidRun : ExitCode.Pass;
    writeShardRecord(outDir, finished(record, run, exitCode));
    live?.finish({ verdict: exitCode === ExitCode.Pass ? 'done' : 'invalid', text: `load ran (generate judges no SLO): ${s.records.sent} records sent, ${s.records.acked} ACKed${exitCode === ExitCode.Pass ? '' : `; ${s.generator.invalidReasons.join('; ') || 'stopped at the hard time limit'}`}` });
    return { summary: s, exitCode };
  } catch (e) {
    // a shard that fails says so in its folder: the merge reports it instead of finding a silent gap
    writeShardRecord(outDir, { ...record, status: 'failed', error: e instanceof Error ? e.message : String(e), exitCode: (e as { exitCode?: number }).exitCode ?? ExitCode.Infrastructure });
    throw e;
  } finally {
    if (!o.out) rmSync(outDir, { recursive: true, force: true });
    await live?.close();
  }
}

function shardRecord(o: GenerateOptions, plan: ShardPlan, x: { profile: string; config: FleetConfig; target: string }): ShardRecord {
  return {
    format: SHARD_FORMAT,
    version: 1,
    status: 'running',
    runId: x.config.runId,
    profile: x.profile,
    configHash: configHash(x.config),
    seed: x.config.seed,
    shard: plan.shard ?? { index: 0, count: 1 },
    fleetDevices: x.config.devices,
    fleetload: fleetloadVersion(),
    target: { tcp: x.target, ...(o.http ? { http: redactUrl(o.http) } : {}) },
    ...(plan.startAtMs !== undefined ? { startAt: new Date(plan.startAtMs).toISOString() } : {}),
    invalidReasons: [],
  };
}

/** The clock against the target's (HTTP Date) or Prometheus's; a check that cannot be made is a note, not a failure. */
async function checkClockOf(o: GenerateOptions, plan: ShardPlan, clock: Clock, record: ShardRecord) {
  if (plan.startAtMs === undefined) return undefined;
  try {
    const c = await checkClock({ httpUrl: o.http, prometheusUrl: o.prometheusUrl }, clock, plan.toleranceMs);
    if (c) {
      record.clock = c;
      o.log(`clock: this machine − ${c.source === 'http-date' ? "the target's HTTP Date" : "Prometheus's time()"} = ${c.minMs}…${c.maxMs} ms${c.skewed ? ' — SKEWED beyond the tolerance' : ''}`);
    } else record.clockNote = 'not checked: give --http or --prometheus-url so that shards on different machines are checked against one clock';
    return c;
  } catch (e) {
    record.clockNote = `not checked: ${e instanceof Error ? e.message : String(e)}`;
    return undefined;
  } finally {
    if (record.clockNote) o.log(`clock ${record.clockNote}`);
  }
}

/** The summary goes to the folder (rewritten: the start reasons were added after the engine wrote it) and --summary. */
function writeOutputs(o: GenerateOptions, outDir: string, s: EngineSummary): void {
  const text = `${JSON.stringify(s, null, 2)}\n`;
  writeFileSync(join(outDir, ENGINE_SUMMARY_FILE), text);
  if (o.summary) {
    mkdirSync(dirname(o.summary), { recursive: true });
    writeFileSync(o.summary, text);
  }
}

function finished(r: ShardRecord, run: EngineRun, exitCode: number): ShardRecord {
  return {
    ...r,
    status: 'done',
    loadStart: run.loadStart.toISOString(),
    loadEnd: run.loadEnd.toISOString(),
    exitCode,
    invalidReasons: run.summary.generator.invalidReasons,
    counters: run.counters,
    generatorFigures: run.generatorFigures,
  };
}
