// Pure evaluation: values in, statuses, score and verdict out. No I/O.
//
// Per objective: no data (null, NaN, ±Inf, zero denominator, too few samples) -> onNoData policy;
// else all pass criteria hold -> pass; only relative criteria unknown (no baseline) -> warn "no baseline";
// else all warning criteria hold -> warn; else fail. reportOnly objectives are shown but never counted.
// Score = Σ weight·(1 pass, 0.5 warn, 0 fail) / Σ weight of counted objectives × 100.
// Verdict: invalid run -> invalid; any counted objective failing (key or not) -> fail; else score >= total.pass
// -> pass, score >= total.warning -> warn, else fail. Nothing counted at all -> invalid (nothing was verified).
import { checkCriterion, criteriaText } from './criteria.js';
import { formatValue } from './format.js';
import type { Effect, ObjectiveResult, ObjectiveStatus, Report, StageResult, Verdict } from './report-types.js';
import type { Criterion, Objective, SloFile } from './slo-types.js';

/** What the evidence collectors found for one objective (or one stage of it). */
export interface Measurement {
  value: number | null;
  /** Why value is null (empty result, NaN, zero denominator, file missing...). */
  reason?: string;
  /** Sample count from samplesQuery, when the objective has one (null = the samples query had no data). */
  samples?: number | null;
  /** Why samples is null. */
  samplesReason?: string;
  /** Expanded query, for the report. */
  query?: string;
  /** Set when the objective does not apply to this run (its appliesIf is false): shown, never scored. */
  notApplicable?: string;
  /** Set when the objective's client was configured (appliesIf true): no data fails, whatever onNoData says. */
  required?: string;
  /** Extra evidence appended to why (e.g. reconciliation examples). */
  note?: string;
}

export interface StageMeasurement extends Measurement {
  name: string;
  start: string;
  end: string;
}

export interface Evidence extends Measurement {
  stages?: StageMeasurement[];
}

export interface Judgement {
  value: number | null;
  status: ObjectiveStatus;
  effect: Effect;
  why: string;
}

const CREDIT: Record<Effect, number> = { pass: 1, warn: 0.5, fail: 0, none: 0 };

/** Judges one value against an objective's criteria. `baseline` = the baseline's value for this objective. */
export function judge(o: Objective, m: Measurement, baseline?: number | null): Judgement {
  const j = judgeValue(o, m, baseline);
  return m.note ? { ...j, why: `${j.why}; ${m.note}` } : j;
}

function judgeValue(o: Objective, m: Measurement, baseline?: number | null): Judgement {
  if (m.notApplicable !== undefined) return { value: null, status: 'no-data', effect: 'none', why: `not applicable, not scored: ${m.notApplicable}` };
  let value = m.value;
  let noData: string | undefined;
  if (value !== null && !Number.isFinite(value)) {
    noData = `value is ${String(value)}`;
    value = null;
  }
  if (o.samplesQuery !== undefined) {
    const min = o.minSamples ?? 1;
    const samples = m.samples === undefined || m.samples === null || !Number.isFinite(m.samples) ? null : m.samples;
    if (samples === null) noData = `no sample count (${o.samplesQuery}: ${m.samplesReason ?? 'no data'})`;
    else if (samples < min)
      noData = `${samples} sample${samples === 1 ? '' : 's'} (${o.samplesQuery}), fewer than minSamples ${min}${samples === 0 ? ': nothing completed' : ''}`;
    else if (value === null)
      // Enough samples but no value: the query is broken, not the traffic missing. Never excused by policy.
      return {
        value: null,
        status: o.reportOnly ? 'report-only' : 'fail',
        effect: o.reportOnly ? 'none' : 'fail',
        why: `no value although there are ${samples} samples (${noData ?? m.reason ?? 'empty result'}): check the query`,
      };
  }
  if (value === null) noData ??= m.reason ?? 'empty result';

  if (o.reportOnly) {
    if (noData !== undefined) return { value: null, status: 'report-only', effect: 'none', why: `report only; no data: ${noData}` };
    if (o.pass.length === 0) return { value, status: 'report-only', effect: 'none', why: `report only: ${formatValue(value, o.unit)}` };
    const would = criteriaOutcome(o, value!, baseline);
    return { value, status: 'report-only', effect: 'none', why: `report only; would be ${would.status}: ${would.why}` };
  }
  if (noData !== undefined && m.required !== undefined)
    return { value: null, status: 'no-data', effect: 'fail', why: `no data: ${noData}; fails because ${m.required} (onNoData does not excuse a configured client)` };
  if (noData !== undefined) {
    const effect: Effect = o.onNoData === 'skip' ? 'none' : o.onNoData;
    const what = o.onNoData === 'skip' ? 'skipped, not scored' : `counts as ${o.onNoData}`;
    return { value: null, status: 'no-data', effect, why: `no data: ${noData} (onNoData: ${o.onNoData}, ${what})` };
  }
  const r = withEvidenceStrength(o, value!, m.samples, criteriaOutcome(o, value!, baseline));
  return { value, status: r.status, effect: r.status, why: r.why };
}

