// One writer for every ingest path (TCP and HTTP): records are queued as tickets (one per AVL packet or HTTP
// request, never split), flushed by size or age as one multi-row INSERT ... SELECT FROM unnest(...) ON CONFLICT
// DO NOTHING, and each ticket's callback runs only after its rows are committed. While PostgreSQL fails, the
// queue is kept (bounded by maxQueuedRecords, enforced by the callers through `full`) and the batch is retried
// with exponential backoff; nothing is acknowledged meanwhile. A batch the database rejects for its data
// (SQLSTATE class 22/23) is bisected: each half is retried as its own batch until the bad ticket stands alone
// and is rejected, so one poison record costs O(log n) extra statements instead of one INSERT per ticket.
import type pg from 'pg';
import type { Logger } from 'pino';
import type { Faults } from './faults.js';
import type { Metrics } from './metrics.js';
import type { PositionFields } from './record-json.js';
import { monthKey, type PartitionManager } from './schema.js';

/** A telemetry record as the writer stores it. */
export interface WriterRecord extends PositionFields {
  /** Device time, ms since epoch (UTC). */
  timestamp: number;
  /** JSON text of the IO elements, or null. */
  io: string | null;
}

/** `rejected`: the database refused the records themselves (retrying cannot help), as opposed to being unavailable. */
export type CommitResult = { ok: true; committedAt: number } | { ok: false; error: string; rejected?: boolean };

export interface Ticket {
  imei: string;
  records: WriterRecord[];
  /** Server receive time, ms since epoch. */
  receivedAt: number;
  done: (r: CommitResult) => void;
}

export interface CommittedBatch {
  committedAt: number;
  tickets: readonly Ticket[];
}

interface Queued extends Ticket {
  enqueuedAt: number;
}

export interface BatchWriterOptions {
  batchMaxRows: number;
  batchMaxAgeMs: number;
  concurrency: number;
  maxQueuedRecords: number;
  retryBaseMs: number;
  retryMaxMs: number;
  /** Plausibility window's future edge: records later than receive time + this are not observed as ingest lag. */
  maxFutureSkewMs?: number;
}

/** Device timestamps accepted by the ingest paths: 1970 (Teltonika sends unsigned ms) up to the year 9999. */
export const MIN_TIMESTAMP_MS = 0;
export const MAX_TIMESTAMP_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/**
 * Plausibility window of device timestamps: not before 2000-01-01 and not more than `maxFutureSkewMs` after the
 * server received the record. Records outside it (a device without a GPS fix, a broken clock) are counted and
 * kept out of "latest position" and of the ingest-lag histogram.
 */
export const MIN_PLAUSIBLE_MS = Date.UTC(2000, 0, 1);
export const DEFAULT_MAX_FUTURE_SKEW_MS = 300_000;

export function timestampPlausibility(ts: number, receivedAt: number, maxFutureSkewMs: number): 'ok' | 'too_old' | 'future' {
  if (ts < MIN_PLAUSIBLE_MS) return 'too_old';
  if (ts > receivedAt + maxFutureSkewMs) return 'future';
  return 'ok';
}

const INSERT_SQL = `INSERT INTO telemetry_records
  (device_id, "timestamp", received_at, latitude, longitude, altitude, speed, heading, satellites, priority, event_id, io)
SELECT d, to_timestamp(t / 1000.0), to_timestamp(r / 1000.0), lat, lon, alt, spd, hdg, sat, pri, ev, io::jsonb
  FROM unnest($1::bigint[], $2::float8[], $3::float8[], $4::float8[], $5::float8[], $6::int[], $7::int[], $8::int[],
              $9::int[], $10::smallint[], $11::int[], $12::text[])
       AS u(d, t, r, lat, lon, alt, spd, hdg, sat, pri, ev, io)
ON CONFLICT DO NOTHING`;

const DEVICES_SQL = `WITH ins AS (
  INSERT INTO devices (imei) SELECT unnest($1::text[]) ON CONFLICT (imei) DO NOTHING RETURNING id, imei)
SELECT id, imei FROM ins UNION ALL SELECT id, imei FROM devices WHERE imei = ANY($1::text[])`;

