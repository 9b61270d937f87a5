// Idempotent schema migration and monthly partition management for telemetry_records.
import type pg from 'pg';
import type { Logger } from 'pino';

const MIGRATION_LOCK = 0x466c6565; // any constant; serialises concurrent platform starts on one database

const DDL = [
  `CREATE TABLE IF NOT EXISTS devices (
     id bigserial PRIMARY KEY,
     imei text UNIQUE NOT NULL,
     first_seen timestamptz NOT NULL DEFAULT now()
   )`,
  `CREATE TABLE IF NOT EXISTS telemetry_records (
     device_id bigint NOT NULL REFERENCES devices (id),
     "timestamp" timestamptz NOT NULL,
     received_at timestamptz NOT NULL,
     latitude double precision,
     longitude double precision,
     altitude int,
     speed int,
     heading int,
     satellites int,
     priority smallint,
     event_id int,
     io jsonb,
     PRIMARY KEY (device_id, "timestamp")
   ) PARTITION BY RANGE ("timestamp")`,
  // Safety net for timestamps outside the managed month range (e.g. a device with a broken clock).
  `CREATE TABLE IF NOT EXISTS telemetry_records_default PARTITION OF telemetry_records DEFAULT`,
  // Covering index from seed 000: "latest position" and "track" queries read only the index.
  `CREATE INDEX IF NOT EXISTS idx_telemetry_device_time_covering
     ON telemetry_records (device_id, "timestamp" DESC) INCLUDE (latitude, longitude, speed, heading)`,
];

/** Months (UTC) from this one on get their own partition; earlier timestamps go to the default partition. */
export const FIRST_MANAGED_MONTH = monthKey(Date.UTC(2000, 0, 1));
/** How far into the future monthly partitions are created; later timestamps go to the default partition. */
export const FUTURE_MONTHS = 24;

/** year*12 + month0 of a UTC ms timestamp. */
export function monthKey(ms: number): number {
  const d = new Date(ms);
  return d.getUTCFullYear() * 12 + d.getUTCMonth();
}

export function partitionName(key: number): string {
  const y = Math.floor(key / 12);
  const m = (key % 12) + 1;
  return `telemetry_records_y${y}m${String(m).padStart(2, '0')}`;
}

function monthStartIso(key: number): string {
  return new Date(Date.UTC(Math.floor(key / 12), key % 12, 1)).toISOString();
}

export async function migrate(pool: pg.Pool, log: Logger): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      for (const sql of DDL) await client.query(sql);
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
    }
  } finally {
    client.release();
  }
  log.info('schema ready');
}

/**
 * Creates monthly partitions before a batch is inserted, for the months the batch touches. Known partitions
 * are cached, so the usual cost is one Set lookup per distinct month of a batch.
 */
export class PartitionManager {
  private readonly known = new Set<number>();
  private loaded = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  private managed(key: number): boolean {
    return key >= FIRST_MANAGED_MONTH && key <= monthKey(this.now()) + FUTURE_MONTHS;
  }

  private async load(): Promise<void> {
    const res = await this.pool.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i
         JOIN pg_class c ON c.oid = i.inhrelid
         JOIN pg_class p ON p.oid = i.inhparent
        WHERE p.relname = 'telemetry_records'`,
    );
    for (const { name } of res.rows) {
      const m = /^telemetry_records_y(\d{4})m(\d{2})$/.exec(name);
      if (m) this.known.add(Number(m[1]) * 12 + Number(m[2]) - 1);
    }
    this.loaded = true;
  }

  /** Ensures partitions for the given month keys exist (months outside the managed range are skipped). */
  async ensure(keys: Iterable<number>): Promise<void> {
    if (!this.loaded) await this.load();
    const missing = [...new Set(keys)].filter((k) => !this.known.has(k) && this.managed(k));
    for (const key of missing) await this.create(key);
  }

  private async create(key: number): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK + 1]);
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${partitionName(key)} PARTITION OF telemetry_records
           FOR VALUES FROM ('${monthStartIso(key)}') TO ('${monthStartIso(key + 1)}')`,
      );
      await client.query('COMMIT');
      this.known.add(key);
      this.log.info({ partition: partitionName(key) }, 'partition created');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      const code = (err as { code?: string }).code;
      // 23514: the default partition already holds rows of that month; they stay there and so will new ones.
      if (code === '23514') {
        this.known.add(key);
        this.log.warn({ partition: partitionName(key) }, 'default partition holds rows of this month; month stays in the default partition');
        return;
      }
      throw err;
    } finally {
      client.release();
    }
  }
}