const Z95 = 1.959964;

/** Wilson score interval's upper end (95 %, two-sided) for k successes in n trials. */
export function wilsonUpper(k: number, n: number): number {
  if (n <= 0) return 1;
  const p = k / n;
  const z2 = Z95 * Z95;
  return Math.min(1, (p + z2 / (2 * n) + Z95 * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / (1 + z2 / n));
}

/** Samples needed so that 0 events in n gives a Wilson upper bound meeting `op t`. */
export function samplesForZero(op: '<' | '<=', t: number): number {
  if (t <= 0) return Infinity;
  const z2 = Z95 * Z95;
  const n = (z2 * (1 - t)) / t; // z²/(n+z²) = t
  return op === '<' ? Math.floor(n) + 1 : Math.ceil(n);
}

/**
 * Ratios (unit "ratio" with a samplesQuery) carry their 95 % upper bound; zero events in too few samples to
 * bound the ratio below its target is insufficient evidence (a warning naming the sample count that would
 * suffice). Other values with a sample count state n (percentiles).
 */
function withEvidenceStrength(
  o: Objective,
  value: number,
  samples: number | null | undefined,
  r: { status: 'pass' | 'warn' | 'fail'; why: string },
): { status: 'pass' | 'warn' | 'fail'; why: string } {
  if (samples === undefined || samples === null || !Number.isFinite(samples)) return r;
  const n = Math.round(samples);
  if (o.unit !== 'ratio' || n <= 0 || value < 0 || value > 1) return { ...r, why: `${r.why} (n = ${n})` };
  const k = Math.round(value * n);
  const ub = wilsonUpper(k, n);
  const why = `${r.why} (${k} in n = ${n}; 95 % upper bound ${formatValue(ub, '')})`;
  if (r.status !== 'pass' || k !== 0) return { ...r, why };
  const upper = o.pass.filter((c): c is Extract<Criterion, { kind: 'absolute' }> => c.kind === 'absolute' && (c.op === '<' || c.op === '<='));
  const missed = upper.filter((c) => !checkCriterion(c, ub, undefined).holds);
  if (missed.length === 0) return { ...r, why };
  const need = Math.max(...missed.map((c) => samplesForZero(c.op as '<' | '<=', c.value)));
  return {
    status: 'warn',
    why: `insufficient evidence: 0 in ${n} samples, but the 95 % upper bound ${formatValue(ub, '')} misses ${missed.map((c) => c.text).join(' and ')}; ${Number.isFinite(need) ? `at least ${need} samples would show it` : 'no sample count can show it'}`,
  };
}

function criteriaOutcome(o: Objective, value: number, baseline: number | null | undefined): { status: 'pass' | 'warn' | 'fail'; why: string } {
  const v = formatValue(value, o.unit);
  const run = (cs: Criterion[]) => cs.map((c) => ({ c, ...checkCriterion(c, value, baseline) }));
  const describe = (r: ReturnType<typeof run>[number]) => (r.target ? r.target : r.c.text);
  const pass = run(o.pass);
  const failed = pass.filter((r) => r.holds === false);
  const unknown = pass.filter((r) => r.holds === 'unknown');
  if (failed.length === 0 && unknown.length === 0) return { status: 'pass', why: `${v}, meets ${pass.map(describe).join(' and ')}` };
  if (failed.length === 0)
    return { status: 'warn', why: `${v}; no baseline for ${unknown.map((r) => r.c.text).join(' and ')} (absolute criteria hold)` };
  const missed = `${v} misses ${failed.map(describe).join(' and ')}`;
  if (o.warning.length === 0) return { status: 'fail', why: missed };
  const warn = run(o.warning);
  if (warn.every((r) => r.holds === true)) return { status: 'warn', why: `${missed}, within warning band ${warn.map(describe).join(' and ')}` };
  if (warn.some((r) => r.holds === 'unknown') && !warn.some((r) => r.holds === false))
    return { status: 'fail', why: `${missed}; the warning band needs a baseline (no baseline)` };
  return { status: 'fail', why: `${missed} and the warning band ${criteriaText(o.warning)}` };
}

export interface Evaluation {
  verdict: Verdict;
  score: number;
  reasons: string[];
  objectives: ObjectiveResult[];
}

/** Evaluates every objective and decides the verdict. `invalidReasons` (from the run) force "invalid". */
export function evaluate(slo: SloFile, evidence: Map<string, Evidence>, opts: { baseline?: Report; invalidReasons?: string[] } = {}): Evaluation {
  const baseById = new Map((opts.baseline?.objectives ?? []).map((b) => [b.id, b]));
  const objectives: ObjectiveResult[] = slo.objectives.map((o) =>
    objectiveResult(o, evidence.get(o.id) ?? { value: null, reason: 'not measured' }, Boolean(opts.baseline), baseById.get(o.id)),
  );
  const counted = objectives.filter((o) => o.effect !== 'none');
  const score = scoreOf(counted);
  const { verdict, reasons } = decide(slo, counted, score, opts.invalidReasons);
  const skipped = objectives.filter((o) => o.status === 'no-data' && o.effect === 'none');
  if (skipped.length > 0) reasons.push(`not scored for lack of data (onNoData: skip): ${skipped.map((o) => o.id).join(', ')}`);
  return { verdict, score, reasons, objectives };
}

/**
 * One objective's line in the report, with its stages when it is staged. `withBaseline`: a baseline report was
 * given (an objective missing from it has baseline value null, which relative criteria cannot use).
 */
function objectiveResult(o: Objective, m: Evidence, withBaseline: boolean, base: ObjectiveResult | undefined): ObjectiveResult {
  const baseValue = withBaseline ? (base?.value ?? null) : undefined;
  const j = judge(o, m, baseValue);
  const counted = j.effect !== 'none';
  const result: ObjectiveResult = {
    id: o.id,
    description: o.description,
    source: o.source,
    value: j.value,
    unit: o.unit,
    target: o.pass.length ? criteriaText(o.pass) : '(none)',
    ...(o.warning.length ? { warning: criteriaText(o.warning) } : {}),
    status: j.status,
    effect: j.effect,
    key: o.key,
    weight: o.weight,
    score: counted ? round(o.weight * CREDIT[j.effect]) : 0,
    why: j.why,
    ...(o.samplesQuery !== undefined ? { samples: m.samples ?? null } : {}),
    ...(withBaseline ? { baseline: baseValue ?? null } : {}),
    ...(m.query !== undefined ? { query: m.query } : {}),
  };
  if (m.stages && o.stages) result.stages = stageResults(o, m.stages, withBaseline, base);
  return result;
}

/** Each stage judged on its own, against the same stage of the baseline. */
function stageResults(o: Objective, stages: StageMeasurement[], withBaseline: boolean, base: ObjectiveResult | undefined): StageResult[] {
  return stages.map((s): StageResult => {
    const bs = base?.stages?.find((x) => x.name === s.name);
    const sj = judge(o, s, withBaseline ? (bs?.value ?? null) : undefined);
    return {
      name: s.name,
      start: s.start,
      end: s.end,
      value: sj.value,
      status: sj.status,
      why: sj.why,
      ...(o.samplesQuery !== undefined ? { samples: s.samples ?? null } : {}),
    };
  });
}

/** Weighted share of credit over the counted objectives, 0..100 (0 when nothing counts). */
function scoreOf(counted: ObjectiveResult[]): number {
  const totalWeight = counted.reduce((a, o) => a + o.weight, 0);
  return totalWeight > 0 ? round((counted.reduce((a, o) => a + o.score, 0) / totalWeight) * 100) : 0;
}

/** The verdict and its reasons, in precedence order: invalid run, nothing counted, any failure, then the score. */
function decide(slo: SloFile, counted: ObjectiveResult[], score: number, invalidReasons: string[] | undefined): { verdict: Verdict; reasons: string[] } {
  const keyFails = counted.filter((o) => o.key && o.effect === 'fail');
  const fails = counted.filter((o) => o.effect === 'fail');
  const warns = counted.filter((o) => o.effect === 'warn');
  if (invalidReasons && invalidReasons.length > 0) return { verdict: 'invalid', reasons: invalidReasons.map((r) => `invalid run: ${r}`) };
  if (counted.length === 0) return { verdict: 'invalid', reasons: ['no objective could be evaluated: nothing was verified'] };
  if (fails.length > 0) {
    const reasons: string[] = [];
    for (const o of keyFails) reasons.push(`key objective ${o.id} failed: ${o.why}`);
    for (const o of fails.filter((x) => !x.key)) reasons.push(`objective ${o.id} failed: ${o.why}`);
    return { verdict: 'fail', reasons };
  }
  if (score >= slo.total.pass)
    return { verdict: 'pass', reasons: [`score ${score} >= ${slo.total.pass} and no objective failed${warns.length ? ` (${warns.length} in warning)` : ''}`] };
  if (score >= slo.total.warning)
    return { verdict: 'warn', reasons: [`score ${score} is below the pass threshold ${slo.total.pass} but >= ${slo.total.warning}: ${warns.map((o) => o.id).join(', ')} in warning`] };
  return { verdict: 'fail', reasons: [`score ${score} is below the warning threshold ${slo.total.warning}: ${warns.map((o) => o.id).join(', ')} in warning`] };
}

const round = (v: number) => Math.round(v * 100) / 100;
