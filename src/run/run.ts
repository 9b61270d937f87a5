import { createWriteStream, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { badInput, infraError } from '../core/errors.js';
import { formatTable } from '../report/index.js';
import { captureDbStats } from '../report/capacity/db-stats.js';
import { writeRunOutputs } from '../report/run-outputs.js';
import { captureSeries } from '../report/series.js';
import { imeiForIndex } from '../protocol/teltonika/index.js';
import { startEmbeddedStack, type EmbeddedStack } from '../stack/embedded-stack.js';
import { evidenceFolders, folderBytes, type EvidenceFolders } from '../stack/evidence.js';
import { findK6Binary, k6Version } from '../stack/k6-binary.js';
import { repoRoot } from '../stack/repo-root.js';
import { exitCodeFor, loadBaseline, loadSloFile, verifyRun } from '../verify/index.js';
import type { Report } from '../verify/index.js';
import { parseDurationMs } from './duration.js';
import { embeddedFaultTarget, firstDeviceConnection, planFaults, startFaultRunner, type FaultRunner } from './faults.js';
import type { FaultRecord } from '../core/manifest.js';
import { fleetConfigFor, loadStartFromSummary, stagesOf } from './fleet-plan.js';
import { assessGenerator, startGeneratorSampler, type GeneratorSampler } from './generator-health.js';
import { runK6 } from './k6-run.js';
import { RUN_ID_PATTERN, writeManifest, type RunManifest } from '../core/manifest.js';
import { loadProfile, type Profile } from './profile.js';
import { newRunId } from './run-id.js';
import { redactUrl } from '../core/redact.js';
import { prometheusEndpoint, type PrometheusEndpoint } from './prometheus-endpoint.js';
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
  log: (line: string) => void;
}

export interface RunOutcome {
  runDir: string;
  report: Report;
  exitCode: number;
}

