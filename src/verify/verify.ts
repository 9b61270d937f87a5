// Verification of one run: collect evidence for every objective over the run window (and stage windows),
// compute derived values, evaluate, and return the report. Starts no processes and writes nothing.
import { badInput } from '../core/errors.js';
import type { RunManifest } from '../core/manifest.js';
import { evaluate, type Evidence, type Measurement, type StageMeasurement } from './evaluate.js';
import { engineFlag, engineInvalidReasons, enginePathRaw, evalEngine, loadEngineSummary, type EngineSummaryData } from './evidence-engine.js';
import { evalK6, loadK6Summary, type K6Summary } from './evidence-k6.js';
import { openPostgres, type PostgresSession } from './evidence-postgres.js';
import { prometheusClient, type PrometheusClient } from './evidence-prometheus.js';
import { evalFormula, formulaRefs, type Outcome } from './formula.js';
import { expandPromQL, type PlaceholderContext } from './placeholders.js';
import { coverageProblems, exactIncrease, exactIncreaseSelector, quantileBucketNote, queriedJobs, type SilencedSpan } from './prometheus-exact.js';
import type { Report } from './report-types.js';
import { fleetloadVersion } from '../core/version.js';
import { ledgerMeasurement, reconcile, runLedgerFiles, type LedgerExpectation, type ReconcileOutcome } from './reconcile.js';
import type { LedgerQuery, Objective, SloFile } from './slo-types.js';

export { loadSloFile } from './slo-load.js';

export { exitCodeFor } from './exit-code.js';
export type { Report } from './report-types.js';

export interface VerifyInput {
  slo: SloFile;
  manifest: RunManifest;
  runDir: string;
  prometheusUrl: string;
  pgUrl?: string; // real URLs incl. secrets (never written anywhere)
  baseline?: Report;
  failOnWarn?: boolean;
  /** Wait for the last scrape before querying (default 0; the run passes it). */
  settleMs?: number;
  /** Reasons the run orchestration already knows make the run invalid (generator overloaded, ...). */
  invalidReasons?: string[];
  /** Check that Prometheus scraped every queried job for the whole window (default true). */
  checkCoverage?: boolean;
}

/** Scrape gaps the run caused on purpose: the faults it injected that silence a Prometheus job. */
export function silencedSpans(m: RunManifest): SilencedSpan[] {
  const out: SilencedSpan[] = [];
  for (const f of m.faults ?? []) {
    if (!f.start || !f.end) continue;
    for (const job of f.silencesJobs ?? []) out.push({ job, fromSec: Date.parse(f.start) / 1000, toSec: Date.parse(f.end) / 1000, why: `fault ${f.action}` });
  }
  return out;
}

/** What the engine summary says the ACK ledger holds (files, records), when it says so. */
function ledgerExpectation(summary: EngineSummaryData): LedgerExpectation | undefined {
  if ('missing' in summary) return undefined;
  const files = enginePathRaw(summary.data, ['ledger', 'files']);
  const records = enginePathRaw(summary.data, ['ledger', 'records']);
  if (!Array.isArray(files) || typeof records !== 'number') return undefined;
  return { files: files.filter((f): f is string => typeof f === 'string'), records };
}

/** Reasons a run's own record makes it unverifiable (verdict "invalid"). */
export function runProblems(m: RunManifest): string[] {
  const out: string[] = [];
  const start = Date.parse(m.startedAt);
  const end = Date.parse(m.endedAt);
  if (!(end > start)) out.push(`the load window is empty (startedAt ${m.startedAt}, endedAt ${m.endedAt})`);
  if (m.engine && m.engine.exitCode !== 0) out.push(`the load engine exited with code ${m.engine.exitCode}: the load did not run as planned`);
  if (!m.engine && m.k6 && m.k6.exitCode !== 0 && m.k6.exitCode !== 99) out.push(`k6 exited with code ${m.k6.exitCode} (0 or 99 = thresholds crossed expected): the load did not run as planned`);
  if (m.imeis.length === 0) out.push('the manifest lists no IMEIs');
  // fixed when the run ended: an invalid run stays invalid when it is verified again
  for (const r of m.invalidReasons ?? []) if (!out.includes(r)) out.push(r);
  return out;
}

