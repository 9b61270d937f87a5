import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FleetloadError, ExitCode } from '../../src/core/errors.js';
import { defaultSloPath, loadSloFile, parseSlo } from '../../src/verify/slo-load.js';

const BAD = join(import.meta.dirname, 'fixtures/bad');

describe('default SLO file', () => {
  it('loads and holds the spine objectives', () => {
    const slo = loadSloFile();
    expect(slo.path).toBe(defaultSloPath());
    const ids = slo.objectives.map((o) => o.id);
    for (const id of ['ack_latency_p95', 'record_latency_p95', 'login_latency_p95', 'device_error_ratio', 'records_acked', 'records_stored', 'records_missing', 'records_duplicated', 'records_extra', 'records_misattributed', 'batch_insert_p95', 'ingest_lag_p95', 'received_vs_acked', 'api_latency_p95', 'api_error_ratio', 'ws_freshness_p95', 'ws_connection_failures', 'ws_missed_records'])
      expect(ids).toContain(id);
    expect(ids).not.toContain('missing_records');
    expect(ids).not.toContain('duplicate_rows');
    const byId = new Map(slo.objectives.map((o) => [o.id, o]));
    expect(byId.get('ack_latency_p95')!.key).toBe(true);
    for (const c of ['missing', 'duplicated', 'extra', 'misattributed']) expect(byId.get(`records_${c}`)).toMatchObject({ source: 'ledger', query: c, key: true });
    expect(byId.get('records_acked')!.reportOnly).toBe(true);
    expect(byId.get('api_latency_p95')!.appliesIf).toBe('api.configured');
    expect(byId.get('ws_missed_records')!.appliesIf).toBe('ws.configured');
    expect(slo.objectives.some((o) => o.source === 'k6')).toBe(false);
    expect(slo.total).toEqual({ pass: 90, warning: 75 });
    expect(slo.platform.timestampPrecision).toBe('1ms');
    expect(slo.sha256).toMatch(/^[0-9a-f]{64}$/);
  });
  it('no default objective hides a missing engine field behind ?? 0, nor a missing series behind or vector(0)', () => {
    for (const file of [defaultSloPath(), join(import.meta.dirname, '../../scenarios/profiles/slo/faults.yaml')]) {
      const text = readFileSync(file, 'utf8').split('\n').filter((l) => !l.trim().startsWith('#')).join('\n');
      expect(text).not.toContain('??');
      expect(text).not.toContain('or vector(0)');
      expect(loadSloFile(file).objectives.length).toBeGreaterThan(5);
    }
  });
  it('the fault SLO file keeps every reconciliation class key', () => {
    const slo = loadSloFile(join(import.meta.dirname, '../../scenarios/profiles/slo/faults.yaml'));
    for (const c of ['missing', 'duplicated', 'extra', 'misattributed']) expect(slo.objectives.find((o) => o.query === c)).toMatchObject({ source: 'ledger', key: true });
  });
  it('validates with the same JSON schema editors use', () => {
    const schema = JSON.parse(readFileSync(join(import.meta.dirname, '../../src/verify/slo.schema.json'), 'utf8'));
    expect(schema.$schema).toContain('draft-07');
    expect(readFileSync(defaultSloPath(), 'utf8')).toContain('$schema=./slo.schema.json');
  });
});

describe('malformed SLO files', () => {
  const files = readdirSync(BAD).filter((f) => f.endsWith('.yaml')).sort();
  it('has at least 20 fixtures', () => expect(files.length).toBeGreaterThanOrEqual(20));
  it.each(files)('%s is rejected naming file, line and field', (name) => {
    const file = join(BAD, name);
    const text = readFileSync(file, 'utf8');
    const [line, field, message] = text.split('\n')[0].replace(/^# expect: /, '').split(' | ').reduce<string[]>((acc, part, i) => (i < 2 ? [...acc, part] : [acc[0], acc[1], [acc[2], part].filter(Boolean).join(' | ')]), []);
    let err: unknown;
    try {
      loadSloFile(file);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FleetloadError);
    expect((err as FleetloadError).exitCode).toBe(ExitCode.BadInput);
    const msg = (err as Error).message;
    const shown = relative(process.cwd(), file);
    expect(msg).toContain(`${shown}:${line}: ${field}: `);
    expect(msg).toContain(message);
  });
});

describe('parseSlo details', () => {
  const base = (objective: string) => `version: 1\ntotal: { pass: 90, warning: 75 }\nobjectives:\n${objective}`;
  it('reports every problem at once, sorted by line', () => {
    const { issues } = parseSlo(
      base(`  - id: A\n    description: d\n    source: nope\n    query: q\n    unit: u\n    pass: "<<1"\n`),
      'x.yaml',
    );
    expect(issues.map((i) => i.line)).toEqual([...issues.map((i) => i.line)].sort((a, b) => a - b));
    expect(issues.length).toBeGreaterThanOrEqual(3);
  });
  it('accepts criteria as a string or a list, ranges and relative criteria', () => {
    const { slo, issues } = parseSlo(
      base(`  - id: a\n    description: d\n    source: k6\n    query: metrics.x.values.p(99.9) ?? 0\n    unit: ms\n    pass: ["0.1..0.5", "<=+10%"]\n    warning: ">=-5%"\n`),
      'x.yaml',
    );
    expect(issues).toEqual([]);
    expect(slo!.objectives[0].pass.map((c) => c.kind)).toEqual(['range', 'relative']);
    expect(slo!.objectives[0].warning[0]).toMatchObject({ kind: 'relative', op: '>=', delta: -5, percent: true });
  });
  it('allows window placeholders in derived formulas', () => {
    const { issues } = parseSlo(
      base(
        `  - { id: a, description: d, source: k6, query: metrics.a.values.count, unit: x, reportOnly: true }\n  - { id: r, description: d, source: derived, query: "\${a} / \${duration}", unit: x/s, pass: "> 0" }\n`,
      ),
      'x.yaml',
    );
    expect(issues).toEqual([]);
  });
  it('a missing file is bad input naming the path', () => {
    expect(() => loadSloFile('/nonexistent/slo.yaml')).toThrow(/cannot read SLO file \/nonexistent\/slo.yaml/);
  });
});
