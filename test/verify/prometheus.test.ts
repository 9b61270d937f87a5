// Real Prometheus (Debian's binary via src/stack/prometheus.ts) scraping a tiny metrics server we control.
import { createServer, type Server } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode, FleetloadError } from '../../src/core/errors.js';
import { startPrometheus, type RunningPrometheus } from '../../src/stack/prometheus.js';
import { freePort } from '../../src/stack/ports.js';
import { prometheusClient } from '../../src/verify/evidence-prometheus.js';
import { loadSloFile, parseSlo } from '../../src/verify/slo-load.js';
import { validateSloAgainst } from '../../src/verify/validate.js';
import { verifyRun } from '../../src/verify/verify.js';
import type { RunManifest } from '../../src/core/manifest.js';
import type { SloFile } from '../../src/verify/slo-types.js';

let prom: RunningPrometheus;
let server: Server;
let t0: Date;
/** When Prometheus had scraped the server at least once: windows start after this. */
let scraping: Date;
const RUN = 'prom-test-1';

/** Metrics that move with time: 50 records/s received, 10 batch inserts/s all between 25 and 50 ms. */
function metricsText(): string {
  const s = (Date.now() - t0.getTime()) / 1000;
  const received = Math.floor(s * 50);
  const batches = Math.floor(s * 10);
  const buckets = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5];
  const lines = [
    '# TYPE telemetry_records_received_total counter',
    `telemetry_records_received_total ${received}`,
    '# TYPE flat_total counter',
    'flat_total 0',
    '# TYPE db_batch_insert_duration_seconds histogram',
    ...buckets.map((le) => `db_batch_insert_duration_seconds_bucket{le="${le}"} ${le >= 0.05 ? batches : 0}`),
    `db_batch_insert_duration_seconds_bucket{le="+Inf"} ${batches}`,
    `db_batch_insert_duration_seconds_sum ${batches * 0.04}`,
    `db_batch_insert_duration_seconds_count ${batches}`,
    '# TYPE idle_seconds histogram',
    'idle_seconds_bucket{le="1"} 0',
    'idle_seconds_bucket{le="+Inf"} 0',
    'idle_seconds_count 0',
    'idle_seconds_sum 0',
    '# TYPE http_requests_total counter',
    `http_requests_total{route="/v1/x",status="200"} ${batches * 10}`,
    `http_requests_total{route="/v1/x",status="500"} ${batches}`,
    '# TYPE k6_fleet_ack_latency_p95 gauge',
    `k6_fleet_ack_latency_p95{testid="${RUN}",scenario="devices"} 0.25`,
    `k6_fleet_ack_latency_p95{testid="other-run",scenario="devices"} 9`,
    '# TYPE multi gauge',
    'multi{a="1"} 1',
    'multi{a="2"} 2',
  ];
  return `${lines.join('\n')}\n`;
}

beforeAll(async () => {
  t0 = new Date();
  server = createServer((req, res) => {
    res.setHeader('content-type', 'text/plain; version=0.0.4');
    res.end(metricsText());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  prom = await startPrometheus({ scrapeTargets: [{ job: 'fleet-platform', address: `127.0.0.1:${port}` }], scrapeIntervalSec: 1 });
  // wait for enough scrapes that increase() over the window has several points
  const client = prometheusClient(prom.url);
  for (let i = 0; i < 100; i++) {
    const m = await client.query('count_over_time(up{job="fleet-platform"}[1m])', new Date(), 'warm-up');
    if ((m.value ?? 0) >= 1 && !scraping) scraping = new Date();
    if ((m.value ?? 0) >= 6) break;
    await new Promise((r) => setTimeout(r, 250));
  }
}, 60_000);

afterAll(async () => {
  await prom?.stop();
  await new Promise((r) => server?.close(r));
});

const manifest = (start: Date, end: Date): RunManifest => ({
  runId: RUN,
  profile: 'test',
  seed: 1,
  startedAt: start.toISOString(),
  endedAt: end.toISOString(),
  stages: [
    { name: 'first', start: start.toISOString(), end: new Date((start.getTime() + end.getTime()) / 2).toISOString(), devices: 1 },
    { name: 'second', start: new Date((start.getTime() + end.getTime()) / 2).toISOString(), end: end.toISOString(), devices: 1 },
  ],
  devices: 1,
  imeis: ['356307042441013'],
  target: { tcp: '127.0.0.1:5027', embedded: true },
  prometheus: { url: prom.url },
  versions: { prometheus: prom.version },
  k6: { exitCode: 0, summaryFile: 'k6-summary.json' },
});

function sloOf(objectives: string[]): SloFile {
  const text = `version: 1\ntotal: { pass: 90, warning: 75 }\nobjectives:\n${objectives.map((o) => `  - ${o}`).join('\n')}\n`;
  const { slo, issues } = parseSlo(text, 'prom-test.yaml');
  if (!slo) throw new Error(issues.map((i) => `${i.line} ${i.field}: ${i.message}`).join('\n'));
  return slo;
}

function runDir(summary: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'fleetload-verify-'));
  writeFileSync(join(dir, 'k6-summary.json'), JSON.stringify(summary));
  return dir;
}

