// `fleetload k6 bundle`: the script teams run on their own k6 build with grafana/xk6-tcp. k6 itself is never run here
// (fleetload builds and runs no k6). What is proven instead:
// - the production bundle is one ES module that imports only k6's own modules, nothing from Node, and names the
//   xk6-tcp release; the k6 sources type-check against @types/k6 with no Node types;
// - thresholds come from the SLO file exactly (including the device error ratio's Rate transform);
// - the bundle's device loop, bundled with TEST DOUBLES of k6/x/tcp, k6/metrics, k6/timers and k6/execution
//   (test/k6-bundle/doubles), drives real devices against a real Teltonika test server: records sent = ACKed =
//   what the server received, every IMEI once, every socket destroyed.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { imeiForIndex } from '../../src/protocol/teltonika/index.js';
import { K6_BUNDLE_FILE, sloThresholds, writeK6Bundle } from '../../src/run/k6-bundle.js';
import { parseSlo } from '../../src/verify/slo-load.js';
import { METRIC } from '../../scenarios/k6/lib/metric-names.js';
import { startTeltonikaServer, type TestServer } from '../scenarios/teltonika-server.js';
import { counterSum, k6Double, resetK6Double, sampleCount } from './doubles/state.js';

const root = join(import.meta.dirname, '../..');
const doubles = join(import.meta.dirname, 'doubles');
const K6_DOUBLES: Record<string, string> = {
  'k6/x/tcp': join(doubles, 'tcp.ts'),
  'k6/metrics': join(doubles, 'metrics.ts'),
  'k6/timers': join(doubles, 'timers.ts'),
  'k6/execution': join(doubles, 'execution.ts'),
  'k6/http': join(doubles, 'unavailable.ts'),
  'k6/websockets': join(doubles, 'unavailable.ts'),
};

