// `fleetload k6 bundle`: a k6 script for teams that already run k6 on their own build with grafana/xk6-tcp. It is an
// esbuild bundle of scenarios/k6/devices.ts (only k6's own modules, k6 and k6/*, left external) with the resolved
// FleetConfig and the thresholds derived from the SLO file embedded, plus a k6-operator TestRun example. fleetload
// builds, vendors and runs no k6 (AGPL): the user's k6 runs the script.
//
// Thresholds: only objectives the script can measure client-side become k6 thresholds — engine-summary objectives on
// device/API/WebSocket latencies, error ratios and client counts. Ledger, PostgreSQL, Prometheus and derived
// objectives, report-only ones and criteria relative to a baseline are listed as not covered. Warning levels have no
// k6 equivalent (a k6 threshold fails the run), so only `pass` criteria become thresholds.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BuildOptions } from 'esbuild';
import { badInput, infraError } from '../core/errors.js';
import { repoRoot } from '../core/repo-root.js';
import type { GeneratorThresholds } from '../engine/health.js';
import { loadSloFile } from '../verify/slo-load.js';
import type { Criterion, Objective, SloFile } from '../verify/slo-types.js';
import type { Formula } from '../verify/formula.js';
import { METRIC } from '../../scenarios/k6/lib/metric-names.js';
import { parseHostPort, XK6_TCP_RELEASE, type BundleSettings, type BundleThreshold } from '../../scenarios/k6/lib/settings.js';
import { parseDurationMs } from './duration.js';
import { fleetConfigFor } from './fleet-plan.js';
import { loadProfile } from './profile.js';
import { newRunId } from './run-id.js';
import { fleetloadVersion } from '../core/version.js';
import { runSeed } from './run.js';

export const K6_BUNDLE_FILE = 'devices.js';
export const K6_TESTRUN_FILE = 'testrun.yaml';
export const K6_THRESHOLDS_FILE = 'thresholds.json';

/** Objectives that did not become thresholds, and why. */
export interface NotCovered {
  objective: string;
  why: string;
}

type Requires = BundleThreshold['requires'];

/**
 * Engine-summary latency blocks and the k6 Trend (milliseconds) that measures the same thing. k6 thresholds on a Trend
 * know avg/min/max/med/p(N) but no count, so a minimum sample count goes on the Counter of the same events (`events`).
 */
const TRENDS: Record<string, { metric: string; events?: string; requires?: Requires }> = {
  ackLatencyMs: { metric: METRIC.ackLatency, events: METRIC.packetsAcked },
  recordLatencyMs: { metric: METRIC.recordLatency, events: METRIC.recordsAcked },
  loginLatencyMs: { metric: METRIC.loginLatency, events: METRIC.logins },
  recoveryMs: { metric: METRIC.recoveryTime },
  sendLagMs: { metric: METRIC.sendLag },
  'api.latencyMs': { metric: METRIC.apiLatency, requires: 'api' },
  'ws.freshnessMs': { metric: METRIC.wsFreshness, requires: 'ws' },
};

/** Engine-summary counts (a sum of exactly these paths) and the k6 Counter that counts the same events. */
const COUNTS: Array<{ paths: string[]; metric: string; requires?: Requires }> = [
  { paths: ['records.sent'], metric: METRIC.recordsSent },
  { paths: ['records.acked'], metric: METRIC.recordsAcked },
  { paths: ['records.unsent'], metric: METRIC.recordsUnsent },
  { paths: ['records.lost'], metric: METRIC.recordsLost },
  { paths: ['outagesUnrecovered'], metric: METRIC.outagesUnrecovered },
  { paths: ['ws.missed'], metric: METRIC.wsMissed, requires: 'ws' },
  { paths: ['ws.errors.refused', 'ws.errors.dropped'], metric: METRIC.wsConnectionFailures, requires: 'ws' },
];