describe('verify against a real Prometheus', () => {
  it('measures counters, histograms, k6 gauges, derived values and stage windows over the run window', async () => {
    const end = new Date(Date.now() - 500);
    const start = new Date(scraping.getTime());
    const slo = sloOf([
      `{ id: received, description: d, source: prometheus, unit: records, pass: "> 0", stages: true, query: 'sum(increase(telemetry_records_received_total{job="fleet-platform"}[\${duration}]))' }`,
      `{ id: batch_p95, description: d, source: prometheus, unit: s, pass: "<= 0.05", query: 'histogram_quantile(0.95, sum by (le) (increase(db_batch_insert_duration_seconds_bucket{job="fleet-platform"}[\${duration}])))', samplesQuery: 'sum(increase(db_batch_insert_duration_seconds_count{job="fleet-platform"}[\${duration}]))' }`,
      `{ id: ack_p95_rw, description: d, source: prometheus, unit: s, pass: "< 1", query: 'max(last_over_time(k6_fleet_ack_latency_p95{testid="\${runId}"}[\${duration}]))' }`,
      `{ id: api_errors, description: d, source: prometheus, unit: ratio, pass: "< 0.001", warning: "< 0.5", query: '(sum(increase(http_requests_total{route=~"/v1/.*",status=~"5.."}[\${duration}])) or vector(0)) / sum(increase(http_requests_total{route=~"/v1/.*"}[\${duration}]))' }`,
      `{ id: acked, description: d, source: k6, unit: records, reportOnly: true, query: metrics.fleet_records_acked.values.count }`,
      `{ id: rate, description: d, source: derived, unit: records/s, pass: "10..100", stages: true, query: '\${received} / \${duration}' }`,
    ]);
    const report = await verifyRun({ slo, manifest: manifest(start, end), runDir: runDir({ metrics: { fleet_records_acked: { values: { count: 123 } } } }), prometheusUrl: prom.url });
    const by = Object.fromEntries(report.objectives.map((o) => [o.id, o]));
    expect(by.received.status).toBe('pass');
    expect(by.received.value).toBeGreaterThan(50);
    expect(by.received.query).toMatch(/\[\d+s\]\)\)$/);
    expect(by.batch_p95.value).toBeGreaterThan(0.025);
    expect(by.batch_p95.value).toBeLessThanOrEqual(0.05);
    expect(by.batch_p95.samples).toBeGreaterThan(0);
    expect(by.ack_p95_rw.value).toBe(0.25); // only this run's testid, in seconds
    expect(by.api_errors.value).toBeCloseTo(1 / 11, 2);
    expect(by.api_errors.status).toBe('warn');
    expect(by.acked).toMatchObject({ value: 123, status: 'report-only' });
    expect(by.rate.value).toBeGreaterThan(40);
    expect(by.rate.value).toBeLessThan(60);
    expect(by.rate.status).toBe('pass');
    expect(by.received.stages?.map((s) => s.name)).toEqual(['first', 'second']);
    expect(by.received.stages?.every((s) => s.status === 'pass' && (s.value ?? 0) > 0)).toBe(true);
    expect(by.rate.stages?.every((s) => s.value !== null)).toBe(true);
    // 4 passes + 1 warn over 5 counted objectives = 90 = the pass threshold
    expect(report).toMatchObject({ verdict: 'pass', score: 90 });
    expect(report.window.durationSeconds).toBeCloseTo((end.getTime() - start.getTime()) / 1000, 3);
  });

  it('empty results, NaN and +Inf (zero denominator) are no data under the policy, never a pass', async () => {
    const slo = sloOf([
      `{ id: empty, description: d, source: prometheus, unit: x, pass: ">= 0", query: 'sum(no_such_metric_total)' }`,
      `{ id: nan, description: d, source: prometheus, unit: s, pass: "< 1", onNoData: warn, query: 'histogram_quantile(0.95, sum by (le) (increase(idle_seconds_bucket[\${duration}])))' }`,
      `{ id: inf, description: d, source: prometheus, unit: ratio, pass: "< 1", onNoData: pass, query: 'sum(increase(telemetry_records_received_total[\${duration}])) / sum(increase(flat_total[\${duration}]))' }`,
      `{ id: ok, description: d, source: prometheus, unit: x, pass: "> 0", query: 'sum(up)' }`,
    ]);
    const report = await verifyRun({ slo, manifest: manifest(scraping, new Date()), runDir: runDir({}), prometheusUrl: prom.url });
    const by = Object.fromEntries(report.objectives.map((o) => [o.id, o]));
    expect(by.empty).toMatchObject({ status: 'no-data', effect: 'fail', value: null });
    expect(by.empty.why).toContain('empty result');
    expect(by.nan).toMatchObject({ status: 'no-data', effect: 'warn' });
    expect(by.nan.why).toContain('NaN');
    expect(by.inf).toMatchObject({ status: 'no-data', effect: 'pass' });
    expect(by.inf.why).toContain('Infinity');
    expect(report.verdict).toBe('fail');
  });

  it('a query returning several series is an error naming the objective', async () => {
    const slo = sloOf([`{ id: many, description: d, source: prometheus, unit: x, pass: "> 0", query: 'multi' }`]);
    const err = await verifyRun({ slo, manifest: manifest(t0, new Date()), runDir: runDir({}), prometheusUrl: prom.url }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FleetloadError);
    expect((err as FleetloadError).exitCode).toBe(ExitCode.BadInput);
    expect((err as Error).message).toMatch(/objective many \(prom-test\.yaml:4\).*2 series/);
  });

  it('a query Prometheus rejects is an infrastructure error (exit 3), never a pass', async () => {
    const slo = sloOf([`{ id: broken, description: d, source: prometheus, unit: x, pass: "> 0", query: 'sum(rate(up[\${duration}]' }`]);
    const err = await verifyRun({ slo, manifest: manifest(t0, new Date()), runDir: runDir({}), prometheusUrl: prom.url }).catch((e: unknown) => e);
    expect((err as FleetloadError).exitCode).toBe(ExitCode.Infrastructure);
    expect((err as Error).message).toContain('objective broken');
  });
});

