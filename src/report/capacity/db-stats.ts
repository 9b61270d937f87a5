// db-stats.json: how much space telemetry rows take in PostgreSQL, collected at the end of a run while the
// database is up (read-only queries), so growth can be projected later with the stack gone.
import { readFileSync } from 'node:fs';
import type pg from 'pg';
import { runFile, writeJsonAtomic } from '../../core/run-folder.js';

const DB_STATS_FORMAT = 'fleetload-db-stats/1';

export interface PartitionStats {
  name: string;
  /** partition bound as PostgreSQL prints it, e.g. FOR VALUES FROM (...) TO (...) / DEFAULT */
  bound: string | null;
  rows: number;
  /** main fork only */
  heapBytes: number;
  /** heap + TOAST + free-space and visibility maps */
  tableBytes: number;
  indexBytes: number;
  indexes: number;
}

export interface IndexEstimate {
  name: string;
  columns: string[];
  /** estimated bytes per entry: 8-byte tuple header + MAXALIGN(column bytes) + 4-byte line pointer, at 90 % leaf fill */
  bytesPerEntry: number;
}

export interface DbStats {
  format: typeof DB_STATS_FORMAT;
  collectedAt: string;
  table: string;
  serverVersion: string;
  window: { start: string; end: string };
  /** rows in the whole table (all partitions; exact count) */
  rows: number;
  heapBytes: number;
  tableBytes: number;
  indexBytes: number;
  totalBytes: number;
  partitions: PartitionStats[];
  /** rows of this run (its IMEIs inside its window) and their mean heap-tuple size (pg_column_size of the row) */
  runRows: number;
  avgTupleBytes: number | null;
  indexEstimates: IndexEstimate[];
  bytesPerRow: { value: number; basis: string; measured: number | null; estimated: number | null } | null;
}

/** Rows at which sizes/rows is trusted over the per-tuple estimate (small tables waste most of their pages). */
const MEASURED_MIN_ROWS = 10_000;
const PAGE = 8192;
const align8 = (n: number) => Math.ceil(n / 8) * 8;

/** Chooses bytes/row: measured sizes over rows on a large table, else the tuple-width estimate. Pure. */
export function bytesPerRow(s: Pick<DbStats, 'rows' | 'partitions' | 'avgTupleBytes' | 'indexEstimates'>): DbStats['bytesPerRow'] {
  const used = s.partitions.filter((p) => p.rows > 0);
  const rows = used.reduce((a, p) => a + p.rows, 0);
  // metapages of each index are a fixed cost, not growth
  const bytes = used.reduce((a, p) => a + p.tableBytes + Math.max(0, p.indexBytes - p.indexes * PAGE), 0);
  const measured = rows > 0 ? bytes / rows : null;
  const estimated =
    s.avgTupleBytes !== null && s.avgTupleBytes > 0
      ? // heap: tuple (header included by pg_column_size) aligned + 4-byte line pointer, page header ~0.3 %
        (align8(s.avgTupleBytes) + 4) * (PAGE / (PAGE - 24)) + s.indexEstimates.reduce((a, i) => a + i.bytesPerEntry, 0)
      : null;
  if (measured !== null && (rows >= MEASURED_MIN_ROWS || estimated === null)) {
    return { value: measured, basis: `measured: (heap + TOAST + index bytes) / ${rows} rows`, measured, estimated };
  }
  if (estimated !== null) {
    return {
      value: estimated,
      basis: `estimated from the mean stored tuple (${s.avgTupleBytes?.toFixed(0)} B) and index entry widths: ${rows} rows are too few for sizes/rows (${measured === null ? 'n/a' : measured.toFixed(0)} B, mostly empty pages)`,
      measured,
      estimated,
    };
  }
  return null;
}

export interface CollectWindow {
  start: string | Date;
  end: string | Date;
}

/**
 * Collects db-stats from PostgreSQL (read-only: catalog sizes, count(*), pg_column_size over the run's rows).
 * `table` defaults to telemetry_records and the device table to devices(id, imei), the reference schema.
 */
async function collectDbStats(pgUrl: string, imeis: string[], window: CollectWindow, o: { table?: string; timeoutMs?: number } = {}): Promise<DbStats> {
  const table = o.table ?? 'telemetry_records';
  if (!/^[a-z_][a-z0-9_]*$/i.test(table)) throw new Error(`table name "${table}" is not a plain identifier`);
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: pgUrl, statement_timeout: o.timeoutMs ?? 60_000, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    const version = (await client.query<{ server_version: string }>('SHOW server_version')).rows[0].server_version;
    const partitions = await partitionStats(client, table);
    const runRowsOf: RunRows = { table, imeis, start: new Date(window.start).toISOString(), end: new Date(window.end).toISOString() };
    const run = await runRowStats(client, runRowsOf);
    const indexEstimates = await indexEstimatesOf(client, runRowsOf, run.rows);
    const sum = (f: (p: PartitionStats) => number) => partitions.reduce((a, p) => a + f(p), 0);
    const base = { rows: sum((p) => p.rows), partitions, avgTupleBytes: run.avgTupleBytes, indexEstimates };
    return {
      format: DB_STATS_FORMAT,
      collectedAt: new Date().toISOString(),
      table,
      serverVersion: version,
      window: { start: runRowsOf.start, end: runRowsOf.end },
      ...base,
      heapBytes: sum((p) => p.heapBytes),
      tableBytes: sum((p) => p.tableBytes),
      indexBytes: sum((p) => p.indexBytes),
      totalBytes: sum((p) => p.tableBytes + p.indexBytes),
      runRows: run.rows,
      bytesPerRow: bytesPerRow(base),
    };
  } finally {
    await client.end().catch(() => {});
  }
}