/** Judges one run: open the evidence sources, measure each objective, derive the computed ones, evaluate. */
export async function verifyRun(input: VerifyInput): Promise<Report> {
  const { slo, manifest } = input;
  if (input.settleMs && input.settleMs > 0) await new Promise((r) => setTimeout(r, input.settleMs));

  const windows = runWindows(manifest);
  const needsPg = requirePostgresUrl(input);
  const staged = stagedObjectives(slo);
  const sources = evidenceSources(input);

  const evidence = new Map<string, Evidence>();
  let coverage: string[] = [];
  try {
    coverage = await openEvidence(input, sources, windows.whole, needsPg);
    await measureObjectives(slo, sources, windows, staged, evidence);
  } finally {
    await sources.pg?.close();
  }
  deriveObjectives(slo, windows, staged, evidence);
  return judge(input, sources, evidence, coverage, windows.whole);
}

/** The windows objectives are measured over: the whole load window, and each stage's. */
interface RunWindows {
  whole: PlaceholderContext;
  stages: StageWindow[];
}
type StageWindow = PlaceholderContext & { stage: string };

function runWindows(manifest: RunManifest): RunWindows {
  const whole: PlaceholderContext = { start: new Date(manifest.startedAt), end: new Date(manifest.endedAt), runId: manifest.runId, imeis: manifest.imeis };
  const stages: StageWindow[] = manifest.stages.map((s) => ({ ...whole, start: new Date(s.start), end: new Date(s.end), stage: s.name }));
  return { whole, stages };
}

/** The objectives that query PostgreSQL; refuses before anything is measured when no URL was given for them. */
function requirePostgresUrl(input: VerifyInput): Objective[] {
  const needsPg = input.slo.objectives.filter((o) => o.source === 'postgres' || o.source === 'ledger');
  if (needsPg.length > 0 && !input.pgUrl)
    throw badInput(`objectives ${needsPg.map((o) => o.id).join(', ')} query PostgreSQL, but no PostgreSQL URL was given (--pg-url)`);
  return needsPg;
}

/** Objectives measured per stage: those asking for it, plus everything their formulas use. */
function stagedObjectives(slo: SloFile): Set<string> {
  const byId = new Map(slo.objectives.map((o) => [o.id, o]));
  const staged = new Set<string>();
  const addStaged = (o: Objective) => {
    if (staged.has(o.id)) return;
    staged.add(o.id);
    if (o.source === 'derived' && o.formula) for (const r of formulaRefs(o.formula)) if (byId.has(r)) addStaged(byId.get(r)!);
  };
  slo.objectives.filter((o) => o.stages).forEach(addStaged);
  return staged;
}

/** The run's evidence sources; the summaries and the ledger reconciliation are read once, when first asked for. */
interface Sources {
  prom: PrometheusClient | undefined;
  /** Opened by openEvidence when an objective queries PostgreSQL; closed by verifyRun. */
  pg: PostgresSession | undefined;
  k6Summary(): K6Summary;
  engineSummary(): EngineSummaryData;
  reconciled(): Promise<ReconcileOutcome>;
}

function evidenceSources(input: VerifyInput): Sources {
  const { slo, manifest } = input;
  let k6: K6Summary | undefined;
  let engine: EngineSummaryData | undefined;
  let reconciliation: Promise<ReconcileOutcome> | undefined;
  const sources: Sources = {
    prom: slo.objectives.some((o) => o.source === 'prometheus') ? prometheusClient(input.prometheusUrl) : undefined,
    pg: undefined,
    k6Summary: () => (k6 ??= loadK6Summary(input.runDir, manifest.k6?.summaryFile)),
    engineSummary: () => (engine ??= loadEngineSummary(input.runDir, manifest)),
    reconciled: () =>
      (reconciliation ??= reconcile(
        { files: runLedgerFiles(input.runDir, manifest), manifest, precision: slo.platform.timestampPrecision, expected: ledgerExpectation(sources.engineSummary()) },
        (text, values, who) => sources.pg!.rows(text, values, who),
      )),
  };
  return sources;
}

/**
 * Reach every evidence source before measuring anything, so an outage is reported as such, first.
 * Returns the Prometheus coverage problems (scrape gaps in a queried job's window).
 */
async function openEvidence(input: VerifyInput, sources: Sources, whole: PlaceholderContext, needsPg: Objective[]): Promise<string[]> {
  const { prom } = sources;
  let coverage: string[] = [];
  if (prom) await prom.query('vector(1)', whole.end, 'the Prometheus reachability check');
  // Prometheus must have seen the whole window of every job it is asked about, or its answers are guesses
  if (prom && input.checkCoverage !== false) coverage = await coverageProblems(prom, queriedJobs(input.slo), whole, silencedSpans(input.manifest));
  if (needsPg.length > 0) sources.pg = await openPostgres(input.pgUrl!);
  return coverage;
}

