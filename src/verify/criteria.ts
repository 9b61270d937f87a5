// Criterion strings: "< 0.5", "<= 0.5", "> 0", ">= 1", "== 0", "!= 0", ranges "0.1..0.5" (inclusive) and
// relative "<=+10%", ">=-5%", "<=+0.2" (Keptn semantics: a sign right after the operator makes it relative
// to the baseline's value of the same objective; with % it is a percentage of that value).
import type { CompareOp, Criterion } from './slo-types.js';

const NUM = String.raw`[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?|\.[0-9]+(?:[eE][+-]?[0-9]+)?`;
const COMPARE = new RegExp(String.raw`^(<=|>=|==|!=|<|>)\s*([+-]?)\s*(${NUM})\s*(%?)$`);
const RANGE = new RegExp(String.raw`^(-?(?:${NUM}))\s*\.\.\s*(-?(?:${NUM}))$`);

export const CRITERION_HELP = 'a criterion like "< 0.5", "<= 0.5", ">= 1", "== 0", a range "0.1..0.5" or a relative "<=+10%"';

/** Parses one criterion, or returns an error message saying what was expected. */
export function parseCriterion(raw: string): Criterion | string {
  const text = raw.trim();
  const c = COMPARE.exec(text);
  if (c) {
    const op = c[1] as CompareOp;
    const value = Number(c[3]);
    if (c[2] === '' && c[4] === '%') return `"${raw}": a percentage needs a sign to be relative to the baseline (e.g. "<=+10%")`;
    if (c[2] !== '') return { kind: 'relative', text, op, delta: c[2] === '-' ? -value : value, percent: c[4] === '%' };
    return { kind: 'absolute', text, op, value };
  }
  const r = RANGE.exec(text);
  if (r) {
    const low = Number(r[1]);
    const high = Number(r[2]);
    if (low > high) return `"${raw}": range low end ${low} is above high end ${high}`;
    return { kind: 'range', text, low, high };
  }
  return `expected ${CRITERION_HELP}, got "${raw}"`;
}

export function compare(op: CompareOp, v: number, target: number): boolean {
  switch (op) {
    case '<':
      return v < target;
    case '<=':
      return v <= target;
    case '>':
      return v > target;
    case '>=':
      return v >= target;
    case '==':
      return v === target;
    case '!=':
      return v !== target;
  }
}

/** The absolute target of a relative criterion given the baseline value. */
export function relativeTarget(c: Extract<Criterion, { kind: 'relative' }>, base: number): number {
  return c.percent ? base * (1 + c.delta / 100) : base + c.delta;
}

/** true/false, or 'unknown' when a relative criterion has no baseline value. */
export type Holds = { holds: true | false | 'unknown'; target?: string };

export function checkCriterion(c: Criterion, value: number, baseline: number | null | undefined): Holds {
  switch (c.kind) {
    case 'absolute':
      return { holds: compare(c.op, value, c.value) };
    case 'range':
      return { holds: value >= c.low && value <= c.high };
    case 'relative': {
      if (baseline === null || baseline === undefined || !Number.isFinite(baseline)) return { holds: 'unknown' };
      const t = relativeTarget(c, baseline);
      return { holds: compare(c.op, value, t), target: `${c.op} ${round(t)} (baseline ${round(baseline)} ${c.text.slice(c.op.length)})` };
    }
  }
}

const round = (v: number) => Number(v.toPrecision(6));

/** Human-readable list: "< 1000 and >= 0". */
export const criteriaText = (cs: Criterion[]) => cs.map((c) => c.text).join(' and ');