describe('exact counter deltas and evidence coverage', () => {
  it('exact_increase is an integer from the window edges, equal to the counter\'s values there', async () => {
    const start = new Date(scraping.getTime() + 1500);
    const end = new Date(Date.now() - 300);
    const slo = sloOf([
      `{ id: exact, description: d, source: prometheus, unit: records, pass: "> 0", query: 'exact_increase(telemetry_records_received_total{job="fleet-platform"})' }`,
      `{ id: extrapolated, description: d, source: prometheus, unit: records, reportOnly: true, query: 'sum(increase(telemetry_records_received_total{job="fleet-platform"}[\${duration}]))' }`,
      `{ id: renamed, description: d, source: prometheus, unit: records, pass: ">= 0", query: 'exact_increase(telemetry_records_recieved_total{job="fleet-platform"})' }`,
    ]);
    const report = await verifyRun({ slo, manifest: manifest(start, end), runDir: runDir({}), prometheusUrl: prom.url });
    const by = Object.fromEntries(report.objectives.map((o) => [o.id, o]));
    const client = prometheusClient(prom.url);
    const at = async (t: Date) => (await client.query('telemetry_records_received_total{job="fleet-platform"}', t, 'edge')).value!;
    expect(by.exact.value).toBe((await at(end)) - (await at(start)));
    expect(Number.isInteger(by.exact.value)).toBe(true);
    expect(by.exact.status).toBe('pass');
    expect(by.extrapolated.value).not.toBeNull(); // increase() extrapolates to the edges: shown for contrast only
    expect(by.renamed).toMatchObject({ status: 'no-data', effect: 'fail' });
    expect(by.renamed.why).toContain('no series matched');
    expect(report.reasons.join('\n')).not.toContain('Prometheus evidence incomplete');
  });

  it('a window Prometheus did not scrape makes the run invalid, naming the gap; the same objectives over a covered window are judged', async () => {
    const slo = sloOf([`{ id: up, description: d, source: prometheus, unit: x, pass: "> 0", query: 'sum(up{job="fleet-platform"})' }`]);
    const before = new Date(t0.getTime() - 60_000);
    const r = await verifyRun({ slo, manifest: manifest(before, new Date()), runDir: runDir({}), prometheusUrl: prom.url });
    expect(r.verdict).toBe('invalid');
    const reasons = r.reasons.join('\n');
    expect(reasons).toMatch(/job "fleet-platform" \(127\.0\.0\.1:\d+\): no successful scrape from .* \(\d+\.\d s > 3 × the 1 s scrape interval\)/);
    expect(reasons).toMatch(/successful scrapes of \d+ expected in the window \(\d+\.\d % < 95 %\)/);
    const ok = await verifyRun({ slo, manifest: manifest(scraping, new Date()), runDir: runDir({}), prometheusUrl: prom.url });
    expect(ok.verdict).toBe('pass');
  });
});

