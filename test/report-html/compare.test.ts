import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { betterFromTarget, classify, compareWithBaseline, renderCompareMarkdown } from '../../src/report/compare.js';
import { writeHtmlReports } from '../../src/report/html/index.js';
import { writeSeries } from '../../src/report/series.js';
import { syntheticManifest, syntheticSeries } from '../capacity/synthetic.js';

function runFolder(root: string, name: string, ackP95: number, errors: number, status: string) {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'run.json'), JSON.stringify({ ...syntheticManifest(), runId: name }));
  const obj = (id: string, value: number, target: string, st = 'pass') => ({ id, description: id, source: 'k6', value, unit: 'ms', target, status: st, key: false, weight: 1, score: 1, why: '' });
  writeFileSync(
    join(dir, 'report.json'),
    JSON.stringify({ verdict: status === 'fail' ? 'fail' : 'pass', runId: name, profile: 'capacity', window: {}, score: 100, reasons: [], objectives: [obj('ack_latency_p95', ackP95, '< 1000', status), obj('missing_records', errors, '== 0'), obj('received_vs_acked', 0.99, '>= 0.98')], versions: {}, generatedAt: '' }),
  );
  writeFileSync(join(dir, 'k6-summary.json'), JSON.stringify({ metrics: { fleet_ack_latency: { values: { 'p(95)': ackP95, 'p(99)': ackP95 * 2 } }, fleet_records_sent: { values: { count: 1000 } } } }));
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
    const a = runFolder(root, 'run-a', 200, 0, 'pass');
    const b = runFolder(root, 'run-b', 1500, 4, 'fail');
    writeHtmlReports(a);
    const c = compareWithBaseline(b, a, { noisePct: 10 });
    const row = (id: string) => c.rows.find((r) => r.id === id)!;
    expect(row('ack_latency_p95').flag).toBe('regressed');
    expect(row('ack_latency_p95').deltaPct).toBeCloseTo(650, 6);
    expect(row('missing_records').flag).toBe('changed');
    expect(row('received_vs_acked').flag).toBe('same');
    expect(row('k6.ack_p99').flag).toBe('regressed');
    expect(row('capacity.devices').a).toBe(600);
    expect(c.regressions).toBeGreaterThanOrEqual(2);
    const md = readFileSync(join(b, 'compare.md'), 'utf8');
    expect(md).toBe(renderCompareMarkdown(c));
    expect(md).toMatch(/ack_latency_p95 \| 200 \| 1500 ms \| 1300 \| \+650\.0 % \| ❌ regressed \(pass → fail\)/);
    expect(readFileSync(join(b, 'compare.html'), 'utf8')).toMatch(/data-id="ack_latency_p95" data-flag="regressed"/);
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
