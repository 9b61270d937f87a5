// The SLO file as validated objects. Produced only by slo-load.ts, consumed by evidence and evaluation.
import type { Formula } from './formula.js';

export type Source = 'prometheus' | 'postgres' | 'k6' | 'derived';
export type NoDataPolicy = 'fail' | 'warn' | 'pass' | 'skip';
export const SOURCES: readonly Source[] = ['prometheus', 'postgres', 'k6', 'derived'];
export const NO_DATA_POLICIES: readonly NoDataPolicy[] = ['fail', 'warn', 'pass', 'skip'];

export type CompareOp = '<' | '<=' | '>' | '>=' | '==' | '!=';

/** One criterion string such as "<= 0.5", "0.1..0.5" or "<=+10%", parsed. */
export type Criterion =
  | { kind: 'absolute'; text: string; op: CompareOp; value: number }
  | { kind: 'range'; text: string; low: number; high: number }
  /** Relative to the baseline's value of the same objective: target = base*(1+delta/100) (percent) or base+delta. */
  | { kind: 'relative'; text: string; op: CompareOp; delta: number; percent: boolean };

export interface Objective {
  id: string;
  description: string;
  source: Source;
  /** PromQL, SQL, a k6 summary expression, or a derived formula — placeholders still unexpanded. */
  query: string;
  /** Parsed form of `query` for k6 and derived sources. */
  formula?: Formula;
  unit: string;
  pass: Criterion[];
  warning: Criterion[];
  weight: number;
  key: boolean;
  onNoData: NoDataPolicy;
  minSamples?: number;
  samplesQuery?: string;
  samplesFormula?: Formula;
  reportOnly: boolean;
  stages: boolean;
  /** Where the objective is written, for messages: "slo.yaml:42". */
  at: string;
}

export interface SloFile {
  version: 1;
  /** Absolute path of the file the objectives came from. */
  path: string;
  total: { pass: number; warning: number };
  objectives: Objective[];
}