export class BatchWriter {
  private queue: Queued[] = [];
  /** Halves of batches the database rejected for their data, each flushed as its own batch (bisection). */
  private splits: Queued[][] = [];
  private lastCommit = 0;
  private queuedRows = 0;
  private inflightRows = 0;
  private inflight = 0;
  private ageTimer: NodeJS.Timeout | undefined;
  private ageTimerFor: Queued | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private draining = false;
  private paused = false;
  private readonly deviceIds = new Map<string, string>();
  private readonly committedListeners: Array<(b: CommittedBatch) => void> = [];
  private readonly pressureListeners: Array<(full: boolean) => void> = [];
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly pool: pg.Pool,
    private readonly partitions: PartitionManager,
    private readonly metrics: Metrics,
    private readonly faults: Faults,
    private readonly log: Logger,
    private readonly opts: BatchWriterOptions,
  ) {}

  /** Records received and not yet committed (queued + in flight). */
  get pending(): number {
    return this.queuedRows + this.inflightRows;
  }

  /** Wall-clock ms of the last successful commit (0 before the first). */
  get lastCommitAt(): number {
    return this.lastCommit;
  }

  /** True while callers should stop taking new records (TCP pauses sockets, HTTP answers 503). */
  get full(): boolean {
    return this.paused;
  }

  onCommitted(fn: (b: CommittedBatch) => void): void {
    this.committedListeners.push(fn);
  }

  /** Called with true when the queue reaches maxQueuedRecords and with false when it is back under half. */
  onPressure(fn: (full: boolean) => void): void {
    this.pressureListeners.push(fn);
  }

  submit(t: Ticket): void {
    if (t.records.length === 0) {
      t.done({ ok: true, committedAt: Date.now() });
      return;
    }
    this.queue.push({ ...t, enqueuedAt: performance.now() });
    this.queuedRows += t.records.length;
    this.updatePressure();
    this.schedule();
  }

  /** Flushes everything now, waiting at most until `deadline` (performance.now() ms); what is left is failed. */
  async drain(deadline: number): Promise<void> {
    this.draining = true;
    this.schedule();
    while (this.pending > 0 && performance.now() < deadline) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, deadline - performance.now()));
        this.idleWaiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    clearTimeout(this.ageTimer);
    clearTimeout(this.retryTimer);
    const left = [...this.splits.splice(0).flat(), ...this.queue.splice(0)];
    this.queuedRows = 0;
    if (left.length > 0) this.log.error({ tickets: left.length, records: left.reduce((n, t) => n + t.records.length, 0) }, 'shutdown: records left unwritten (database unavailable); they were not acknowledged');
    for (const t of left) t.done({ ok: false, error: 'shutting down' });
    this.updatePressure();
  }

  private updatePressure(): void {
    const pending = this.pending;
    this.metrics.writerQueuedRecords.set(pending);
    const next = this.paused ? pending >= this.opts.maxQueuedRecords / 2 : pending >= this.opts.maxQueuedRecords;
    if (next !== this.paused) {
      this.paused = next;
      for (const l of this.pressureListeners) l(next);
    }
  }

  private schedule(): void {
    if (this.retryTimer) return;
    while (this.inflight < this.opts.concurrency && this.splits.length > 0) {
      const batch = this.splits.shift() as Queued[];
      this.queuedRows -= rowsOf(batch);
      void this.flush(batch);
    }
    while (this.inflight < this.opts.concurrency && this.queue.length > 0) {
      const head = this.queue[0];
      const dueByAge = performance.now() - head.enqueuedAt >= this.opts.batchMaxAgeMs;
      if (!(this.draining || dueByAge || this.queuedRows >= this.opts.batchMaxRows)) break;
      void this.flush(this.take());
    }
    const head = this.queue.length > 0 && this.inflight < this.opts.concurrency ? this.queue[0] : undefined;
    if (this.ageTimer && this.ageTimerFor === head) return; // the timer for this head is already set
    clearTimeout(this.ageTimer);
    this.ageTimer = undefined;
    this.ageTimerFor = head;
    if (head) {
      const wait = Math.max(0, this.opts.batchMaxAgeMs - (performance.now() - head.enqueuedAt));
      this.ageTimer = setTimeout(() => {
        this.ageTimer = undefined;
        this.schedule();
      }, wait);
    }
  }

  /** Whole tickets from the head of the queue, up to batchMaxRows (at least one ticket). */
  private take(): Queued[] {
    const batch: Queued[] = [];
    let rows = 0;
    while (this.queue.length > 0) {
      const n = this.queue[0].records.length;
      if (batch.length > 0 && rows + n > this.opts.batchMaxRows) break;
      batch.push(this.queue.shift() as Queued);
      rows += n;
    }
    this.queuedRows -= rows;
    return batch;
  }

  private async resolveDevices(imeis: string[]): Promise<void> {
    const missing = imeis.filter((i) => !this.deviceIds.has(i));
    if (missing.length === 0) return;
    const res = await this.pool.query<{ id: string; imei: string }>(DEVICES_SQL, [missing]);
    for (const r of res.rows) this.deviceIds.set(r.imei, r.id);
  }

  /** Writes one batch and ACKs it, or hands it to onFailure; the awaits stay here so the steps run without extra microtask turns between them. */
  private async flush(batch: Queued[]): Promise<void> {
    const rows = batch.reduce((n, t) => n + t.records.length, 0);
    this.inflight++;
    this.inflightRows += rows;
    try {
      await this.resolveDevices([...new Set(batch.map((t) => t.imei))]);
      const f = this.faults.current;
      const { cols, months, dropped, extra } = this.columnsOf(batch, rows, f);
      await this.partitions.ensure(months);
      const t0 = performance.now();
      if (f.insertDelayMs > 0) await new Promise((r) => setTimeout(r, f.insertDelayMs));
      const res = cols.length > 0 ? await this.pool.query(INSERT_SQL, cols.params()) : { rowCount: 0 };
      const committedAt = Date.now();
      const seconds = (performance.now() - t0) / 1000;
      this.countCommit(batch, { rows, stored: cols.length, inserted: res.rowCount ?? 0, dropped, extra, seconds, committedAt });
      this.acknowledge(batch, rows, committedAt);
    } catch (err) {
      this.inflightRows -= rows;
      this.onFailure(batch, err);
    } finally {
      this.inflight--;
      if (this.pending === 0) this.wakeIdleWaiters();
      this.schedule();
    }
  }

  /** The batch as INSERT columns, with the fault knobs applied (records dropped or stored twice) and the months it touches. */
  private columnsOf(batch: Queued[], rows: number, f: Faults['current']): { cols: Columns; months: Set<number>; dropped: number; extra: number } {
    const months = new Set<number>();
    for (const t of batch) for (const r of t.records) months.add(monthKey(r.timestamp));
    const cols = new Columns(rows);
    let dropped = 0;
    let extra = 0;
    for (const t of batch) {
      const id = this.deviceIds.get(t.imei) as string;
      for (const r of t.records) {
        if (this.faults.roll(f.ackedNotStoredRatio)) {
          dropped++;
          continue;
        }
        cols.push(id, r.timestamp, t.receivedAt, r);
        if (this.faults.roll(f.duplicateRatio)) {
          cols.push(id, r.timestamp + 1, t.receivedAt, r);
          months.add(monthKey(r.timestamp + 1));
          extra++;
        }
      }
    }
    return { cols, months, dropped, extra };
  }

  /** Metrics of one committed INSERT: rows stored but not inserted were dropped by dedupe (ON CONFLICT). */
  private countCommit(batch: Queued[], c: { rows: number; stored: number; inserted: number; dropped: number; extra: number; seconds: number; committedAt: number }): void {
    this.metrics.dbBatchInsertDuration.observe(c.seconds);
    this.metrics.dbBatchSize.observe(c.rows);
    this.metrics.recordsInserted.inc(c.inserted);
    const dup = c.stored - c.inserted;
    if (dup > 0) this.metrics.recordsDuplicate.inc(dup);
    if (c.dropped > 0) this.metrics.recordsFaultDropped.inc(c.dropped);
    if (c.extra > 0) this.metrics.recordsFaultDuplicated.inc(c.extra);
    this.metrics.dbUp.set(1);
    const lag = this.metrics.ingestLag;
    const skew = this.opts.maxFutureSkewMs ?? DEFAULT_MAX_FUTURE_SKEW_MS;
    for (const t of batch) {
      for (const r of t.records) {
        // an implausible device clock would put years into the lag histogram; such records are counted at ingest
        if (timestampPlausibility(r.timestamp, t.receivedAt, skew) === 'ok') lag.observe((c.committedAt - r.timestamp) / 1000);
      }
    }
  }

  /** After a commit: the writer counts as recovered, every ticket is ACKed, then committed-batch listeners run. */
  private acknowledge(batch: Queued[], rows: number, committedAt: number): void {
    this.lastCommit = committedAt;
    if (this.failures > 0) this.log.info({ afterFailures: this.failures }, 'database writes recovered');
    this.failures = 0;

    this.inflightRows -= rows;
    this.updatePressure();
    for (const t of batch) t.done({ ok: true, committedAt });
    const committed: CommittedBatch = { committedAt, tickets: batch };
    for (const l of this.committedListeners) {
      try {
        l(committed);
      } catch (err) {
        this.log.error({ err }, 'committed-batch listener failed');
      }
    }
  }

  private wakeIdleWaiters(): void {
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const fn of w) fn();
  }

  private onFailure(batch: Queued[], err: unknown): void {
    const code = (err as { code?: string }).code ?? '';
    const message = err instanceof Error ? err.message : String(err);
    this.metrics.dbBatchErrors.inc();
    // Data errors (SQLSTATE class 22, 23) would fail again forever: bisect the batch until the bad ticket is alone.
    if (/^2[23]/.test(code)) {
      if (batch.length === 1) {
        this.metrics.recordsRejected.inc(batch[0].records.length);
        this.log.error({ code, err: message, imei: batch[0].imei, records: batch[0].records.length }, 'records rejected by the database; not acknowledged');
        batch[0].done({ ok: false, error: message, rejected: true });
        this.updatePressure();
        return;
      }
      const half = Math.ceil(batch.length / 2);
      this.log.warn({ code, err: message, tickets: batch.length }, 'batch rejected by the database; retrying it in two halves');
      this.splits.unshift(batch.slice(0, half), batch.slice(half));
      this.queuedRows += rowsOf(batch);
      this.updatePressure();
      return;
    }
    this.metrics.dbUp.set(0);
    this.splits.unshift(batch);
    this.queuedRows += batch.reduce((n, t) => n + t.records.length, 0);
    this.updatePressure();
    const delay = Math.min(this.opts.retryMaxMs, this.opts.retryBaseMs * 2 ** Math.min(this.failures, 20));
    this.failures++;
    const lvl = this.failures === 1 || this.failures % 20 === 0 ? 'error' : 'debug';
    this.log[lvl]({ code, err: message, failures: this.failures, retryInMs: delay, pending: this.pending }, 'batch insert failed; retrying (no ACKs until it succeeds)');
    if (!this.retryTimer) {
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.schedule();
      }, delay);
    }
  }
}

