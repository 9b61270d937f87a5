import { describe, expect, it } from 'vitest';
import { evaluate, judge, type Evidence } from '../../src/verify/evaluate.js';
import { exitCodeFor } from '../../src/verify/exit-code.js';
import { parseSlo } from '../../src/verify/slo-load.js';
import type { Report } from '../../src/verify/report-types.js';
import type { Objective, SloFile } from '../../src/verify/slo-types.js';

/** Builds an SLO file from objective YAML snippets (flow mappings). */
function slo(objectives: string[], total = '{ pass: 90, warning: 75 }'): SloFile {
  const text = `version: 1\ntotal: ${total}\nobjectives:\n${objectives.map((o) => `  - ${o}`).join('\n')}\n`;
  const { slo: s, issues } = parseSlo(text, 'test.yaml');
  if (!s) throw new Error(issues.map((i) => `${i.line} ${i.field} ${i.message}`).join('\n'));
  return s;
}
const obj = (extra: string, id = 'x') => slo([`{ id: ${id}, description: d, source: k6, query: metrics.x.values.count, unit: ms, ${extra} }`]).objectives[0];
const v = (value: number | null, more: Partial<Evidence> = {}): Evidence => ({ value, ...more });
const baselineWith = (values: Record<string, number | null>): Report => ({
  verdict: 'pass', runId: 'base', profile: 'p', window: { start: '', end: '', durationSeconds: 1 }, score: 100, reasons: [],
  objectives: Object.entries(values).map(([id, value]) => ({ id, description: '', source: 'k6', value, unit: '', target: '', status: 'pass', effect: 'pass', key: false, weight: 1, score: 1, why: '' })),
  versions: {}, slo: { file: '', total: { pass: 90, warning: 75 } }, generatedAt: '',
});
const status = (o: Objective, value: number | null, base?: number | null) => judge(o, { value }, base).status;

describe('absolute criteria', () => {
  it.each([
    ['"< 0.5"', 0.49, 'pass'], ['"< 0.5"', 0.5, 'fail'],
    ['"<= 0.5"', 0.5, 'pass'], ['"<= 0.5"', 0.51, 'fail'],
    ['"> 0"', 1, 'pass'], ['"> 0"', 0, 'fail'],
    ['">= 1"', 1, 'pass'], ['">= 1"', 0.99, 'fail'],
    ['"== 0"', 0, 'pass'], ['"== 0"', 1, 'fail'],
    ['"!= 0"', 3, 'pass'], ['"!= 0"', 0, 'fail'],
    ['"0.1..0.5"', 0.1, 'pass'], ['"0.1..0.5"', 0.5, 'pass'], ['"0.1..0.5"', 0.3, 'pass'], ['"0.1..0.5"', 0.09, 'fail'], ['"0.1..0.5"', 0.51, 'fail'],
    ['["> 0", "< 10"]', 5, 'pass'], ['["> 0", "< 10"]', 10, 'fail'],
    ['"< 1e3"', 999, 'pass'],
  ])('pass: %s with %d -> %s', (criteria, value, expected) => {
    expect(status(obj(`pass: ${criteria}`), value)).toBe(expected);
  });
});

describe('relative criteria', () => {
  const o = obj('pass: "<=+10%"');
  it('compares against the baseline value', () => {
    expect(status(o, 110, 100)).toBe('pass');
    expect(status(o, 110.01, 100)).toBe('fail');
    expect(judge(o, { value: 120 }, 100).why).toContain('<= 110 (baseline 100');
  });
  it('supports decreases and absolute deltas', () => {
    expect(status(obj('pass: ">=-5%"'), 95, 100)).toBe('pass');
    expect(status(obj('pass: ">=-5%"'), 94, 100)).toBe('fail');
    expect(status(obj('pass: "<=+5"'), 105, 100)).toBe('pass');
    expect(status(obj('pass: "<=+5"'), 106, 100)).toBe('fail');
  });
  it('without a baseline is a warning saying so, never a silent pass', () => {
    const j = judge(o, { value: 1 }, undefined);
    expect(j.status).toBe('warn');
    expect(j.why).toContain('no baseline');
    expect(judge(o, { value: 1 }, null).status).toBe('warn');
  });
  it('without a baseline still fails when an absolute criterion fails', () => {
    expect(status(obj('pass: ["<=+10%", "< 5"]'), 6, null)).toBe('fail');
    expect(status(obj('pass: ["<=+10%", "< 5"]'), 4, null)).toBe('warn');
  });
  it('uses the baseline report value of the same id in evaluate()', () => {
    const s = slo(['{ id: lat, description: d, source: k6, query: metrics.x.values.count, unit: ms, pass: "<=+10%" }']);
    const r = evaluate(s, new Map([['lat', v(105)]]), { baseline: baselineWith({ lat: 100 }) });
    expect(r.objectives[0]).toMatchObject({ status: 'pass', baseline: 100 });
    const r2 = evaluate(s, new Map([['lat', v(105)]]), { baseline: baselineWith({ other: 100 }) });
    expect(r2.objectives[0]).toMatchObject({ status: 'warn', baseline: null });
  });
});

