// report.json: a contract other tools read. Add fields freely; rename or remove only on purpose.

export type Verdict = 'pass' | 'warn' | 'fail' | 'invalid' | 'error';
export type ObjectiveStatus = 'pass' | 'warn' | 'fail' | 'no-data' | 'report-only';
/** What an objective counted as in the score and verdict ('none' = not counted: reportOnly or onNoData skip). */
export type Effect = 'pass' | 'warn' | 'fail' | 'none';

export interface StageResult {
  name: string;
  start: string;
  end: string;
  value: number | null;
  status: ObjectiveStatus;
  why: string;
  samples?: number | null;
}

export interface ObjectiveResult {
  id: string;
  description: string;
  source: string;
  value: number | null;
  unit: string;
  /** Pass criteria as written, joined with " and ". */
  target: string;
  warning?: string;
  status: ObjectiveStatus;
  effect: Effect;
  key: boolean;
  weight: number;
  /** Points earned: weight x (1 pass, 0.5 warn, 0 fail); 0 when not counted. */
  score: number;
  why: string;
  samples?: number | null;
  /** The baseline's value for this objective, when a baseline was given. */
  baseline?: number | null;
  /** The query actually sent (placeholders expanded; SQL shows $n parameters). */
  query?: string;
  stages?: StageResult[];
}

export interface Report {
  verdict: Verdict;
  runId: string;
  profile: string;
  window: { start: string; end: string; durationSeconds: number };
  score: number;
  /** Why the verdict is what it is, one line each. */
  reasons: string[];
  objectives: ObjectiveResult[];
  versions: Record<string, string>;
  /** the SLO file judged against, and the sha256 of its bytes (which version of the file decided) */
  slo: { file: string; sha256?: string; total: { pass: number; warning: number } };
  /** the fleetload version that judged the run */
  fleetload?: string;
  baseline?: { runId: string; generatedAt: string; file?: string };
  failOnWarn?: boolean;
  generatedAt: string;
}
