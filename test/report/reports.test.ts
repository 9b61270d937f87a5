import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatTable, renderJunit, renderMarkdown, writeReports, xmlEscape } from '../../src/report/index.js';
import type { RunManifest } from '../../src/core/manifest.js';
import { evaluate } from '../../src/verify/evaluate.js';
import { errorReport } from '../../src/verify/verify.js';
import { parseSlo } from '../../src/verify/slo-load.js';
import type { Report } from '../../src/verify/report-types.js';

const manifest: RunManifest = {
  runId: 'smoke-20250101-abc', profile: 'smoke', seed: 1, startedAt: '2025-01-01T00:00:00.000Z', endedAt: '2025-01-01T00:00:30.000Z',
  stages: [{ name: 'steady', start: '2025-01-01T00:00:00.000Z', end: '2025-01-01T00:00:30.000Z', devices: 20 }],
  devices: 20, imeis: ['356307042441013'], target: { tcp: '127.0.0.1:5027', embedded: true }, prometheus: { url: 'http://127.0.0.1:9090' },
  versions: { fleetload: '0.1.0', node: 'v20.0.0' }, engine: { exitCode: 0, summaryFile: 'engine-summary.json' },
};

function sampleReport(): Report {
  const { slo } = parseSlo(
    `version: 1
total: { pass: 90, warning: 75 }
objectives:
  - { id: ack_latency_p95, description: "ACK p95 <with> & 'quotes' | pipe", source: engine, query: ackLatencyMs.p95, unit: ms, pass: "< 1000", warning: "< 2000", key: true }
  - { id: login_p95, description: d, source: engine, query: loginLatencyMs.p95, unit: ms, pass: "< 1000", warning: "< 2000" }
  - { id: missing_records, description: d, source: engine, query: records.lost, unit: records, pass: "== 0" }
  - { id: api_p95, description: d, source: engine, query: api.latencyMs.p95, unit: s, pass: "< 0.5", onNoData: skip }
  - { id: acked, description: d, source: engine, query: records.acked, unit: records, reportOnly: true }
  - { id: lag, description: d, source: prometheus, query: sum(x), unit: s, pass: "< 2", stages: true }
`,
    'slo.yaml',
  );
  const ev = evaluate(
    slo!,
    new Map([
      ['ack_latency_p95', { value: 312.25 }],
      ['login_p95', { value: 1500 }],
      ['missing_records', { value: 3 }],
      ['api_p95', { value: null, reason: 'empty result' }],
      ['acked', { value: 600 }],
      ['lag', { value: 0.4, stages: [{ name: 'steady', start: manifest.startedAt, end: manifest.endedAt, value: 0.4 }] }],
    ]),
  );
  return {
    verdict: ev.verdict, runId: manifest.runId, profile: manifest.profile,
    window: { start: manifest.startedAt, end: manifest.endedAt, durationSeconds: 30 }, score: ev.score, reasons: ev.reasons,
    objectives: ev.objectives, versions: manifest.versions, slo: { file: slo!.path, total: slo!.total }, generatedAt: '2025-01-01T00:01:00.000Z',
  };
}

/** Parses XML with a real parser (Python's expat) when python3 is present. */
function parseXml(xml: string): { ok: boolean; out: string } | undefined {
  const py = spawnSync('python3', ['-c', 'import sys, xml.dom.minidom as m; d = m.parseString(sys.stdin.buffer.read()); print(len(d.getElementsByTagName("testcase")), len(d.getElementsByTagName("failure")), len(d.getElementsByTagName("skipped")))'], { input: xml, encoding: 'utf8' });
  if (py.error) return undefined;
  return { ok: py.status === 0, out: (py.stdout + py.stderr).trim() };
}

describe('report writers', () => {
  it('writes report.json with the contract keys, report.md and junit.xml', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fleetload-report-'));
    const report = sampleReport();
    writeReports(dir, report, manifest);
    for (const f of ['report.json', 'report.md', 'junit.xml']) expect(existsSync(join(dir, f))).toBe(true);
    const json = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));
    for (const k of ['verdict', 'runId', 'profile', 'window', 'score', 'objectives', 'versions', 'generatedAt']) expect(json).toHaveProperty(k);
    expect(['pass', 'warn', 'fail', 'invalid', 'error']).toContain(json.verdict);
    expect(Object.keys(json.window).sort()).toEqual(['durationSeconds', 'end', 'start']);
    expect(json.score).toBeGreaterThanOrEqual(0);
    expect(json.score).toBeLessThanOrEqual(100);
    for (const o of json.objectives) {
      for (const k of ['id', 'description', 'source', 'value', 'unit', 'target', 'status', 'key', 'weight', 'score', 'why']) expect(o).toHaveProperty(k);
      expect(['pass', 'warn', 'fail', 'no-data', 'report-only']).toContain(o.status);
      expect(o.value === null || typeof o.value === 'number').toBe(true);
    }
    const ack = json.objectives.find((o: { id: string }) => o.id === 'ack_latency_p95');
    expect(ack).toMatchObject({ value: 312.25, target: '< 1000', warning: '< 2000', status: 'pass', key: true });
    expect(json.verdict).toBe('fail');
  });

  it('junit.xml is well-formed: one testcase per objective, failure text = value vs target', () => {
    const report = sampleReport();
    const xml = renderJunit(report);
    expect(xml.match(/<testcase /g)).toHaveLength(report.objectives.length);
    expect(xml).toContain('<failure type="slo-breach" message="3 records vs target == 0">');
    expect(xml).toContain('<skipped message="no data: empty result');
    expect(xml).toContain('&lt;with&gt; &amp; &apos;quotes&apos;');
    expect(xml).toMatch(/failures="1"/);
    const parsed = parseXml(xml);
    if (parsed) {
      expect(parsed.ok, parsed.out).toBe(true);
      expect(parsed.out).toBe(`${report.objectives.length} 1 1`);
    }
  });

  it('junit marks warnings as failures with failOnWarn and adds an error case for error/invalid verdicts', () => {
    const report = { ...sampleReport(), failOnWarn: true };
    expect(renderJunit(report)).toContain('type="slo-warning"');
    const err = errorReport(manifest, new Error('Prometheus at http://x is unreachable'));
    const xml = renderJunit(err);
    expect(xml).toContain('<error type="verification-error"');
    const parsed = parseXml(xml);
    if (parsed) expect(parsed.ok, parsed.out).toBe(true);
  });

  it('xmlEscape drops characters XML cannot carry', () => {
    expect(xmlEscape('a\u0000b\u001bc<')).toBe('abc&lt;');
  });

  it('markdown has the verdict, the table and per-stage results', () => {
    const md = renderMarkdown(sampleReport(), manifest);
    expect(md).toMatch(/^# fleetload verdict: .*FAIL — score/);
    expect(md).toContain('| | Objective | Value | Target | Warning | Score | Why |');
    expect(md).toContain('🔑 **ack_latency_p95**');
    expect(md).toContain('\\| pipe');
    expect(md).toContain('### lag per stage');
    expect(md).toContain('Devices: 20');
  });

  it('the stdout table is compact and ends with the verdict', () => {
    const t = formatTable(sampleReport());
    const lines = t.split('\n');
    expect(lines[0]).toMatch(/^STATUS\s+OBJECTIVE\s+VALUE\s+TARGET\s+WHY$/);
    expect(t).toContain('PASS*   ack_latency_p95');
    expect(t).toMatch(/FAIL\s+missing_records\s+3 records\s+== 0/);
    expect(t).toContain('verdict: FAIL');
    expect(lines.every((l) => l.length < 200)).toBe(true);
  });
});