let tmp: string;
beforeAll(() => {
  // k6's global for -e variables; the device-loop test passes its target with --tcp instead
  (globalThis as { __ENV?: Record<string, string> }).__ENV = {};
  tmp = mkdtempSync(join(tmpdir(), 'fleetload-k6-bundle-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Module specifiers of every static/dynamic import and require in a bundle. */
function importedModules(js: string): string[] {
  const out = new Set<string>();
  const patterns = [/^\s*(?:import|export)\s+(?:[^'";]*?\s+from\s+)?["']([^"']+)["']/gm, /\bimport\s*\(\s*["']([^"']+)["']/g, /\brequire\s*\(\s*["']([^"']+)["']/g];
  for (const re of patterns) for (const m of js.matchAll(re)) out.add(m[1]);
  return [...out];
}

describe('the production bundle', () => {
  let script: string;
  let testRun: string;
  beforeAll(async () => {
    const r = await writeK6Bundle({ profile: 'smoke', outDir: join(tmp, 'prod'), runId: 'k6b-prod-1' });
    script = readFileSync(join(tmp, 'prod', K6_BUNDLE_FILE), 'utf8');
    testRun = r.testRun;
  });

  it('imports only k6 modules, nothing from Node, and names the xk6-tcp release it is written for', () => {
    const mods = importedModules(script);
    expect(mods.sort()).toEqual(['k6/execution', 'k6/http', 'k6/metrics', 'k6/timers', 'k6/websockets', 'k6/x/tcp']);
    expect(script).not.toMatch(/node:/);
    expect(script).not.toMatch(/\brequire\(/);
    expect(script).not.toMatch(/\bBuffer\b|\bprocess\.|__dirname/);
    expect(script).toContain('github.com/grafana/xk6-tcp@v0.3.1');
  });

  it('embeds the run id as the testid tag and the resolved fleet config once', () => {
    expect(script.split('runId: "k6b-prod-1"').length - 1).toBe(1);
    expect(script).toContain('testid: c.runId');
  });

  it('ships a k6-operator TestRun with the run filled in', () => {
    const doc = parseYaml(testRun) as { apiVersion: string; kind: string; metadata: { name: string }; spec: { script: { configMap: { file: string } }; runner: { env: Array<{ name: string }> } } };
    expect(doc.kind).toBe('TestRun');
    expect(doc.apiVersion).toBe('k6.io/v1alpha1');
    expect(doc.metadata.name).toBe('fleetload-smoke');
    expect(doc.spec.script.configMap.file).toBe('devices.js');
    expect(doc.spec.runner.env.map((e) => e.name)).toContain('FLEET_TCP');
    expect(testRun).toContain('testid=k6b-prod-1');
    expect(testRun).not.toMatch(/\$\{[A-Z_]+\}/);
  });

  it('type-checks against @types/k6 with no Node types', async () => {
    const tsc = join(root, 'node_modules/.bin/tsc');
    await expect(promisify(execFile)(tsc, ['--noEmit', '-p', join(root, 'scenarios/k6/tsconfig.json')], { cwd: root })).resolves.toBeDefined();
  }, 120_000);
});

describe('thresholds from the SLO file', () => {
  const slo = (objectives: string) => {
    const { slo: s, issues } = parseSlo(`version: 1\ntotal: { pass: 90, warning: 75 }\nobjectives:\n${objectives}`, 'test-slo.yaml');
    if (!s) throw new Error(issues.map((i) => i.message).join('; '));
    return s;
  };

  it('maps client-side objectives to k6 thresholds and lists the others as not covered', () => {
    const r = sloThresholds(
      slo(`
  - { id: ack, description: d, source: engine, query: ackLatencyMs.p95, samplesQuery: ackLatencyMs.count, minSamples: 10, unit: ms, pass: "< 1000", warning: "< 2000" }
  - { id: login99, description: d, source: engine, query: loginLatencyMs.p(99.9), unit: ms, pass: "250..900" }
  - { id: errs, description: d, source: engine, query: (errors.connect + errors.login_timeout + errors.login_rejected + errors.ack_timeout + errors.ack_mismatch + errors.reset + errors.closed) / packets.sent, unit: ratio, pass: "< 0.25" }
  - { id: some_errs, description: d, source: engine, query: errors.reset / packets.sent, unit: ratio, pass: "< 0.25" }
  - { id: api_errs, description: d, source: engine, query: (api.errors.4xx + api.errors.5xx + api.errors.timeout + api.errors.refused + api.errors.reset + api.errors.other) / api.requests, appliesIf: api.configured, unit: ratio, pass: "< 0.01" }
  - { id: ws_fail, description: d, source: engine, query: ws.errors.refused + ws.errors.dropped, appliesIf: ws.configured, unit: connections, pass: "== 0" }
  - { id: recovery, description: d, source: engine, query: recoveryMs.max, samplesQuery: recoveryMs.count, minSamples: 1, onNoData: skip, unit: ms, pass: "< 60000" }
  - { id: ledger_missing, description: d, source: ledger, query: missing, unit: records, pass: "== 0" }
  - { id: sent, description: d, source: engine, query: records.sent, unit: records, reportOnly: true }
`),
    );
    expect(r.thresholds).toEqual([
      { objective: 'ack', metric: METRIC.ackLatency, expressions: ['p(95)<1000'] },
      // k6 has no count on a Trend: the minimum sample count goes on the Counter of the same events
      { objective: 'ack', metric: METRIC.packetsAcked, expressions: ['count>=10'] },
      { objective: 'login99', metric: METRIC.loginLatency, expressions: ['p(99.9)>=250', 'p(99.9)<=900'] },
      // errors/packets < 0.25  <=>  errors/(errors+packets) < 0.25/1.25 = 0.2 (moved 1e-12 towards strict)
      { objective: 'errs', metric: METRIC.deviceErrorRate, expressions: [`rate<${0.2 * (1 - 1e-12)}`] },
      { objective: 'api_errs', metric: METRIC.apiErrorRate, expressions: ['rate<0.01'], requires: 'api' },
      { objective: 'ws_fail', metric: METRIC.wsConnectionFailures, expressions: ['count==0'], requires: 'ws' },
      // no samples is not a failure here (a run without failures recovers from none): no count>= threshold
      { objective: 'recovery', metric: METRIC.recoveryTime, expressions: ['max<60000'] },
    ]);
    expect(r.notCovered.map((n) => n.objective)).toEqual(['some_errs', 'ledger_missing']);
  });

  it('the device error Rate agrees with the SLO ratio: q = e/(e+p) < r/(1+r) exactly when e/p < r, boundary included', () => {
    const { thresholds } = sloThresholds(
      slo(`  - { id: errs, description: d, source: engine, query: (errors.connect + errors.login_timeout + errors.login_rejected + errors.ack_timeout + errors.ack_mismatch + errors.reset + errors.closed) / packets.sent, unit: ratio, pass: "< 0.001" }\n`),
    );
    const limit = Number(/rate<(.+)/.exec(thresholds[0].expressions[0])?.[1]);
    for (const [e, p] of [[1, 1000], [1, 1001], [1, 999], [3, 3000], [7, 7000], [999, 999_000], [7, 100_000], [10, 9_999], [0, 5]]) expect(e / (e + p) < limit).toBe(e / p < 0.001);
  });

  it('the default SLO file gives at least the ACK latency p95 threshold', async () => {
    const r = await writeK6Bundle({ profile: 'smoke', outDir: join(tmp, 'thr'), runId: 'k6b-thr-1' });
    expect(r.settings.thresholds).toContainEqual(expect.objectContaining({ objective: 'ack_latency_p95', metric: METRIC.ackLatency, expressions: expect.arrayContaining(['p(95)<1000']) }));
    expect(r.notCovered.map((n) => n.objective)).toContain('records_missing');
  });
});

interface BundleModule {
  options: { scenarios: Record<string, { vus?: number; exec?: string }>; thresholds: Record<string, string[]>; tags: Record<string, string> };
  setup(): void;
  devices(): Promise<void>;
  handleSummary(data: unknown): Record<string, string>;
}

/** One k6 VU: its own copy of the script's modules (as k6 gives each VU), its iteration started with these facts. */
async function runVu(file: string, vu: number, iterationInTest: number, startTime: number): Promise<void> {
  const mod = (await import(`${pathToFileURL(file).href}?vu=${vu}`)) as BundleModule;
  k6Double.exec = { scenario: { name: 'step_1', iterationInTest, startTime }, vu: { idInTest: vu } };
  // devices() reads the execution facts before its first await, so the next VU may change them right after
  await mod.devices();
}

describe('the device loop over the k6/x/tcp test double, against a real Teltonika server', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTeltonikaServer((_p, nth) => (nth === 7 ? 'reset' : 'ack'));
  });
  afterAll(() => server.close());

  it('records sent = ACKed = what the server received; every IMEI once per session; every socket destroyed', async () => {
    resetK6Double();
    const outDir = join(tmp, 'double');
    const r = await writeK6Bundle({
      profile: 'smoke',
      outDir,
      runId: 'k6b-loop-1',
      devices: 6,
      duration: '3s',
      devicesPerVu: 4,
      tcp: `127.0.0.1:${server.port}`,
      k6Modules: K6_DOUBLES,
    });
    const file = join(outDir, K6_BUNDLE_FILE);
    const first = (await import(`${pathToFileURL(file).href}?vu=0`)) as BundleModule;
    expect(first.options.scenarios.step_1).toMatchObject({ exec: 'devices', vus: 2 });
    expect(Object.keys(first.options.scenarios)).toEqual(['step_1']); // no FLEET_HTTP: no API/WebSocket clients
    expect(first.options.tags).toEqual({ testid: 'k6b-loop-1' });
    expect(first.options.thresholds[METRIC.ackLatency]).toContain('p(95)<1000');
    first.setup();
    // every threshold uses an aggregation k6 accepts for its metric's type (k6 refuses to start otherwise)
    const allowed: Record<string, RegExp> = { counter: /^(count|rate)$/, gauge: /^value$/, rate: /^rate$/, trend: /^(avg|min|max|med|p\(\d+(\.\d+)?\))$/ };
    for (const t of r.settings.thresholds) {
      if (t.metric === 'dropped_iterations') continue; // k6's own counter
      const type = k6Double.metrics.get(t.metric)?.type;
      expect(type, `${t.objective}: ${t.metric} is a metric of the script`).toBeDefined();
      for (const e of t.expressions) expect(/^([a-z]+(?:\([\d.]+\))?)\s*(<=|>=|==|!=|<|>)/.exec(e)?.[1], `${t.objective}: ${e} on a ${type}`).toMatch(allowed[type ?? '']);
    }

    const start = Date.now();
    await Promise.all([runVu(file, 1, 0, start), runVu(file, 2, 1, start)]);

    const received = server.packets.reduce((a, p) => a + p.records.length, 0);
    const distinct = new Set(server.packets.flatMap((p) => p.records.map((rec) => `${p.imei}/${rec.timestamp}`))).size;
    const sent = counterSum(METRIC.recordsSent);
    const acked = counterSum(METRIC.recordsAcked);
    const resent = counterSum(METRIC.recordsResent);
    expect(sent).toBeGreaterThanOrEqual(6 * 2);
    expect(acked).toBe(sent);
    expect(distinct).toBe(sent);
    expect(received).toBe(sent + resent); // the reset packet came again on a new connection
    expect(counterSum(METRIC.deviceErrors, ['reason', 'reset'])).toBe(1);
    expect(counterSum(METRIC.recordsUnsent) + counterSum(METRIC.generatorErrors)).toBe(0);
    expect(server.imeis()).toEqual(new Set(Array.from({ length: 6 }, (_, i) => imeiForIndex(r.settings.config.seed, i))));
    expect(sampleCount(METRIC.ackLatency)).toBe(counterSum(METRIC.packetsAcked));
    expect(k6Double.openSockets.size).toBe(0);
    expect([...k6Double.writeKinds.keys()]).toEqual(['arraybuffer']);

    const out = first.handleSummary({ metrics: { [METRIC.recordsSent]: { values: { count: sent } }, [METRIC.ackLatency]: { thresholds: { 'p(95)<1000': { ok: true } } } } });
    expect(out.stdout).toMatch(/ok\s+ack_latency_p95: fleet_ack_latency p\(95\)<1000/);
  }, 60_000);
});