function rowsOf(batch: readonly Queued[]): number {
  return batch.reduce((n, t) => n + t.records.length, 0);
}

/** Column arrays of a batch, sent as PostgreSQL array literals (much faster than pg's generic array encoding). */
class Columns {
  length = 0;
  private readonly d: string[] = [];
  private readonly t: number[] = [];
  private readonly r: number[] = [];
  private readonly lat: number[] = [];
  private readonly lon: number[] = [];
  private readonly alt: number[] = [];
  private readonly spd: number[] = [];
  private readonly hdg: number[] = [];
  private readonly sat: number[] = [];
  private readonly pri: number[] = [];
  private readonly ev: number[] = [];
  private readonly io: string[] = [];

  constructor(_capacity: number) {}

  push(deviceId: string, ts: number, receivedAt: number, rec: WriterRecord): void {
    this.d.push(deviceId);
    this.t.push(ts);
    this.r.push(receivedAt);
    this.lat.push(rec.latitude);
    this.lon.push(rec.longitude);
    this.alt.push(rec.altitude);
    this.spd.push(rec.speed);
    this.hdg.push(rec.heading);
    this.sat.push(rec.satellites);
    this.pri.push(rec.priority);
    this.ev.push(rec.eventId);
    this.io.push(rec.io === null ? 'NULL' : quoteArrayElement(rec.io));
    this.length++;
  }

  params(): string[] {
    const lit = (a: ReadonlyArray<number | string>) => `{${a.join(',')}}`;
    return [
      lit(this.d),
      lit(this.t),
      lit(this.r),
      lit(this.lat),
      lit(this.lon),
      lit(this.alt),
      lit(this.spd),
      lit(this.hdg),
      lit(this.sat),
      lit(this.pri),
      lit(this.ev),
      lit(this.io),
    ];
  }
}

function quoteArrayElement(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}