describe('validateSloAgainst (before any load)', () => {
  it('sends every PromQL expression to the Prometheus parser; a parse error is bad input naming file:line and field', async () => {
    await expect(validateSloAgainst({ slo: { ...loadSloFile(), objectives: loadSloFile().objectives.filter((o) => o.source === 'prometheus') }, prometheusUrl: prom.url })).resolves.toBeUndefined();
    const slo = sloOf([
      `{ id: fine, description: d, source: prometheus, unit: x, pass: "> 0", query: 'sum(up{job="fleet-platform"})' }`,
      `{ id: broken, description: d, source: prometheus, unit: x, pass: "> 0", query: 'sum(rate(up[\${duration}])' }`,
      `{ id: badsel, description: d, source: prometheus, unit: x, pass: "> 0", query: 'exact_increase(x_total{job=})' }`,
    ]);
    const err = await validateSloAgainst({ slo, prometheusUrl: prom.url }).catch((e: unknown) => e);
    expect((err as FleetloadError).exitCode).toBe(ExitCode.BadInput);
    const msg = (err as Error).message;
    expect(msg).toMatch(/prom-test\.yaml:5: objectives\[1\] \(broken\)\.query: Prometheus rejects it/);
    expect(msg).toMatch(/prom-test\.yaml:6: objectives\[2\] \(badsel\)\.query/);
    expect(msg).not.toContain('(fine)');
  });
});

describe('Prometheus unreachable', () => {
  it('is an infrastructure error (exit 3) naming the redacted URL', async () => {
    const port = await freePort();
    const slo = sloOf([`{ id: up, description: d, source: prometheus, unit: x, pass: "> 0", query: 'sum(up)' }`]);
    const m = { ...manifest(new Date(Date.now() - 10_000), new Date()), prometheus: { url: `http://127.0.0.1:${port}` } };
    const err = await verifyRun({ slo, manifest: m, runDir: runDir({}), prometheusUrl: `http://admin:s3cret@127.0.0.1:${port}` }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FleetloadError);
    expect((err as FleetloadError).exitCode).toBe(ExitCode.Infrastructure);
    expect((err as Error).message).toContain('unreachable');
    expect((err as Error).message).not.toContain('s3cret');
  });
});
