import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { betterFromTarget, classify, compareWithBaseline, renderCompareMarkdown } from '../../src/report/compare.js';
import { writeHtmlReports } from '../../src/report/html/index.js';
import { writeSeries } from '../../src/report/series.js';
import { ENGINE_SUMMARY_FORMAT, type EngineSummary, type LatencyFigures } from '../../src/core/engine-summary.js';
import { syntheticManifest, syntheticSeries } from '../capacity/synthetic.js';

const lat = (p95: number): LatencyFigures => ({ count: 1000, min: p95 / 10, mean: p95 / 2, p50: p95 / 2, p90: p95 * 0.9, p95, p99: p95 * 2, max: p95 * 3 });

/** An engine-summary.json as the engine writes it (src/core/engine-summary.ts), with the figures a comparison reads. */
function engineSummary(runId: string, ackP95: number, errors: number, api?: { requests: number; errors5xx: number; p95: number }): EngineSummary {
  const m = syntheticManifest();
  return {
    format: ENGINE_SUMMARY_FORMAT, version: 1, runId, seed: 1, fleetload: 'test', loadStart: m.startedAt, loadEnd: m.endedAt, stages: m.stages,
    shard: { index: 1, count: 1 }, devices: { planned: 800, connectedPeak: 800 },
    records: { sent: 1000, acked: 1000 - errors, resent: errors, unsent: 0, lost: 0 }, packets: { sent: 1000, acked: 1000 - errors },
    logins: 800, reconnects: 0, connects: 800, disconnects: 800, keepAlives: 0,
    errors: { connect: 0, login_timeout: 0, login_rejected: 0, ack_timeout: errors, ack_mismatch: 0, reset: 0, closed: 0 },
    linkOutages: { drop: 0, storm: 0 }, outagesUnrecovered: 0,
    ackLatencyMs: lat(ackP95), recordLatencyMs: lat(ackP95 * 1.5), loginLatencyMs: lat(20),
    api: {
      configured: api !== undefined, offered: api?.requests ?? 0, requests: api?.requests ?? 0, succeeded: (api?.requests ?? 0) - (api?.errors5xx ?? 0),
      errors: { '4xx': 0, '5xx': api?.errors5xx ?? 0, timeout: 0, refused: 0, reset: 0, other: 0 }, throttled: 0, dropped: 0,
      ...(api ? { latencyMs: lat(api.p95) } : {}), byEndpoint: {},
    },
    ws: { configured: false, clients: 0, connected: 0, errors: {}, messages: 0, expected: 0, received: 0, missed: 0 },
    generator: { workers: 1, rssPeakBytes: 1e8, cpuSeconds: 10, cpuShareOfMachine: 0.1, cores: 2, eventLoopDelayP99MaxMs: 5, generatorErrors: 0, invalidReasons: [] },
    ledger: { files: [], entries: 0, records: 0 }, histograms: {},
  };
}

function runFolder(root: string, name: string, ackP95: number, errors: number, status: string, api?: { requests: number; errors5xx: number; p95: number }) {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'run.json'), JSON.stringify({ ...syntheticManifest(), runId: name }));
  const obj = (id: string, value: number, target: string, st = 'pass') => ({ id, description: id, source: 'k6', value, unit: 'ms', target, status: st, key: false, weight: 1, score: 1, why: '' });
  writeFileSync(
    join(dir, 'report.json'),
    JSON.stringify({ verdict: status === 'fail' ? 'fail' : 'pass', runId: name, profile: 'capacity', window: {}, score: 100, reasons: [], objectives: [obj('ack_latency_p95', ackP95, '< 1000', status), obj('missing_records', errors, '== 0'), obj('received_vs_acked', 0.99, '>= 0.98')], versions: {}, generatedAt: '' }),
  );
  writeFileSync(join(dir, 'engine-summary.json'), JSON.stringify(engineSummary(name, ackP95, errors, api)));
  writeSeries(dir, { ...syntheticSeries(), runId: name });
  return dir;
}