/** Every reason session.ts reports: the k6 Rate counts them all, so only a ratio over all of them maps exactly. */
const DEVICE_ERROR_REASONS = ['connect', 'login_timeout', 'login_rejected', 'ack_timeout', 'ack_mismatch', 'reset', 'closed'];
const API_ERROR_CLASSES = ['4xx', '5xx', 'timeout', 'refused', 'reset', 'other'];

/**
 * Ratios: numerator errors over a denominator, as a k6 Rate. The device Rate takes `true` per error and `false` per
 * packet, so it reads q = e/(e+p) where the SLO means x = e/p; q = x/(1+x) is strictly increasing, so `x < r` holds
 * exactly when `q < r/(1+r)` (`toRate`). The API Rate takes one sample per request: q = x.
 */
const RATIOS: Array<{ numerator: string[]; denominator: string; metric: string; toRate?: (x: number) => number; requires?: Requires }> = [
  { numerator: DEVICE_ERROR_REASONS.map((r) => `errors.${r}`), denominator: 'packets.sent', metric: METRIC.deviceErrorRate, toRate: (x) => x / (1 + x) },
  { numerator: API_ERROR_CLASSES.map((c) => `api.errors.${c}`), denominator: 'api.requests', metric: METRIC.apiErrorRate, requires: 'api' },
];

const sameSet = (a: string[], b: string[]) => a.length === b.length && a.every((x) => b.includes(x));

/** The paths of a sum of plain paths (a + b + c), or undefined when the formula is anything else. */
function sumOfPaths(f: Formula): string[] | undefined {
  if (f.t === 'path') return [f.segments.join('.')];
  if (f.t !== 'bin' || f.op !== '+') return undefined;
  const a = sumOfPaths(f.a);
  const b = sumOfPaths(f.b);
  return a && b ? [...a, ...b] : undefined;
}

/** k6's aggregation for the last segment of a latency path: p95 → p(95), p(99.9) → p(99.9), mean → avg. */
function trendStat(segment: string): string | undefined {
  const p = /^p\(?(\d+(?:\.\d+)?)\)?$/.exec(segment);
  if (p) return `p(${p[1]})`;
  return ({ max: 'max', min: 'min', mean: 'avg', avg: 'avg' } as Record<string, string>)[segment];
}

/**
 * A transformed limit (the device error Rate) is computed in floating point, so at the exact boundary it could round
 * the lenient way: it is moved a relative 1e-12 towards strict (down for < and <=, up for > and >=).
 */
function strictLimit(op: string, v: number, transformed: boolean): number {
  if (!transformed || v === 0) return v;
  if (op.startsWith('<')) return v * (1 - 1e-12);
  if (op.startsWith('>')) return v * (1 + 1e-12);
  return v;
}

function criterionExpressions(m: Measure, c: Criterion): string[] | undefined {
  if (c.kind === 'relative') return undefined;
  const t = m.transformed === true;
  if (c.kind === 'range') return [`${m.agg}>=${strictLimit('>=', m.value(c.low), t)}`, `${m.agg}<=${strictLimit('<=', m.value(c.high), t)}`];
  return [`${m.agg}${c.op}${strictLimit(c.op, m.value(c.value), t)}`];
}

/** What one objective's formula measures, as a k6 metric, aggregation and value mapping. */
interface Measure {
  metric: string;
  agg: string;
  value: (v: number) => number;
  /** value() is not the identity (the limit is computed, not copied) */
  transformed?: boolean;
  requires?: Requires;
  /** at least n events on this Counter (the objective's minSamples) */
  minSamples?: { metric: string; n: number };
}