describe('warning band', () => {
  const o = obj('pass: "< 1000", warning: "< 2000"');
  it('pass, warn, fail', () => {
    expect(status(o, 999, undefined)).toBe('pass');
    expect(status(o, 1500, undefined)).toBe('warn');
    expect(judge(o, { value: 1500 }).why).toContain('within warning band');
    expect(status(o, 2500, undefined)).toBe('fail');
  });
  it('a relative warning band without baseline cannot rescue a failing value', () => {
    const w = obj('pass: "< 10", warning: "<=+50%"');
    expect(judge(w, { value: 12 }, undefined)).toMatchObject({ status: 'fail' });
    expect(judge(w, { value: 12 }, undefined).why).toContain('no baseline');
    expect(judge(w, { value: 12 }, 10).status).toBe('warn');
  });
});

describe('no data', () => {
  it.each([
    ['null', null],
    ['NaN', NaN],
    ['+Inf', Infinity],
    ['-Inf', -Infinity],
  ])('%s follows onNoData (default fail)', (_n, value) => {
    expect(judge(obj('pass: "< 1"'), { value })).toMatchObject({ status: 'no-data', effect: 'fail' });
    expect(judge(obj('pass: "< 1", onNoData: warn'), { value })).toMatchObject({ status: 'no-data', effect: 'warn' });
    expect(judge(obj('pass: "< 1", onNoData: pass'), { value })).toMatchObject({ status: 'no-data', effect: 'pass' });
    expect(judge(obj('pass: "< 1", onNoData: skip'), { value })).toMatchObject({ status: 'no-data', effect: 'none' });
  });
  it('gives the reason and the policy in why', () => {
    const j = judge(obj('pass: "< 1"'), { value: null, reason: 'empty result' });
    expect(j.why).toBe('no data: empty result (onNoData: fail, counts as fail)');
  });
  it('zero denominator in a derived formula is no data', () => {
    const s = slo([
      '{ id: errors, description: d, source: k6, query: metrics.e.values.count, unit: x, reportOnly: true }',
      '{ id: packets, description: d, source: k6, query: metrics.p.values.count, unit: x, reportOnly: true }',
      '{ id: ratio, description: d, source: derived, query: "${errors} / ${packets}", unit: ratio, pass: "< 0.001" }',
    ]);
    // the derived value is computed by verify.ts; here we feed what it produces for 0 packets
    const r = evaluate(s, new Map([['errors', v(0)], ['packets', v(0)], ['ratio', v(null, { reason: 'zero denominator' })]]));
    expect(r.objectives[2]).toMatchObject({ status: 'no-data', effect: 'fail' });
    expect(r.objectives[2].why).toContain('zero denominator');
    expect(r.verdict).toBe('fail');
  });
  it('too few samples is no data; enough samples but no value is a broken query -> fail regardless of policy', () => {
    const o = slo(['{ id: x, description: d, source: k6, query: metrics.x.values.p(95), samplesQuery: metrics.x.values.count, minSamples: 10, unit: ms, pass: "< 1", onNoData: skip }']).objectives[0];
    expect(judge(o, { value: 0.5, samples: 9 })).toMatchObject({ status: 'no-data', effect: 'none' });
    expect(judge(o, { value: 0.5, samples: null })).toMatchObject({ status: 'no-data' });
    expect(judge(o, { value: 0.5, samples: 10 })).toMatchObject({ status: 'pass' });
    const broken = judge(o, { value: null, samples: 50 });
    expect(broken).toMatchObject({ status: 'fail', effect: 'fail' });
    expect(broken.why).toContain('check the query');
  });
});

