// `fleetload generate`: the engine alone against any Teltonika server — no embedded stack, no verdict. The same
// target safety as `run` (loopback unless allowed). Exit 0 when the load ran, 2 on bad input, 3 when the target
// cannot be reached, 4 when the engine itself was the bottleneck.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { badInput, infraError, ExitCode } from '../core/errors.js';
import type { EngineSummary } from '../core/engine-summary.js';
import { runEngine } from '../engine/engine.js';
import { progressSink } from '../engine/progress.js';
import { fleetConfigFor } from './fleet-plan.js';
import { parseDurationMs } from './duration.js';
import { loadProfile } from './profile.js';
import { newRunId } from './run-id.js';
import { defaultWorkers, fleetloadVersion, runSeed } from './run.js';
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

export async function generateLoad(o: GenerateOptions): Promise<GenerateOutcome> {
  const profile = loadProfile(o.profile);
  const target = parseTarget(o.tcp);
  if (o.devices !== undefined && (!Number.isInteger(o.devices) || o.devices < 1)) throw badInput(`--devices: expected a whole number ≥ 1, got ${o.devices}`);
  if (o.devices !== undefined) profile.devices = { ...profile.devices, count: o.devices };
  if (o.duration !== undefined) {
    const ms = parseDurationMs(o.duration);
    if (ms === undefined || ms < 1000) throw badInput(`--duration: expected a duration of at least 1s such as 30s, 5m or 1h, got "${o.duration}"`);
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
  if (!o.http && (profile.api || profile.ws)) o.log(`no --http: the profile's ${[profile.api && 'REST API', profile.ws && 'WebSocket'].filter(Boolean).join(' and ')} clients are left out; only devices run`);
  o.log(targetBanner(checked, target.port, { embedded: false, devices: config.devices, durationSec: config.durationSec }));
  const outDir = o.out ?? mkdtempSync(join(tmpdir(), 'fleetload-generate-'));
  mkdirSync(outDir, { recursive: true });
  try {
    const run = await runEngine({
      runId,
      config,
      workers: o.workers ?? defaultWorkers(config.devices),
      outDir,
      ...(o.metricsPort !== undefined ? { metrics: { host: '0.0.0.0', port: o.metricsPort } } : {}),
      sourceAddresses: o.sourceAddresses,
      thresholds: profile.generator,
      hardLimitMs: profile.maxDurationMs + 60_000,
      fleetloadVersion: fleetloadVersion(),
      log: o.log,
      progress: progressSink(process.stderr),
    });
    await run.metrics?.close();
    const s = run.summary;
    if (o.summary) {
      mkdirSync(dirname(o.summary), { recursive: true });
      writeFileSync(o.summary, `${JSON.stringify(s, null, 2)}\n`);
    }
    o.log(`records sent ${s.records.sent}, ACKed ${s.records.acked}, resent ${s.records.resent}; ACK p95 ${s.ackLatencyMs?.p95 ?? 'n/a'} ms; devices connected at peak ${s.devices.connectedPeak}/${s.devices.planned}`);
    for (const r of s.generator.invalidReasons) o.log(`load engine: ${r}`);
    return { summary: s, exitCode: s.generator.invalidReasons.length > 0 ? ExitCode.InvalidRun : ExitCode.Pass };
  } finally {
    if (!o.out) rmSync(outDir, { recursive: true, force: true });
  }
}