function measureOf(o: Objective): Measure | string {
  const f = o.formula;
  if (!f) return 'no engine-summary expression';
  if (f.t === 'path' && f.segments.length >= 2) {
    const root = f.segments.slice(0, -1).join('.');
    const trend = TRENDS[root];
    const agg = trendStat(f.segments[f.segments.length - 1]);
    if (trend && agg) {
      // too few samples fails only where no data fails (onNoData: fail); a run without failures has no recovery samples
      const minSamples = o.minSamples !== undefined && o.onNoData === 'fail' && trend.events && o.samplesQuery?.trim() === `${root}.count` ? { metric: trend.events, n: o.minSamples } : undefined;
      return { metric: trend.metric, agg, value: (v) => v, requires: trend.requires, minSamples };
    }
  }
  const sum = sumOfPaths(f);
  if (sum) {
    const count = COUNTS.find((c) => sameSet(c.paths, sum));
    if (count) return { metric: count.metric, agg: 'count', value: (v) => v, requires: count.requires };
  }
  if (f.t === 'bin' && f.op === '/' && f.b.t === 'path') {
    const num = sumOfPaths(f.a);
    const den = f.b.segments.join('.');
    const ratio = RATIOS.find((r) => r.denominator === den && num && sameSet(r.numerator, num));
    if (ratio) return { metric: ratio.metric, agg: 'rate', value: ratio.toRate ?? ((v) => v), transformed: ratio.toRate !== undefined, requires: ratio.requires };
  }
  return `"${o.query}" has no client-side k6 metric`;
}

function requiresOf(o: Objective, m: Measure): Requires {
  if (m.requires) return m.requires;
  if (o.appliesIf === 'api.configured') return 'api';
  if (o.appliesIf === 'ws.configured') return 'ws';
  return undefined;
}

/** The SLO objectives the bundle can judge, as k6 thresholds, and the ones it cannot, with the reason. */
export function sloThresholds(slo: Pick<SloFile, 'objectives'>): { thresholds: BundleThreshold[]; notCovered: NotCovered[] } {
  const thresholds: BundleThreshold[] = [];
  const notCovered: NotCovered[] = [];
  for (const o of slo.objectives) {
    if (o.reportOnly) continue;
    if (o.source !== 'engine' && o.source !== 'k6') {
      notCovered.push({ objective: o.id, why: `source ${o.source}: not measurable inside k6 (judge it with fleetload verify)` });
      continue;
    }
    const m = measureOf(o);
    if (typeof m === 'string') {
      notCovered.push({ objective: o.id, why: m });
      continue;
    }
    const expressions: string[] = [];
    for (const c of o.pass) {
      const e = criterionExpressions(m, c);
      if (!e) {
        expressions.length = 0;
        break;
      }
      expressions.push(...e);
    }
    if (expressions.length === 0) {
      notCovered.push({ objective: o.id, why: 'criterion relative to a baseline' });
      continue;
    }
    const requires = requiresOf(o, m);
    thresholds.push({ objective: o.id, metric: m.metric, expressions, ...(requires ? { requires } : {}) });
    if (m.minSamples) thresholds.push({ objective: o.id, metric: m.minSamples.metric, expressions: [`count>=${m.minSamples.n}`], ...(requires ? { requires } : {}) });
  }
  return { thresholds, notCovered };
}

/** The profile's generator-health limits the bundle can check in k6 (a breach there means the load was not valid). */
export function generatorThresholds(g: GeneratorThresholds): BundleThreshold[] {
  return [
    { objective: 'generator_errors', metric: METRIC.generatorErrors, expressions: [`count<=${g.maxGeneratorErrors}`] },
    { objective: 'generator_send_lag_p95', metric: METRIC.sendLag, expressions: [`p(95)<=${g.maxSendLagP95Ms}`] },
    { objective: 'generator_vu_loop_lag_p99', metric: METRIC.vuLoopLag, expressions: [`p(99)<=${g.maxEventLoopDelayP99Ms}`] },
    { objective: 'generator_dropped_requests', metric: 'dropped_iterations', expressions: [`count<=${g.maxDroppedRequests}`], requires: 'api' },
  ];
}