describe('score and verdict', () => {
  const three = slo([
    '{ id: a, description: d, source: k6, query: metrics.a.values.count, unit: x, pass: "< 1", warning: "< 2", weight: 2 }',
    '{ id: b, description: d, source: k6, query: metrics.b.values.count, unit: x, pass: "< 1", warning: "< 2" }',
    '{ id: c, description: d, source: k6, query: metrics.c.values.count, unit: x, pass: "< 1", key: true }',
    '{ id: info, description: d, source: k6, query: metrics.i.values.count, unit: x, reportOnly: true }',
  ]);
  const run = (a: number | null, b: number | null, c: number | null, info: number | null = 5, opts = {}) =>
    evaluate(three, new Map([['a', v(a)], ['b', v(b)], ['c', v(c)], ['info', v(info)]]), opts);

  it('all pass -> 100, pass', () => {
    const r = run(0, 0, 0);
    expect(r).toMatchObject({ verdict: 'pass', score: 100 });
    expect(r.objectives[3]).toMatchObject({ status: 'report-only', effect: 'none', score: 0 });
  });
  it('weights: a warn on the weight-2 objective -> (1 + 1 + 1) / 4 = 75 -> warn', () => {
    const r = run(1.5, 0, 0);
    expect(r.score).toBe(75);
    expect(r.verdict).toBe('warn');
    expect(r.objectives[0].score).toBe(1);
  });
  it('a warn on a weight-1 objective -> 87.5 -> warn (below pass 90)', () => {
    expect(run(0, 1.5, 0)).toMatchObject({ score: 87.5, verdict: 'warn' });
  });
  it('warn that keeps the score above the pass threshold -> pass', () => {
    const s = slo(
      Array.from({ length: 10 }, (_, i) => `{ id: o${i}, description: d, source: k6, query: metrics.o.values.count, unit: x, pass: "< 1", warning: "< 2" }`),
    );
    const r = evaluate(s, new Map(s.objectives.map((o, i) => [o.id, v(i === 0 ? 1.5 : 0)])));
    expect(r).toMatchObject({ score: 95, verdict: 'pass' });
    expect(r.reasons[0]).toContain('1 in warning');
  });
  it('score below the warning threshold with nothing failed -> fail', () => {
    const r = run(1.5, 1.5, 0, 5);
    expect(r.score).toBe(62.5);
    expect(r.verdict).toBe('fail');
  });
  it('a key objective failing fails the run alone', () => {
    const r = run(0, 0, 5);
    expect(r.verdict).toBe('fail');
    expect(r.reasons[0]).toMatch(/^key objective c failed/);
  });
  it('any non-key fail also fails the run (strict), even with a high score', () => {
    const s = slo(Array.from({ length: 20 }, (_, i) => `{ id: o${i}, description: d, source: k6, query: metrics.o.values.count, unit: x, pass: "< 1" }`));
    const r = evaluate(s, new Map(s.objectives.map((o, i) => [o.id, v(i === 0 ? 5 : 0)])));
    expect(r.score).toBe(95);
    expect(r.verdict).toBe('fail');
    expect(r.reasons[0]).toContain('objective o0 failed');
  });
  it('reportOnly never affects the verdict', () => {
    expect(run(0, 0, 0, null).verdict).toBe('pass');
  });
  it('skipped objectives are left out of the score; all skipped -> invalid', () => {
    const s = slo([
      '{ id: a, description: d, source: k6, query: metrics.a.values.count, unit: x, pass: "< 1" }',
      '{ id: api, description: d, source: k6, query: metrics.b.values.count, unit: x, pass: "< 1", onNoData: skip }',
    ]);
    const r = evaluate(s, new Map([['a', v(0)], ['api', v(null)]]));
    expect(r).toMatchObject({ verdict: 'pass', score: 100 });
    expect(r.reasons.join('\n')).toContain('not scored for lack of data (onNoData: skip): api');
    expect(evaluate(s, new Map([['a', v(null)], ['api', v(null)]])).verdict).toBe('fail');
    const onlySkip = slo(['{ id: api, description: d, source: k6, query: metrics.b.values.count, unit: x, pass: "< 1", onNoData: skip }']);
    expect(evaluate(onlySkip, new Map()).verdict).toBe('invalid');
  });
  it('run problems make the verdict invalid', () => {
    const r = run(0, 0, 0, 5, { invalidReasons: ['k6 exited with code 107'] });
    expect(r.verdict).toBe('invalid');
    expect(r.reasons[0]).toContain('k6 exited with code 107');
  });
  it('a missing measurement is no data, not a pass', () => {
    const r = evaluate(three, new Map([['a', v(0)], ['b', v(0)]]));
    expect(r.objectives[2]).toMatchObject({ status: 'no-data', effect: 'fail' });
    expect(r.verdict).toBe('fail');
  });
});

describe('exit codes', () => {
  it.each([
    ['pass', false, 0], ['pass', true, 0],
    ['warn', false, 0], ['warn', true, 1],
    ['fail', false, 1], ['error', false, 3], ['invalid', false, 4],
  ] as const)('%s (failOnWarn %s) -> %d', (verdict, failOnWarn, code) => {
    expect(exitCodeFor({ verdict }, failOnWarn)).toBe(code);
  });
});
