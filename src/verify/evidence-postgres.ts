// PostgreSQL evidence: each query returns one row with one numeric column. Runs inside a READ ONLY
// transaction, with placeholders as bound parameters ($1..$n) — never spliced into the SQL text.
import pg from 'pg';
import { badInput, infraError } from '../core/errors.js';
import { redactUrl } from '../core/redact.js';
import { bindSql, type PlaceholderContext } from './placeholders.js';
import type { Measurement } from './evaluate.js';

export interface PostgresSession {
  query(sql: string, ctx: PlaceholderContext, who: string): Promise<Measurement>;
  /** Raw rows as arrays (record reconciliation); same read-only transaction. */
  rows(text: string, values: unknown[], who: string): Promise<unknown[][]>;
  close(): Promise<void>;
}

export async function openPostgres(url: string, opts: { statementTimeoutMs?: number } = {}): Promise<PostgresSession> {
  const shown = redactUrl(url);
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: 10_000,
    statement_timeout: opts.statementTimeoutMs ?? 60_000,
    application_name: 'fleetload-verify',
  });
  client.on('error', () => {
    /* reported by the failing query */
  });
  try {
    await client.connect();
    await client.query('BEGIN READ ONLY');
  } catch (e) {
    await client.end().catch(() => undefined);
    throw infraError(`PostgreSQL at ${shown} is unreachable: ${(e as Error).message}`, e);
  }
  return {
    async query(sql, ctx, who) {
      const bound = bindSql(sql, ctx);
      let res: pg.QueryResult;
      try {
        res = await client.query({ text: bound.text, values: bound.values });
      } catch (e) {
        throw infraError(`SQL for ${who} failed: ${(e as Error).message}\n  query: ${bound.text}`, e);
      }
      const shownQuery = bound.text;
      if (res.rows.length === 0) return { value: null, reason: 'the query returned no rows', query: shownQuery };
      if (res.rows.length > 1 || res.fields.length !== 1)
        throw badInput(`${who}: the SQL must return one row with one column, got ${res.rows.length} row(s) x ${res.fields.length} column(s)\n  query: ${bound.text}`);
      const raw = (res.rows[0] as Record<string, unknown>)[res.fields[0].name];
      if (raw === null || raw === undefined) return { value: null, reason: 'the query returned NULL', query: shownQuery };
      const value = typeof raw === 'number' ? raw : typeof raw === 'bigint' ? Number(raw) : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
      if (Number.isNaN(value) && !(typeof raw === 'string' && raw === 'NaN'))
        throw badInput(`${who}: the SQL returned ${JSON.stringify(raw)}, expected a number\n  query: ${bound.text}`);
      return { value, query: shownQuery };
    },
    async rows(text, values, who) {
      try {
        const res = await client.query<unknown[]>({ text, values, rowMode: 'array' });
        return res.rows;
      } catch (e) {
        throw infraError(`SQL for ${who} failed: ${(e as Error).message}`, e);
      }
    },
    async close() {
      await client.query('ROLLBACK').catch(() => undefined);
      await client.end().catch(() => undefined);
    },
  };
}