/** The rows of this run: its IMEIs inside its window (ISO times), in `table`. */
interface RunRows {
  table: string;
  imeis: string[];
  start: string;
  end: string;
}

/** Sizes of the table and each of its partitions (a plain table is its own only "partition"), with exact row counts. */
async function partitionStats(client: pg.Client, table: string): Promise<PartitionStats[]> {
  const parts = await client.query<{ name: string; bound: string | null; heap: string; tbl: string; idx: string; nidx: string }>(
    `WITH rels AS (
       SELECT c.oid, c.relname, c.relpartbound FROM pg_inherits i
         JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
        WHERE p.relname = $1 AND p.relnamespace = to_regnamespace(current_schema())
       UNION ALL
       SELECT c.oid, c.relname, NULL FROM pg_class c
        WHERE c.relname = $1 AND c.relkind = 'r' AND c.relnamespace = to_regnamespace(current_schema()))
     SELECT relname AS name, pg_get_expr(relpartbound, oid) AS bound, pg_relation_size(oid) AS heap,
            pg_table_size(oid) AS tbl, pg_indexes_size(oid) AS idx,
            (SELECT count(*) FROM pg_index x WHERE x.indrelid = rels.oid) AS nidx
       FROM rels ORDER BY relname`,
    [table],
  );
  const counts = await client.query<{ name: string; n: string }>(`SELECT tableoid::regclass::text AS name, count(*) AS n FROM ${table} GROUP BY 1`);
  const rowsOf = new Map(counts.rows.map((r) => [r.name.replace(/^.*\./, '').replace(/"/g, ''), Number(r.n)]));
  return parts.rows.map((r) => ({
    name: r.name,
    bound: r.bound,
    rows: rowsOf.get(r.name) ?? 0,
    heapBytes: Number(r.heap),
    tableBytes: Number(r.tbl),
    indexBytes: Number(r.idx),
    indexes: Number(r.nidx),
  }));
}

/** How many rows this run stored and their mean heap-tuple size (null without rows). */
async function runRowStats(client: pg.Client, q: RunRows): Promise<{ rows: number; avgTupleBytes: number | null }> {
  const run = await client.query<{ n: string; avg: string | null }>(
    `SELECT count(*) AS n, avg(pg_column_size(r.*)) AS avg FROM ${q.table} r JOIN devices d ON d.id = r.device_id
      WHERE d.imei = ANY($1) AND r."timestamp" BETWEEN $2 AND $3`,
    [q.imeis, q.start, q.end],
  );
  return { rows: Number(run.rows[0].n), avgTupleBytes: run.rows[0].avg === null ? null : Number(run.rows[0].avg) };
}

/** Index entry widths: the key and INCLUDE columns of each index on the parent table, measured over this run's rows. */
async function indexEstimatesOf(client: pg.Client, q: RunRows, runRows: number): Promise<IndexEstimate[]> {
  const idx = await client.query<{ name: string; cols: string[] | null }>(
    `SELECT ic.relname AS name, array_agg(a.attname::text ORDER BY k.ord) FILTER (WHERE a.attname IS NOT NULL) AS cols
       FROM pg_index x JOIN pg_class ic ON ic.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
       CROSS JOIN LATERAL unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
       LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
      WHERE t.relname = $1 AND t.relnamespace = to_regnamespace(current_schema())
      GROUP BY ic.relname ORDER BY ic.relname`,
    [q.table],
  );
  const indexEstimates: IndexEstimate[] = [];
  for (const r of idx.rows) {
    const cols = r.cols ?? [];
    let width = 8 * Math.max(1, cols.length);
    if (cols.length && runRows > 0) {
      const expr = cols.map((c) => `coalesce(pg_column_size(r.${client.escapeIdentifier(c)}), 0)`).join(' + ');
      const w = await client.query<{ w: string | null }>(
        `SELECT avg(${expr}) AS w FROM ${q.table} r JOIN devices d ON d.id = r.device_id WHERE d.imei = ANY($1) AND r."timestamp" BETWEEN $2 AND $3`,
        [q.imeis, q.start, q.end],
      );
      if (w.rows[0].w !== null) width = Number(w.rows[0].w);
    }
    indexEstimates.push({ name: r.name, columns: cols, bytesPerEntry: (8 + align8(width) + 4) / 0.9 });
  }
  return indexEstimates;
}

function writeDbStats(runDir: string, s: DbStats): string {
  return writeJsonAtomic(runFile(runDir, 'dbStats'), s);
}

export function readDbStats(runDir: string): DbStats | undefined {
  try {
    const s = JSON.parse(readFileSync(runFile(runDir, 'dbStats'), 'utf8')) as DbStats;
    return s.format === DB_STATS_FORMAT ? s : undefined;
  } catch {
    return undefined;
  }
}

/** collectDbStats + writeDbStats for run.ts: never throws (a missing growth section beats a failed run). */
export async function captureDbStats(runDir: string, pgUrl: string, imeis: string[], window: CollectWindow, log: (l: string) => void = () => {}): Promise<string | undefined> {
  try {
    return writeDbStats(runDir, await collectDbStats(pgUrl, imeis, window));
  } catch (e) {
    log(`database stats not stored: ${e instanceof Error ? e.message : String(e)}`);
    return undefined;
  }
}
