// The verifier's public surface (what run orchestration and the CLI use).
export { verifyRun, errorReport, runProblems, type VerifyInput } from './verify.js';
export { validateSloAgainst, type ValidateTargets } from './validate.js';
export { reconcile, runLedgerFiles, type Reconciliation } from './reconcile.js';
export { loadSloFile, parseSlo, defaultSloPath, formatIssue, type SloIssue } from './slo-load.js';
export { exitCodeFor } from './exit-code.js';
export { prometheusClient } from './evidence-prometheus.js';
export { loadBaseline } from './baseline.js';
export { evaluate, judge, type Evidence, type Measurement } from './evaluate.js';
export type { Report, ObjectiveResult, StageResult, Verdict, ObjectiveStatus, Effect } from './report-types.js';
export type { SloFile, Objective, Criterion, Source, NoDataPolicy } from './slo-types.js';
