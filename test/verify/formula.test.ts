import { describe, expect, it } from 'vitest';
import { evalFormula, FormulaError, formulaRefs, parseFormula } from '../../src/verify/formula.js';
import { k6Path } from '../../src/verify/evidence-k6.js';
import { bindSql, durationSeconds, expandPromQL, quotedSqlPlaceholders } from '../../src/verify/placeholders.js';
import { parseCriterion } from '../../src/verify/criteria.js';

const values: Record<string, number | null> = { a: 10, b: 4, zero: 0, none: null };
const calc = (text: string) => evalFormula(parseFormula(text, 'derived'), (n) => (n.t === 'ref' ? { value: values[n.name] ?? null, reason: `${n.name} missing` } : { value: null }));

describe('derived formulas', () => {
  it.each([
    ['${a} - ${b}', 6], ['${a} + ${b} * 2', 18], ['(${a} + ${b}) * 2', 28], ['-${a} + 1', -9], ['${a} / ${b}', 2.5],
    ['max(0, ${b} - ${a})', 0], ['min(${a}, ${b}, 7)', 4], ['abs(${b} - ${a})', 6], ['${none} ?? 3', 3], ['${a} ?? 3', 10], ['1.5e2', 150],
  ])('%s = %d', (f, expected) => expect(calc(f).value).toBe(expected));
  it('zero denominator and missing refs have no value, with a reason', () => {
    expect(calc('${a} / ${zero}')).toEqual({ value: null, reason: 'zero denominator' });
    expect(calc('${none} - 1')).toEqual({ value: null, reason: 'none missing' });
  });
  it('lists references', () => expect([...formulaRefs(parseFormula('max(0, ${x} - ${y}) / ${x}', 'derived'))]).toEqual(['x', 'y']));
  it.each(['${a} +', 'process.exit(1)', '${a}; 1', 'constructor', '${A}', '1 +* 2', 'max(1', 'abs(1, 2)', '`1`'])('rejects %s', (f) => {
    expect(() => parseFormula(f, 'derived')).toThrow(FormulaError);
  });
});

describe('k6 summary expressions', () => {
  const summary = { metrics: { lat: { type: 'trend', values: { 'p(95)': 312.5, 'p(99.9)': 900, count: 40 } }, pk: { values: { count: 200 } } } };
  const k6 = (text: string) => evalFormula(parseFormula(text, 'k6'), (n) => (n.t === 'path' ? k6Path(summary, n.segments) : { value: null }));
  it('follows paths including p(95) and p(99.9)', () => {
    expect(k6('metrics.lat.values.p(95)').value).toBe(312.5);
    expect(k6('metrics.lat.values.p(99.9)').value).toBe(900);
  });
  it('reads the --summary-export shape (no values level) too', () => {
    expect(k6Path({ metrics: { lat: { 'p(95)': 7 } } }, ['metrics', 'lat', 'values', 'p(95)']).value).toBe(7);
  });
  it('missing metrics have no data unless defaulted', () => {
    expect(k6('metrics.errors.values.count').value).toBeNull();
    expect(k6('metrics.errors.values.count').reason).toContain('not in the k6 summary');
    expect(k6('(metrics.errors.values.count ?? 0) / metrics.pk.values.count').value).toBe(0);
  });
  it('derived refs are not allowed in k6 expressions and paths not in derived', () => {
    expect(() => parseFormula('${a}', 'k6')).toThrow(FormulaError);
    expect(() => parseFormula('metrics.a.values.count', 'derived')).toThrow(FormulaError);
  });
});

describe('placeholders', () => {
  const ctx = { start: new Date('2025-01-01T00:00:00.000Z'), end: new Date('2025-01-01T00:01:32.400Z'), runId: 'smoke-1', imeis: ['356307042441013', '356307042441021'] };
  it('PromQL: unix seconds, ceil duration, regex alternation', () => {
    expect(durationSeconds(ctx)).toBe(93);
    expect(expandPromQL('x{testid="${runId}",imei=~"${imeis}"}[${duration}] @ ${end} ${start} ${stage}', ctx)).toBe(
      'x{testid="smoke-1",imei=~"356307042441013|356307042441021"}[93s] @ 1735689692.4 1735689600 .*',
    );
    expect(expandPromQL('s=~"${stage}"', { ...ctx, stage: 'ramp.1' })).toBe('s=~"ramp\\\\.1"');
  });
  it('SQL: bound parameters with casts, one per distinct placeholder, never spliced', () => {
    const b = bindSql('SELECT count(*) FROM t WHERE imei = ANY(${imeis}) AND ts BETWEEN ${start} AND ${end} AND ts >= ${start} AND r = ${runId}', ctx);
    expect(b.text).toBe('SELECT count(*) FROM t WHERE imei = ANY($1::text[]) AND ts BETWEEN $2::timestamptz AND $3::timestamptz AND ts >= $2::timestamptz AND r = $4::text');
    expect(b.values).toEqual([ctx.imeis, ctx.start, ctx.end, 'smoke-1']);
    const evil = bindSql('SELECT ${runId}', { ...ctx, runId: "x'; DROP TABLE t; --" });
    expect(evil.text).toBe('SELECT $1::text');
  });
  it('finds placeholders inside SQL string literals', () => {
    expect(quotedSqlPlaceholders("SELECT '${runId}'")).toHaveLength(1);
    expect(quotedSqlPlaceholders("SELECT 'it''s ${runId}'")).toHaveLength(1);
    expect(quotedSqlPlaceholders("SELECT interval '1 ms', ${runId} -- '${x}'")).toHaveLength(0);
  });
});

describe('criterion parsing', () => {
  it.each(['< 0.5', '<=0.5', '> 0', '>= 1', '== 0', '!= 0', '0.1..0.5', '0.1 .. 0.5', '<=+10%', '>=-5%', '<=+0.2', '< .5', '<= 1e-3'])('accepts %s', (c) => {
    expect(typeof parseCriterion(c)).toBe('object');
  });
  it.each(['=< 5', '<', '5', 'less than 5', '<= 10%', '0.5..0.1', '<= 1,5', '=> 3'])('rejects %s', (c) => {
    expect(typeof parseCriterion(c)).toBe('string');
  });
});