export interface K6BundleOptions {
  profile: string;
  outDir: string;
  /** baked-in device target; FLEET_TCP at k6 run time overrides it */
  tcp?: string;
  http?: string;
  slo?: string;
  runId?: string;
  devices?: number;
  duration?: string;
  devicesPerVu?: number;
  trendSampleEvery?: number;
  /** test seam: module id → file, bundling k6's modules from these files instead of leaving them to k6 */
  k6Modules?: Record<string, string>;
  log?: (line: string) => void;
}

export interface K6BundleResult {
  script: string;
  testRun: string;
  settings: BundleSettings;
  notCovered: NotCovered[];
}

function checkNumbers(o: K6BundleOptions): void {
  if (o.devices !== undefined && (!Number.isInteger(o.devices) || o.devices < 1)) throw badInput(`--devices: expected a whole number ≥ 1, got ${o.devices}`);
  if (o.devicesPerVu !== undefined && (!Number.isInteger(o.devicesPerVu) || o.devicesPerVu < 1)) throw badInput(`--devices-per-vu: expected a whole number ≥ 1, got ${o.devicesPerVu}`);
  if (o.trendSampleEvery !== undefined && (!Number.isInteger(o.trendSampleEvery) || o.trendSampleEvery < 1)) throw badInput(`--trend-sample-every: expected a whole number ≥ 1, got ${o.trendSampleEvery}`);
}

/** The settings the script embeds: the profile's FleetConfig for this run id, the thresholds and the bundle knobs. */
export function bundleSettings(o: K6BundleOptions): { settings: BundleSettings; notCovered: NotCovered[] } {
  checkNumbers(o);
  const profile = loadProfile(o.profile);
  if (o.devices !== undefined) profile.devices = { ...profile.devices, count: o.devices };
  if (o.duration !== undefined) {
    const ms = parseDurationMs(o.duration);
    if (ms === undefined || ms < 1000) throw badInput(`--duration: expected a duration of at least 1s such as 30s, 5m or 1h, got "${o.duration}"`);
    profile.durationMs = ms;
  }
  const target = o.tcp !== undefined ? parseHostPort(o.tcp) : { host: '', port: 0 };
  if (!target) throw badInput(`--tcp: expected host:port such as 10.0.0.5:5027, got "${o.tcp}"`);
  if (o.http !== undefined && !/^https?:\/\/[^/\s]+/.test(o.http)) throw badInput(`--http: expected http(s)://host:port, got "${o.http}"`);
  const runId = o.runId ?? newRunId(`k6-${profile.name}`);
  const config = fleetConfigFor(profile, runId, { ...target, ...(o.http ? { httpUrl: o.http.replace(/\/$/, '') } : {}) });
  // as `run` and `generate` do: the run id mixes into the seed, so two runs never share IMEIs
  config.seed = runSeed(profile.seed, runId);
  const slo = loadSloFile(o.slo ?? profile.sloFile);
  const fromSlo = sloThresholds(slo);
  const settings: BundleSettings = {
    config,
    // 500 devices per VU: one VU per device costs megabytes each; a 2,500-device VU still keeps its loop lag low
    devicesPerVu: o.devicesPerVu ?? Math.min(500, Math.max(1, config.devices)),
    trendSampleEvery: o.trendSampleEvery ?? 1,
    thresholds: [...fromSlo.thresholds, ...generatorThresholds(profile.generator)],
    profile: profile.name,
    slo: slo.path.startsWith(repoRoot()) ? slo.path.slice(repoRoot().length + 1) : slo.path,
    fleetloadVersion: fleetloadVersion(),
    xk6Tcp: XK6_TCP_RELEASE,
  };
  return { settings, notCovered: fromSlo.notCovered };
}

