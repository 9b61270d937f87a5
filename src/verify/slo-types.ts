// The SLO file as validated objects. Produced only by slo-load.ts, consumed by evidence and evaluation.
import type { Formula } from './formula.js';

/** `k6` is a deprecated alias of `engine` that reads an old run folder's k6-summary.json. */
export type Source = 'engine' | 'ledger' | 'prometheus' | 'postgres' | 'derived' | 'k6';
export type NoDataPolicy = 'fail' | 'warn' | 'pass' | 'skip';
export const SOURCES: readonly Source[] = ['engine', 'ledger', 'prometheus', 'postgres', 'derived', 'k6'];
/** How the platform stores record timestamps: reconciliation compares the ledger's timestamps at this precision. */
export type TimestampPrecision = '1us' | '1ms' | '1s';
export const PRECISION_US: Record<TimestampPrecision, number> = { '1us': 1, '1ms': 1000, '1s': 1_000_000 };
/** The record classes a `source: ledger` objective can count (src/verify/reconcile.ts). */
export const LEDGER_QUERIES = ['missing', 'duplicated', 'extra', 'misattributed', 'acked', 'unacked', 'stored'] as const;
export type LedgerQuery = (typeof LEDGER_QUERIES)[number];
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
  /** PromQL, SQL, an engine-summary expression, a ledger class, or a derived formula — placeholders still unexpanded. */
  query: string;
  /** Parsed form of `query` for engine, k6 and derived sources. */
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
  /**
   * An engine-summary path (e.g. api.configured) saying whether the objective applies to this run. false -> not
   * applicable (shown, not scored); true -> no data is a failure whatever onNoData says; missing -> no data.
   */
  appliesIf?: string;
  /** Where the objective is written, for messages: "slo.yaml:42". */
  at: string;
}

export interface SloFile {
  version: 1;
  /** Absolute path of the file the objectives came from. */
  path: string;
  total: { pass: number; warning: number };
  platform: { timestampPrecision: TimestampPrecision };
  /** sha256 of the file's bytes, for reports */
  sha256: string;
  objectives: Objective[];
}