describe('compare', () => {
  it('derives direction from the target and flags beyond the noise band', () => {
    expect(betterFromTarget('< 1000')).toBe('lower');
    expect(betterFromTarget('>= 0.98')).toBe('higher');
    expect(betterFromTarget('== 0')).toBe('neutral');
    expect(classify(100, 109, 'lower', 10).flag).toBe('within-noise');
    expect(classify(100, 111, 'lower', 10).flag).toBe('regressed');
    expect(classify(100, 80, 'lower', 10).flag).toBe('improved');
    expect(classify(100, 120, 'higher', 10).flag).toBe('improved');
    expect(classify(0, 3, 'neutral', 10).flag).toBe('changed');
    expect(classify(100, 111, 'lower', 15).flag).toBe('within-noise');
  });

  it('compares two run folders in HTML, Markdown and JSON', () => {
    const root = mkdtempSync(join(tmpdir(), 'fleetload-compare-'));
    const a = runFolder(root, 'run-a', 200, 0, 'pass', { requests: 500, errors5xx: 0, p95: 40 });
    const b = runFolder(root, 'run-b', 1500, 4, 'fail', { requests: 500, errors5xx: 5, p95: 41 });
    writeHtmlReports(a);
    const c = compareWithBaseline(b, a, { noisePct: 10 });
    const row = (id: string) => c.rows.find((r) => r.id === id)!;
    expect(row('ack_latency_p95').flag).toBe('regressed');
    expect(row('ack_latency_p95').deltaPct).toBeCloseTo(650, 6);
    expect(row('missing_records').flag).toBe('changed');
    expect(row('received_vs_acked').flag).toBe('same');
    // headline figures come from the engine summaries
    expect(row('engine.ack_p99')).toMatchObject({ a: 400, b: 3000, flag: 'regressed' });
    expect(row('engine.record_p95')).toMatchObject({ a: 300, b: 2250, flag: 'regressed' });
    expect(row('engine.records_sent')).toMatchObject({ a: 1000, b: 1000, flag: 'same' });
    expect(row('engine.records_acked')).toMatchObject({ a: 1000, b: 996, flag: 'within-noise' });
    expect(row('engine.device_errors')).toMatchObject({ a: 0, b: 4, flag: 'regressed' });
    expect(row('engine.api_p95')).toMatchObject({ a: 40, b: 41, flag: 'within-noise' });
    expect(row('engine.api_error_ratio')).toMatchObject({ a: 0, b: 0.01, flag: 'regressed' });
    // no WebSocket clients in either run: no row rather than a 0
    expect(c.rows.find((r) => r.id.startsWith('engine.ws_'))).toBeUndefined();
    expect(c.rows.some((r) => /k6/i.test(r.label) || r.id.startsWith('k6.'))).toBe(false);
    expect(row('capacity.devices').a).toBe(600);
    expect(c.regressions).toBeGreaterThanOrEqual(2);
    const md = readFileSync(join(b, 'compare.md'), 'utf8');
    expect(md).toBe(renderCompareMarkdown(c));
    expect(md).toMatch(/ack_latency_p95 \| 200 \| 1500 ms \| 1300 \| \+650\.0 % \| ❌ regressed \(pass → fail\)/);
    expect(readFileSync(join(b, 'compare.html'), 'utf8')).toMatch(/data-id="ack_latency_p95" data-flag="regressed"/);
  });

  it('compares with a baseline written by the k6 generator before the engine', () => {
    const root = mkdtempSync(join(tmpdir(), 'fleetload-compare-old-'));
    const a = join(root, 'old');
    mkdirSync(a, { recursive: true });
    const { engine: _engine, ...m } = syntheticManifest();
    writeFileSync(join(a, 'run.json'), JSON.stringify({ ...m, runId: 'old', k6: { exitCode: 0, summaryFile: 'k6-summary.json' } }));
    writeFileSync(join(a, 'k6-summary.json'), JSON.stringify({ metrics: { fleet_ack_latency: { values: { med: 90, 'p(95)': 200, 'p(99)': 400, max: 600 } }, fleet_records_sent: { values: { count: 1000 } } } }));
    const b = runFolder(root, 'new', 200, 0, 'pass');
    const c = compareWithBaseline(b, a);
    const row = (id: string) => c.rows.find((r) => r.id === id)!;
    expect(row('engine.ack_p95')).toMatchObject({ a: 200, b: 200, flag: 'same' });
    expect(row('engine.records_sent')).toMatchObject({ a: 1000, b: 1000 });
    // a counter k6 left out because it never counted was 0
    expect(row('engine.device_errors')).toMatchObject({ a: 0, b: 0, flag: 'same' });
  });

  it('a stepped synthetic run folder gets capacity in report.html and capacity.md offline', () => {
    const root = mkdtempSync(join(tmpdir(), 'fleetload-html-'));
    const dir = runFolder(root, 'run-x', 200, 0, 'pass');
    const out = writeHtmlReports(dir, { plannedDevices: 500 });
    const html = readFileSync(out.html, 'utf8');
    expect(html).toMatch(/Content-Security-Policy/);
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=/);
    expect(html).toMatch(/id="capacity"/);
    expect(readFileSync(out.capacityMd, 'utf8')).toMatch(/\*\*600\*\* devices/);
  });
});
