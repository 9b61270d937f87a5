// source: engine — the default SLO file's client-side objectives judged from an engine summary (no servers needed):
// missing fields are no data (never 0), configured clients are never skipped, ratios carry their upper bound.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { EngineSummary } from '../../src/core/engine-summary.js';
import type { RunManifest } from '../../src/core/manifest.js';
import { wilsonUpper, samplesForZero } from '../../src/verify/evaluate.js';
import { loadSloFile, parseSlo } from '../../src/verify/slo-load.js';
import type { SloFile } from '../../src/verify/slo-types.js';
import { runProblems, verifyRun } from '../../src/verify/verify.js';
import { cleanSummary, manifestFor, runFolder, withClients } from './engine-fixture.js';

/** The default SLO file's engine objectives, unchanged. */
function engineSlo(): SloFile {
  const full = loadSloFile();
  return { ...full, objectives: full.objectives.filter((o) => o.source === 'engine') };
}

async function verify(summary: EngineSummary | undefined, manifest: RunManifest = manifestFor(), slo = engineSlo()) {
  const report = await verifyRun({ slo, manifest, runDir: runFolder(summary), prometheusUrl: '' });
  return { report, o: Object.fromEntries(report.objectives.map((x) => [x.id, x])) };
}

describe('source: engine with the default objectives', () => {
  it('a clean device-only run passes; API and WebSocket objectives are not applicable (not scored), saying why', async () => {
    const { report, o } = await verify(cleanSummary());
    expect(o.ack_latency_p95).toMatchObject({ value: 40, status: 'pass', samples: 180 });
    expect(o.ack_latency_p95.why).toContain('(n = 180)');
    expect(o.record_latency_p95).toMatchObject({ value: 60, status: 'pass' });
    expect(o.records_acked).toMatchObject({ value: 180, status: 'report-only' });
    for (const id of ['api_latency_p95', 'api_error_ratio', 'ws_freshness_p95', 'ws_connection_failures', 'ws_missed_records']) {
      expect(o[id], id).toMatchObject({ status: 'no-data', effect: 'none' });
      expect(o[id].why).toMatch(/not applicable.*configured is false/);
    }
    expect(o.recovery_time_max).toMatchObject({ status: 'no-data', effect: 'none' });
    expect(report.verdict).not.toBe('fail');
    expect(report.fleetload).toMatch(/^\d+\.\d+\.\d+/);
    expect(report.slo.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('a renamed or missing field is no data, never 0 (a missing error reason fails the error ratio)', async () => {
    const s = cleanSummary();
    delete (s.errors as Record<string, number>).ack_timeout;
    delete s.ackLatencyMs;
    const { o } = await verify(s);
    // packets were sent, so the value's absence is a broken query or a renamed field: a failure, whatever the policy
    expect(o.device_error_ratio).toMatchObject({ effect: 'fail', value: null });
    expect(o.device_error_ratio.why).toContain('errors.ack_timeout is not in the engine summary');
    expect(o.ack_latency_p95).toMatchObject({ status: 'no-data', effect: 'fail' });
  });

  it('no engine summary at all: every engine objective is no data with the reason', async () => {
    const { o, report } = await verify(undefined);
    expect(o.ack_latency_p95.why).toContain('cannot read the engine summary');
    expect(report.verdict).toBe('fail');
  });

  it('configured API clients with clean traffic pass; 5xx, timeouts and refusals fail the error ratio; 429 is apart', async () => {
    const clean = await verify(withClients(cleanSummary()));
    expect(clean.o.api_latency_p95).toMatchObject({ value: 80, status: 'pass' });
    expect(clean.o.api_error_ratio).toMatchObject({ value: 0, status: 'pass' });
    expect(clean.o.ws_missed_records).toMatchObject({ value: 0, status: 'pass' });

    const s = withClients(cleanSummary());
    s.api.errors = { ...s.api.errors, '5xx': 80, timeout: 15, refused: 5 };
    s.api.throttled = 500;
    const { o } = await verify(s);
    expect(o.api_error_ratio).toMatchObject({ value: 100 / 10_000, status: 'fail' });
    expect(o.api_throttled_ratio).toMatchObject({ value: 0.05, status: 'report-only' });
  });

  it('a configured client that completed nothing fails (never skipped), saying so', async () => {
    const s = withClients(cleanSummary());
    s.api = { ...s.api, requests: 0, succeeded: 0 };
    delete s.api.latencyMs;
    const { o, report } = await verify(s);
    for (const id of ['api_latency_p95', 'api_error_ratio']) {
      expect(o[id], id).toMatchObject({ status: 'no-data', effect: 'fail' });
      expect(o[id].why).toContain('nothing completed');
      expect(o[id].why).toContain('api.configured is true');
    }
    expect(report.verdict).toBe('fail');
  });

  it('appliesIf overrides onNoData: skip for a configured client, and only then', async () => {
    const { slo } = parseSlo(`version: 1\ntotal: { pass: 90, warning: 75 }\nobjectives:\n  - { id: api, description: d, source: engine, query: api.latencyMs.p95, samplesQuery: api.requests, appliesIf: api.configured, onNoData: skip, unit: ms, pass: "< 500" }\n  - { id: acks, description: d, source: engine, query: records.acked, unit: records, pass: "> 0" }\n`, 'skip.yaml');
    const s = withClients(cleanSummary());
    s.api = { ...s.api, requests: 0 };
    delete s.api.latencyMs;
    expect((await verify(s, manifestFor(), slo!)).o.api).toMatchObject({ status: 'no-data', effect: 'fail' });
    const none = await verify(cleanSummary(), manifestFor(), slo!);
    expect(none.o.api).toMatchObject({ status: 'no-data', effect: 'none' });
    expect(none.report.verdict).toBe('pass');
  });

  it('WebSocket refused or dropped connections and missed records fail the WebSocket objectives', async () => {
    const s = withClients(cleanSummary());
    s.ws = { ...s.ws, errors: { ...s.ws.errors, refused: 1, dropped: 1 }, received: 300, missed: 60 };
    const { o } = await verify(s);
    expect(o.ws_connection_failures).toMatchObject({ value: 2, status: 'fail' });
    expect(o.ws_missed_records).toMatchObject({ value: 60, status: 'fail' });
    expect(o.ws_freshness_p95.status).toBe('pass');
  });

  it('zero errors in too few samples is insufficient evidence (a warning naming the samples that would suffice)', async () => {
    const few = withClients(cleanSummary(), 200);
    const { o } = await verify(few);
    expect(o.api_error_ratio).toMatchObject({ value: 0, status: 'warn' });
    expect(o.api_error_ratio.why).toMatch(/insufficient evidence: 0 in 200 samples.*at least 3838 samples/);
    // enough samples: the same zero passes, and states its bound
    const many = await verify(withClients(cleanSummary(), 5000));
    expect(many.o.api_error_ratio.status).toBe('pass');
    expect(many.o.api_error_ratio.why).toMatch(/0 in n = 5000; 95 % upper bound 0\.0007677/);
  });
});

describe('statistics', () => {
  it('Wilson upper bounds', () => {
    expect(wilsonUpper(0, 3838)).toBeLessThan(0.001);
    expect(wilsonUpper(0, 3837)).toBeGreaterThanOrEqual(0.001);
    expect(samplesForZero('<', 0.001)).toBe(3838);
    expect(wilsonUpper(5, 100)).toBeCloseTo(0.1118, 3);
    expect(wilsonUpper(0, 0)).toBe(1);
  });
});

describe('run validity', () => {
  it('an engine that exited non-zero, or reasons recorded in run.json, make the run invalid (also on re-verify)', async () => {
    expect(runProblems(manifestFor(3, { engine: { summaryFile: 'engine-summary.json', exitCode: 2 } }))).toEqual([expect.stringContaining('exited with code 2')]);
    const m = manifestFor(3, { invalidReasons: ['API arrivals dropped: 12 of 1000 (pool full)'] });
    const { report } = await verify(cleanSummary(), m);
    expect(report.verdict).toBe('invalid');
    expect(report.reasons).toContain('invalid run: API arrivals dropped: 12 of 1000 (pool full)');
  });

  it('the engine summary\'s own invalid reasons are applied too', async () => {
    const s = cleanSummary();
    s.generator.invalidReasons = ['event-loop delay p99 120 ms > 50 ms'];
    const { report } = await verify(s);
    expect(report.verdict).toBe('invalid');
    expect(report.reasons.join('\n')).toContain('event-loop delay p99 120 ms');
  });

  it('the deprecated k6 alias still reads an old run folder\'s k6 summary', async () => {
    const { slo } = parseSlo(`version: 1\ntotal: { pass: 90, warning: 75 }\nobjectives:\n  - { id: a, description: d, source: k6, query: metrics.fleet_ack_latency.values.p(95), unit: ms, pass: "< 1000" }\n`, 'k6.yaml');
    const dir = runFolder(undefined);
    writeFileSync(join(dir, 'k6-summary.json'), JSON.stringify({ metrics: { fleet_ack_latency: { values: { 'p(95)': 12 } } } }));
    const m: RunManifest = { ...manifestFor(), engine: undefined, k6: { exitCode: 0, summaryFile: 'k6-summary.json' } };
    const report = await verifyRun({ slo: slo!, manifest: m, runDir: dir, prometheusUrl: '' });
    expect(report.objectives[0]).toMatchObject({ value: 12, status: 'pass' });
  });
});