/** Measures every non-derived objective over the whole window, and per stage where staged, in file order. */
async function measureObjectives(slo: SloFile, sources: Sources, windows: RunWindows, staged: Set<string>, evidence: Map<string, Evidence>): Promise<void> {
  for (const o of slo.objectives) {
    if (o.source === 'derived') continue;
    const ev: Evidence = await withSamples(sources, o, windows.whole);
    if (staged.has(o.id)) ev.stages = await measureStages(sources, o, windows.stages);
    evidence.set(o.id, ev);
  }
}

/** One objective per stage window, in stage order; summary sources have no per-stage values and say so. */
async function measureStages(sources: Sources, o: Objective, stages: StageWindow[]): Promise<StageMeasurement[]> {
  const out: StageMeasurement[] = [];
  for (const ctx of stages) {
    const sm: StageMeasurement =
      o.source === 'k6' || o.source === 'engine' || o.source === 'ledger'
        ? { name: ctx.stage, start: ctx.start.toISOString(), end: ctx.end.toISOString(), value: null, reason: `the ${o.source} source has no per-stage values` }
        : { name: ctx.stage, start: ctx.start.toISOString(), end: ctx.end.toISOString(), ...(await withSamples(sources, o, ctx)) };
    out.push(sm);
  }
  return out;
}

/** An objective's value, its applicability, and its sample count when it has a samples query. */
async function withSamples(sources: Sources, o: Objective, ctx: PlaceholderContext): Promise<Measurement> {
  const m = { ...(await measure(sources, o, o.query, ctx)), ...applicability(sources, o) };
  if (o.samplesQuery === undefined) return m;
  const s = await measure(sources, o, o.samplesQuery, ctx);
  return { ...m, samples: s.value, ...(s.value === null && s.reason ? { samplesReason: s.reason } : {}) };
}

// appliesIf: a client the profile configured must show data; one it did not is not scored
function applicability(sources: Sources, o: Objective): Pick<Measurement, 'notApplicable' | 'required'> {
  if (o.appliesIf === undefined) return {};
  const f = engineFlag(sources.engineSummary(), o.appliesIf);
  if (f === false) return { notApplicable: `${o.appliesIf} is false (the profile did not run this client)` };
  if (f === true) return { required: `${o.appliesIf} is true (the profile ran this client)` };
  return {};
}

/** One query (the objective's query or its samples query) against the objective's source, over one window. */
async function measure(sources: Sources, o: Objective, query: string, ctx: PlaceholderContext): Promise<Measurement> {
  const who = `objective ${o.id} (${o.at})`;
  const prom = sources.prom;
  switch (o.source) {
    case 'prometheus': {
      const expanded = expandPromQL(query, ctx);
      const selector = exactIncreaseSelector(expanded);
      if (selector !== undefined) return exactIncrease(prom!, selector, ctx, who);
      const m = await prom!.query(expanded, ctx.end, who);
      // a percentile read from histogram buckets says which bucket it lies in, not only the interpolated figure
      const note = query === o.query && m.value !== null ? await quantileBucketNote(prom!, expanded, ctx.end, who) : undefined;
      return note ? { ...m, note } : m;
    }
    case 'postgres':
      return sources.pg!.query(query, ctx, who);
    case 'engine':
      return { ...evalEngine(sources.engineSummary(), query === o.query ? o.formula! : o.samplesFormula!), query };
    case 'ledger':
      return { ...ledgerMeasurement(await sources.reconciled(), query.trim() as LedgerQuery), query };
    case 'k6':
      return { ...evalK6(sources.k6Summary(), query === o.query ? o.formula! : o.samplesFormula!), query };
    case 'derived':
      throw new Error('derived objectives are computed, not measured');
  }
}

/** Derived values, in dependency order (cycles were rejected when the file was loaded). */
function deriveObjectives(slo: SloFile, windows: RunWindows, staged: Set<string>, evidence: Map<string, Evidence>): void {
  const byId = new Map(slo.objectives.map((o) => [o.id, o]));
  const dependency = (name: string): Evidence => derivedEvidence(byId.get(name)!);
  const derivedEvidence = (o: Objective): Evidence => {
    const known = evidence.get(o.id);
    if (known) return known;
    const ev: Evidence = computeDerived(o, windows.whole, dependency);
    if (staged.has(o.id))
      ev.stages = windows.stages.map((ctx) => ({ name: ctx.stage, start: ctx.start.toISOString(), end: ctx.end.toISOString(), ...computeDerived(o, ctx, dependency, ctx.stage) }));
    evidence.set(o.id, ev);
    return ev;
  };
  for (const o of slo.objectives) if (o.source === 'derived') derivedEvidence(o);
}