async function esbuildScript(settings: BundleSettings, k6Modules: Record<string, string> | undefined): Promise<string> {
  // esbuild is a devDependency, loaded only here: the rest of the CLI never needs it (see the commit that added this)
  const esbuild = await import('esbuild').catch((e: unknown) => {
    throw infraError('fleetload k6 bundle needs esbuild (a devDependency): run it from a checkout after `npm ci`', e);
  });
  const options: BuildOptions = {
    entryPoints: [join(repoRoot(), 'scenarios/k6/devices.ts')],
    bundle: true,
    write: false,
    format: 'esm',
    // k6 is not Node: one self-contained ES module, only k6's own modules left for k6 to resolve
    platform: k6Modules ? 'node' : 'neutral',
    target: 'es2020',
    external: k6Modules ? [] : ['k6', 'k6/*'],
    alias: k6Modules ?? {},
    define: { FLEETLOAD_K6_SETTINGS: JSON.stringify(settings) },
    legalComments: 'none',
    logLevel: 'silent',
  };
  const out = await esbuild.build(options);
  return out.outputFiles?.[0]?.text ?? '';
}

function banner(s: BundleSettings, notCovered: NotCovered[]): string {
  const lines = [
    `fleetload k6 bundle: profile ${s.profile}, run ${s.config.runId}, SLO ${s.slo}, fleetload ${s.fleetloadVersion}.`,
    `Needs a k6 v2 build with grafana/xk6-tcp ${s.xk6Tcp}: xk6 build --with github.com/grafana/xk6-tcp@${s.xk6Tcp}`,
    'Run: k6 run -e FLEET_TCP=host:port [-e FLEET_HTTP=http://host:port] [-e FLEET_SUMMARY_FILE=summary.json] devices.js',
    `Every sample is tagged testid=${s.config.runId}. Thresholds from the SLO file:`,
    ...s.thresholds.map((t) => `  ${t.objective}: ${t.metric} ${t.expressions.join(', ')}${t.requires ? ` (when the ${t.requires} clients run)` : ''}`),
    ...(notCovered.length > 0 ? ['Not judged in k6 (use fleetload verify):', ...notCovered.map((n) => `  ${n.objective}: ${n.why}`)] : []),
  ];
  return `${lines.map((l) => `// ${l}`).join('\n')}\n`;
}

/** The k6-operator TestRun example with this bundle's run id and profile filled in. */
export function testRunYaml(s: BundleSettings): string {
  const template = readFileSync(join(repoRoot(), 'scenarios/k6/k6-operator/testrun.yaml'), 'utf8');
  const name = `fleetload-${s.profile}`.toLowerCase().replace(/[^a-z0-9-]+/g, '-').slice(0, 63).replace(/-+$/, '');
  return template.replaceAll('${RUN_ID}', s.config.runId).replaceAll('${TESTRUN_NAME}', name).replaceAll('${XK6_TCP}', s.xk6Tcp);
}

/** Builds the script, and writes devices.js, testrun.yaml and thresholds.json into outDir. */
export async function writeK6Bundle(o: K6BundleOptions): Promise<K6BundleResult> {
  const { settings, notCovered } = bundleSettings(o);
  const script = banner(settings, notCovered) + (await esbuildScript(settings, o.k6Modules));
  const testRun = testRunYaml(settings);
  mkdirSync(o.outDir, { recursive: true });
  writeFileSync(join(o.outDir, K6_BUNDLE_FILE), script);
  writeFileSync(join(o.outDir, K6_TESTRUN_FILE), testRun);
  writeFileSync(join(o.outDir, K6_THRESHOLDS_FILE), `${JSON.stringify({ runId: settings.config.runId, thresholds: settings.thresholds, notCovered }, null, 2)}\n`);
  o.log?.(`wrote ${join(o.outDir, K6_BUNDLE_FILE)} (${Math.round(script.length / 1024)} KiB), ${K6_TESTRUN_FILE} and ${K6_THRESHOLDS_FILE}`);
  o.log?.(`${settings.thresholds.length} thresholds; not judged in k6: ${notCovered.map((n) => n.objective).join(', ') || 'none'}`);
  if (!settings.config.tcpHost) o.log?.('no --tcp: give the target at run time with k6 run -e FLEET_TCP=host:port');
  return { script, testRun, settings, notCovered };
}