function applyOverrides(p: Profile, o: RunOptions): Profile {
  const out = { ...p, devices: { ...p.devices } };
  if (o.devices !== undefined) {
    if (!Number.isInteger(o.devices) || o.devices < 1) throw badInput(`--devices: expected a whole number ≥ 1, got ${o.devices}`);
    out.devices.count = o.devices;
  }
  if (o.duration !== undefined) {
    const ms = parseDurationMs(o.duration);
    if (ms === undefined || ms < 1000) throw badInput(`--duration: expected a duration of at least 1s such as 30s, 5m or 1h, got "${o.duration}"`);
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

/** One load run from profile to verdict: stack up, k6, wait for the evidence, verify, reports, stack down. */
export async function runLoad(o: RunOptions): Promise<RunOutcome> {
  // Everything a person can get wrong is checked before any process starts or any load is sent.
  const loaded = loadProfile(o.profile);
  const profile = applyOverrides(loaded, o);
  const slo = loadSloFile(o.slo ?? profile.sloFile);
  const baseline = o.baseline ? loadBaseline(o.baseline).report : undefined;
  const runId = o.runId ?? newRunId(profile.name);
  if (!RUN_ID_PATTERN.test(runId)) throw badInput(`--run-id: only letters, digits, "-" and "_" are allowed, got "${runId}"`);
  const external = o.tcp ? parseHostPort(o.tcp, '--tcp') : undefined;
  if (external && profile.faults) {
    throw badInput(`profile ${profile.name} has faults: (${profile.faults.map((f) => f.action).join(', ')}); they restart and kill parts of the embedded stack, so they cannot run against an external --tcp target`);
  }
  let externalProm: PrometheusEndpoint | undefined;
  let targetCheck: TargetCheck | undefined;
  if (o.http && !external) throw badInput('--http is for external targets: give --tcp (and --prometheus-url) too, or drop --http to use the embedded stack');
  if (external) {
    if (!o.prometheusUrl) throw badInput('--tcp needs --prometheus-url too: k6 writes its metrics there and the verifier reads them back');
    targetCheck = await checkTarget(external.host, allowedTargets(o.allowTarget));
    if (o.http) await checkTarget(httpHost(o.http), allowedTargets(o.allowTarget));
    // credentials in the URL or PROMETHEUS_* variables; checked now, before anything starts
    externalProm = prometheusEndpoint(o.prometheusUrl);
    const needsPg = slo.objectives.filter((x) => x.source === 'postgres').map((x) => x.id);
    if (needsPg.length > 0 && !o.pgUrl) {
      throw badInput(`the SLO file has PostgreSQL objectives (${needsPg.join(', ')}): pass --pg-url (or PG_URL / PG_URL_FILE), or use an SLO file without them`);
    }
  }
  // fd and ephemeral-port limits against the planned fleet: fail now with what to raise, not halfway
  checkResourcesBeforeRun(Math.max(profile.devices.count, ...(profile.steps ?? []).map((s) => s.devices)), {
    embedded: !external,
    extraConnections: (profile.ws?.clients ?? 0) + (profile.api?.maxVUs ?? 0),
    platformMaxConnPerIp: platformConnPerIpArg(o.platformArgs),
    log: o.log,
  });
  const bin = findK6Binary();
  if (!bin) throw infraError('the k6 binary is not built yet: run `npx fleetload setup` (needs Go and git)');
  const script = join(repoRoot(), 'dist', 'scenarios', 'devices.js');
  const runDir = resolve(o.reportsDir ?? join(repoRoot(), 'reports'), runId);
  mkdirSync(runDir, { recursive: true });

  let stack: EmbeddedStack | undefined;
  let faultRunner: FaultRunner | undefined;
  let stackLogClose = async () => {};
  // set once run.json is written: from then on the stack's data is the evidence `fleetload verify` judges again
  let keepEvidence: EvidenceFolders | undefined;
  const stopStack = async () => {
    const s = stack;
    stack = undefined;
    if (!s) return;
    o.log('stopping the embedded stack');
    if (keepEvidence) rmSync(keepEvidence.dir, { recursive: true, force: true }); // a re-used --run-id
    await s.stop({ keepData: keepEvidence });
    if (keepEvidence) {
      const mb = (dir: string) => (folderBytes(dir) / 1e6).toFixed(1);
      o.log(`evidence kept: ${keepEvidence.dir} (Prometheus ${mb(keepEvidence.prometheus)} MB, PostgreSQL ${mb(keepEvidence.postgres)} MB); \`fleetload verify ${runDir}\` judges the run again from it`);
    }
  };
  const onSignal = (signal: NodeJS.Signals) => {
    o.log(`${signal}: stopping`);
    void stopStack().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    if (!external) {
      o.log('starting the embedded stack (PostgreSQL, reference platform, Prometheus)');
      const stackLog = createWriteStream(join(runDir, 'stack.log'));
      stackLogClose = () => new Promise<void>((r) => stackLog.end(r));
      stack = await startEmbeddedStack({ label: runId, platformArgs: o.platformArgs, log: (component, line) => stackLog.write(`[${component}] ${line}\n`) });
      o.log(`  platform tcp 127.0.0.1:${stack.platform.tcpPort}  http 127.0.0.1:${stack.platform.httpPort}  prometheus ${stack.prometheus.url}`);
    }
    const target = external ?? { host: '127.0.0.1', port: (stack as EmbeddedStack).platform.tcpPort };
    const prometheusUrl = stack?.prometheus.url ?? (o.prometheusUrl as string);
    // the embedded Prometheus wants no credentials; an external one gets them as headers / k6 environment
    const prom = stack ? prometheusEndpoint(stack.prometheus.url, {}) : (externalProm as PrometheusEndpoint);
    const pgUrl = stack?.pg.url ?? o.pgUrl;
    // API and WebSocket clients need the platform's HTTP base URL; without one only devices run.
    const httpUrl = stack ? `http://127.0.0.1:${stack.platform.httpPort}` : o.http;
    const config = fleetConfigFor(profile, runId, { ...target, httpUrl });
    const summaryFile = join(runDir, 'k6-summary.json');
    // say loudly where the load goes, with the addresses the name resolved to
    const checked = targetCheck ?? (await checkTarget(target.host, []));
    o.log(targetBanner(checked, target.port, { embedded: !external, devices: config.devices, durationSec: config.durationSec }));
    o.log(`  metrics: remote write to ${prom.redacted}${prom.auth === 'none' ? '' : ` (${prom.auth} auth)`}; hard time limit ${Math.round((profile.maxDurationMs + 60_000) / 1000)} s`);
    o.log(`run ${runId}: ${config.devices} devices → ${target.host}:${target.port} for ${config.durationSec}s (profile ${profile.name})`);
    const faultPlan = planFaults(profile.faults ?? [], loaded.durationMs, config.durationSec * 1000);
    for (const f of faultPlan) o.log(`  fault planned: ${f.action} at +${f.atMs / 1000}s${f.durationMs ? ` for ${f.durationMs / 1000}s` : ''} (profile: ${f.at})`);
    const startedAt = new Date();
    let sampler: GeneratorSampler | undefined;
    const k6 = await runK6({
      bin,
      script,
      runId,
      env: { FLEET_CONFIG: JSON.stringify(config), FLEET_SUMMARY_FILE: summaryFile },
      remoteWrite: prom,
      logFile: join(runDir, 'k6.log'),
      hardLimitMs: profile.maxDurationMs + 60_000,
      onLine: (line) => o.log(`  k6: ${line}`),
      onStart: (pid) => {
        sampler = startGeneratorSampler(pid);
        if (faultPlan.length > 0 && stack) {
          const loadStart = firstDeviceConnection(stack.platform.httpPort, Date.now());
          faultRunner = startFaultRunner(faultPlan, embeddedFaultTarget(stack), { log: o.log, loadStart });
        }
      },
    });
    const endedAt = new Date();
    // a fault still running restores the stack before anything is judged
    const faults: FaultRecord[] | undefined = await faultRunner?.stop();
    const faultErrors = (faults ?? []).filter((f) => f.error).map((f) => `fault ${f.action} (${f.at}) failed: ${f.error}`);
    const k6Summary = readJsonIfPresent(summaryFile);
    // Was the load generator, not the platform, the bottleneck? Then the numbers cannot be trusted.
    const generatorSamples = sampler?.stop();
    const generator = assessGenerator(k6Summary, generatorSamples, profile.generator);
    for (const r of generator.invalidReasons) o.log(`load generator: ${r}`);
    o.log(`k6 finished with exit code ${k6.exitCode}${k6.killedAtLimit ? ' (killed at the hard time limit)' : ''}`);

    const manifest: RunManifest = {
      runId,
      profile: profile.name,
      seed: profile.seed,
      startedAt: startedAt.toISOString(),
      endedAt: endedAt.toISOString(),
      stages: stagesOf(config, startedAt, endedAt, loadStartFromSummary(k6Summary, endedAt)),
      devices: config.devices,
      imeis: Array.from({ length: config.devices }, (_, i) => imeiForIndex(config.seed, i)),
      target: { tcp: `${target.host}:${target.port}`, ...(httpUrl ? { http: httpUrl } : {}), embedded: !external },
      prometheus: { url: prom.redacted },
      ...(pgUrl ? { postgres: { url: redactUrl(pgUrl) } } : {}),
      versions: await versions(bin, stack),
      k6: { exitCode: k6.exitCode, summaryFile: 'k6-summary.json' },
      generator: generator.figures,
      ...(faults ? { faults } : {}),
    };
    writeManifest(runDir, manifest);
    if (stack && o.keepEvidence !== false) keepEvidence = evidenceFolders(runDir);
    const report = await verifyRun({
      slo,
      manifest,
      runDir,
      prometheusUrl,
      pgUrl,
      baseline,
      failOnWarn: o.failOnWarn,
      // the last scrape and the last remote-write push must land before the window is judged
      settleMs: (stack?.prometheus.scrapeIntervalSec ?? 5) * 2000 + 1000,
      invalidReasons: [
        ...(k6.killedAtLimit ? [`k6 was killed at the hard time limit (${Math.round((profile.maxDurationMs + 60_000) / 1000)} s)`] : []),
        ...generator.invalidReasons.map((r) => `load generator: ${r}`),
        ...faultErrors,
      ],
    });
    if (report.verdict === 'invalid') o.log(`the run is invalid; see ${join(runDir, 'k6.log')}`);
    // What the charts and the capacity analysis need is copied into the run folder while the stack is up,
    // so that `fleetload report` can rebuild everything later without it.
    const window = { start: startedAt, end: endedAt };
    await captureSeries(runDir, { prometheusUrl: prom, runId, ...window, sourceLabel: prom.redacted, generatorPoints: generatorSamples?.points }, o.log);
    if (pgUrl) await captureDbStats(runDir, pgUrl, manifest.imeis, window, o.log);
    const outputs = writeRunOutputs(runDir, report, manifest, {
      plannedDevices: o.plannedDevices,
      baselineDir: o.baseline && !o.baseline.endsWith('.json') ? o.baseline : undefined,
    });
    process.stdout.write(`${formatTable(report)}\n`);
    if (outputs.capacity.stepped) o.log(`capacity: ${outputs.capacity.capacity.devices ?? 'none'} devices — ${outputs.capacity.capacity.explanation}`);
    o.log(`reports: ${runDir} (open ${outputs.htmlFile})`);
    return { runDir, report, exitCode: exitCodeFor(report, o.failOnWarn) };
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await faultRunner?.stop();
    await stopStack();
    await stackLogClose();
  }
}

async function versions(bin: string, stack: EmbeddedStack | undefined): Promise<Record<string, string>> {
  const pkg = JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8')) as { version: string };
  const out: Record<string, string> = { fleetload: pkg.version, node: process.version };
  try {
    const v = await k6Version(bin);
    out.k6 = v.version;
    for (const e of v.extensions) out[e.module] = e.version;
  } catch {
    out.k6 = 'unknown';
  }
  if (stack) out.prometheus = stack.prometheus.version;
  return out;
}

function readJsonIfPresent(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as unknown;
  } catch {
    return undefined; // k6 died before writing its summary: the verifier reports the missing evidence
  }
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