/** A derived objective's formula over one window (the whole run when stage is undefined). */
function computeDerived(o: Objective, ctx: PlaceholderContext, dependency: (name: string) => Evidence, stage?: string): Measurement {
  const lookup = (node: { t: 'ref'; name: string } | { t: 'path' }): Outcome => {
    if (node.t !== 'ref') return { value: null, reason: 'not a reference' };
    if (node.name === 'duration') return { value: (ctx.end.getTime() - ctx.start.getTime()) / 1000 };
    if (node.name === 'start') return { value: ctx.start.getTime() / 1000 };
    if (node.name === 'end') return { value: ctx.end.getTime() / 1000 };
    const ev = dependency(node.name);
    const m = stage === undefined ? ev : ev.stages?.find((s) => s.name === stage);
    if (!m) return { value: null, reason: `${node.name} has no value for stage ${stage}` };
    if (m.value === null || !Number.isFinite(m.value)) return { value: null, reason: `${node.name} has no data (${m.reason ?? String(m.value)})` };
    return { value: m.value };
  };
  const v = evalFormula(o.formula!, lookup);
  const m: Measurement = { value: v.value, ...(v.reason ? { reason: v.reason } : {}), query: o.query };
  if (o.samplesFormula) m.samples = evalFormula(o.samplesFormula, lookup).value;
  return m;
}

/** Evaluates the evidence against the SLO file and writes the report, with every reason the run is invalid. */
function judge(input: VerifyInput, sources: Sources, evidence: Map<string, Evidence>, coverage: string[], whole: PlaceholderContext): Report {
  const { slo, manifest } = input;
  // run.json and the engine summary may both carry a reason: say each once
  const invalid = [...new Set([...runProblems(manifest), ...(input.invalidReasons ?? []), ...coverage.map((c) => `Prometheus evidence incomplete: ${c}`)])];
  if (slo.objectives.some((o) => o.source === 'engine' || o.appliesIf !== undefined))
    for (const r of engineInvalidReasons(sources.engineSummary())) if (!invalid.some((x) => x.includes(r))) invalid.push(`the engine: ${r}`);
  const result = evaluate(slo, evidence, { baseline: input.baseline, invalidReasons: invalid });
  return {
    verdict: result.verdict,
    runId: manifest.runId,
    profile: manifest.profile,
    window: { start: whole.start.toISOString(), end: whole.end.toISOString(), durationSeconds: (whole.end.getTime() - whole.start.getTime()) / 1000 },
    score: result.score,
    reasons: result.reasons,
    objectives: result.objectives,
    versions: { ...manifest.versions },
    slo: { file: slo.path, sha256: slo.sha256, total: { ...slo.total } },
    fleetload: fleetloadVersion(),
    ...(input.baseline ? { baseline: { runId: input.baseline.runId, generatedAt: input.baseline.generatedAt } } : {}),
    ...(input.failOnWarn ? { failOnWarn: true } : {}),
    generatedAt: new Date().toISOString(),
  };
}

/** The report written when verification itself could not complete (verdict "error", exit 3). */
export function errorReport(manifest: RunManifest, error: unknown, slo?: SloFile): Report {
  const start = new Date(manifest.startedAt);
  const end = new Date(manifest.endedAt);
  return {
    verdict: 'error',
    runId: manifest.runId,
    profile: manifest.profile,
    window: { start: manifest.startedAt, end: manifest.endedAt, durationSeconds: Number.isFinite(end.getTime() - start.getTime()) ? (end.getTime() - start.getTime()) / 1000 : 0 },
    score: 0,
    reasons: [`verification could not complete: ${(error as Error)?.message ?? String(error)}`],
    objectives: [],
    versions: { ...manifest.versions },
    slo: { file: slo?.path ?? '', ...(slo ? { sha256: slo.sha256 } : {}), total: slo ? { ...slo.total } : { pass: 0, warning: 0 } },
    fleetload: fleetloadVersion(),
    generatedAt: new Date().toISOString(),
  };
}

