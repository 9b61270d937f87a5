// Validate an SLO file against the servers that will answer it, before any load: every PromQL expression goes
// through the Prometheus parser that will run it, every SQL statement is prepared (EXPLAIN, typed parameters) on
// the PostgreSQL that will answer it. A typo found after an hour of load wastes the hour; found here it is exit 2.
import { badInput } from '../core/errors.js';
import { openPostgres } from './evidence-postgres.js';
import { prometheusClient } from './evidence-prometheus.js';
import { bindSql, expandPromQL, type PlaceholderContext } from './placeholders.js';
import { exactIncreaseSelector } from './prometheus-exact.js';
import { FINGERPRINT_SQL, OUTSIDE_SQL } from './reconcile.js';
import type { Objective, SloFile } from './slo-types.js';

export interface ValidateTargets {
  slo: SloFile;
  /** needed when the file has prometheus objectives */
  prometheusUrl?: string;
  /** needed when the file has postgres or ledger objectives */
  pgUrl?: string;
}

/** A window of the last minute with placeholder values of the right types. */
function sampleContext(stage?: string): PlaceholderContext {
  const end = new Date();
  return { start: new Date(end.getTime() - 60_000), end, runId: 'fleetload-validate', imeis: ['356307042441013'], ...(stage ? { stage } : {}) };
}

const queries = (o: Objective) => [
  { field: 'query', text: o.query },
  ...(o.samplesQuery !== undefined ? [{ field: 'samplesQuery', text: o.samplesQuery }] : []),
];

/** Throws badInput naming file:line and field for every query the servers reject; infraError when unreachable. */
export async function validateSloAgainst(t: ValidateTargets): Promise<void> {
  const problems: string[] = [];
  const where = (o: Objective, field: string) => `${o.at}: objectives[${t.slo.objectives.indexOf(o)}] (${o.id}).${field}`;
  const promObjectives = t.slo.objectives.filter((o) => o.source === 'prometheus');
  const pgObjectives = t.slo.objectives.filter((o) => o.source === 'postgres' || o.source === 'ledger');
  if (promObjectives.length > 0 && !t.prometheusUrl) problems.push(`${promObjectives[0].at}: objectives query Prometheus, but no Prometheus URL was given`);
  if (pgObjectives.length > 0 && !t.pgUrl) problems.push(`${pgObjectives[0].at}: objectives query PostgreSQL, but no PostgreSQL URL was given (--pg-url)`);

  if (promObjectives.length > 0 && t.prometheusUrl) {
    const prom = prometheusClient(t.prometheusUrl);
    for (const o of promObjectives)
      for (const q of queries(o)) {
        const ctx = sampleContext(o.stages ? 'steady' : undefined);
        const expanded = expandPromQL(q.text, ctx);
        const selector = exactIncreaseSelector(expanded);
        const err = await prom.parseError(selector !== undefined ? `${selector}[1s]` : expanded, ctx.end);
        if (err) problems.push(`${where(o, q.field)}: Prometheus rejects it: ${err.split('\n')[0]}`);
      }
  }

  if (pgObjectives.length > 0 && t.pgUrl) {
    const pg = await openPostgres(t.pgUrl, { statementTimeoutMs: 10_000 });
    try {
      for (const o of pgObjectives) {
        const ctx = sampleContext(o.stages ? 'steady' : undefined);
        const statements =
          o.source === 'ledger'
            ? [
                { field: 'query', text: FINGERPRINT_SQL, values: [ctx.start, 1000, ctx.imeis, 60_000_000] as unknown[] },
                { field: 'query', text: OUTSIDE_SQL, values: [ctx.start, ctx.imeis, 60_000_000, ctx.start, ctx.end] as unknown[] },
              ]
            : queries(o).map((q) => ({ field: q.field, ...bindSql(q.text, ctx) }));
        for (const s of statements) {
          // EXPLAIN parses, resolves names and types the parameters without running anything (read-only anyway)
          await pg.rows(`SAVEPOINT v`, [], 'validation');
          try {
            await pg.rows(`EXPLAIN ${s.text}`, s.values, `objective ${o.id}`);
            await pg.rows(`RELEASE SAVEPOINT v`, [], 'validation');
          } catch (e) {
            await pg.rows(`ROLLBACK TO SAVEPOINT v`, [], 'validation');
            const what = o.source === 'ledger' ? 'the record reconciliation cannot read telemetry_records/devices' : 'PostgreSQL rejects it';
            problems.push(`${where(o, s.field)}: ${what}: ${(e as Error).message.replace(/^SQL for [^:]*: /, '').split('\n')[0]}`);
          }
        }
      }
    } finally {
      await pg.close();
    }
  }
  if (problems.length > 0)
    throw badInput(`the SLO file ${t.slo.path} does not fit the servers that would judge the run (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${problems.map((p) => `  ${p}`).join('\n')}`);
}
