// Record-level reconciliation against a real PostgreSQL (embedded) with the platform's own schema, and ACK ledgers
// written with the engine's LedgerWriter. Each way a platform can lose, invent, move or repeat a record must fail
// the objective it should, and no unrelated one; an untouched copy passes.
import { join } from 'node:path';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FLAG_SENT_UNACKED, LedgerWriter } from '../../src/core/ledger.js';
import { migrate } from '../../src/platform/schema.js';
import { imeiForIndex } from '../../src/protocol/teltonika/index.js';
import { startEmbeddedPostgres, type EmbeddedPg } from '../../src/stack/postgres.js';
import { loadSloFile } from '../../src/verify/slo-load.js';
import type { SloFile, TimestampPrecision } from '../../src/verify/slo-types.js';
import { verifyRun } from '../../src/verify/verify.js';
import { cleanSummary, END, manifestFor, runFolder, SEED, START } from './engine-fixture.js';

let db: EmbeddedPg;
let pool: pg.Pool;
const DEVICES = 3;
const PER_DEVICE = 60;
const imei = (i: number) => imeiForIndex(SEED, i);
const OTHER_IMEI = imeiForIndex(SEED + 1, 0);
/** device i reports every second at a 137·i ms phase: whole-ms timestamps, distinct across devices */
const ts = (device: number, n: number) => START.getTime() + n * 1000 + 137 * device;
/** the packet in flight when the run ended (device 0): sent, never ACKed */
const UNACKED_TS = ts(0, PER_DEVICE) - 400;

beforeAll(async () => {
  db = await startEmbeddedPostgres();
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  await migrate(pool, pino({ level: 'silent' }));
}, 120_000);

afterAll(async () => {
  await pool?.end();
  await db?.stop();
});

/** What a correct platform stored: every ACKed record once; plus rows outside the window and of another device. */
beforeEach(async () => {
  await pool.query('TRUNCATE telemetry_records, devices RESTART IDENTITY CASCADE');
  await pool.query(`ALTER TABLE telemetry_records DROP CONSTRAINT IF EXISTS telemetry_records_pkey`);
  await pool.query(`ALTER TABLE telemetry_records ADD PRIMARY KEY (device_id, "timestamp")`);
  for (let d = 0; d <= DEVICES; d++) {
    const id = (await pool.query<{ id: string }>('INSERT INTO devices (imei) VALUES ($1) RETURNING id', [d < DEVICES ? imei(d) : OTHER_IMEI])).rows[0].id;
    const stamps = Array.from({ length: PER_DEVICE }, (_, n) => new Date(ts(d, n)));
    await pool.query(`INSERT INTO telemetry_records (device_id, "timestamp", received_at) SELECT $1, t, t + interval '200 ms' FROM unnest($2::timestamptz[]) t`, [id, stamps]);
    await pool.query(`INSERT INTO telemetry_records (device_id, "timestamp", received_at) VALUES ($1, $2::timestamptz - interval '1 hour', now()), ($1, $3::timestamptz + interval '1 hour', now())`, [id, START, END]);
  }
});

/** A run folder whose ledger lists every record of the run devices as ACKed (one record per packet, two writers). */
function run(opts: { ledger?: boolean; unacked?: boolean } = {}): string {
  const dir = runFolder(cleanSummary(DEVICES, DEVICES * PER_DEVICE));
  if (opts.ledger === false) return dir;
  const writers = [0, 1].map((w) => new LedgerWriter(join(dir, 'ledger', `w${w}.bin`), { runId: 'run-1', seed: SEED, part: `w${w}` }));
  for (let d = 0; d < DEVICES; d++) for (let n = 0; n < PER_DEVICE; n++) writers[d % 2].append(d, ts(d, n) + 250, [ts(d, n)]);
  if (opts.unacked !== false) writers[0].append(0, UNACKED_TS + 5, [UNACKED_TS], FLAG_SENT_UNACKED);
  writers.forEach((w) => w.close());
  return dir;
}

const CLASSES = ['records_missing', 'records_duplicated', 'records_extra', 'records_misattributed'] as const;
function ledgerSlo(precision: TimestampPrecision = '1ms'): SloFile {
  const full = loadSloFile();
  return { ...full, platform: { timestampPrecision: precision }, objectives: full.objectives.filter((o) => o.source === 'ledger') };
}

async function verify(dir = run(), precision: TimestampPrecision = '1ms') {
  const report = await verifyRun({ slo: ledgerSlo(precision), manifest: manifestFor(DEVICES), runDir: dir, prometheusUrl: '', pgUrl: db.url });
  return { report, o: Object.fromEntries(report.objectives.map((x) => [x.id, x])) };
}

/** Exactly these classes fail, with these counts; every other class passes at 0. */
function expectOnly(o: Awaited<ReturnType<typeof verify>>['o'], failing: Partial<Record<(typeof CLASSES)[number], number>>) {
  for (const id of CLASSES) {
    if (failing[id] !== undefined) expect(o[id], id).toMatchObject({ value: failing[id], status: 'fail' });
    else expect(o[id], id).toMatchObject({ value: 0, status: 'pass' });
  }
}

const deviceId = async (d: number) => (await pool.query<{ id: string }>('SELECT id FROM devices WHERE imei = $1', [imei(d)])).rows[0].id;
const iso = (ms: number) => new Date(ms).toISOString();

describe('record reconciliation (ledger vs PostgreSQL)', () => {
  it('an untouched copy passes every class; rows outside the window and of other devices are not counted', async () => {
    const { report, o } = await verify();
    expectOnly(o, {});
    expect(o.records_stored.value).toBe(DEVICES * PER_DEVICE);
    expect(report.verdict).toBe('pass');
  });

  it('lost records fail records_missing with the first examples, and nothing else', async () => {
    await pool.query(`DELETE FROM telemetry_records WHERE device_id = $1 AND "timestamp" IN ($2, $3)`, [await deviceId(1), new Date(ts(1, 3)), new Date(ts(1, 40))]);
    const { report, o } = await verify();
    expectOnly(o, { records_missing: 2 });
    expect(o.records_missing.why).toContain(`${imei(1)} @ ${iso(ts(1, 3))} ACKed, not stored`);
    expect(o.records_missing.why).toContain(iso(ts(1, 40)));
    expect(report.verdict).toBe('fail');
  });

  it('more than five losses: the count is exact and the why shows the first five', async () => {
    await pool.query(`DELETE FROM telemetry_records WHERE device_id = $1 AND "timestamp" < $2`, [await deviceId(2), new Date(ts(2, 12))]);
    const { o } = await verify();
    expectOnly(o, { records_missing: 12 });
    expect(o.records_missing.why).toContain('first 5 of 12');
    expect(o.records_missing.why.match(/ACKed, not stored/g)).toHaveLength(5);
  });

  it('losses offset by extras are both caught (a count comparison would see nothing)', async () => {
    const id = await deviceId(0);
    await pool.query(`DELETE FROM telemetry_records WHERE device_id = $1 AND "timestamp" = $2`, [id, new Date(ts(0, 10))]);
    await pool.query(`INSERT INTO telemetry_records (device_id, "timestamp", received_at) VALUES ($1, $2, now())`, [id, new Date(ts(0, 20) + 500)]);
    const { o } = await verify();
    expectOnly(o, { records_missing: 1, records_extra: 1 });
    expect(o.records_stored.value).toBe(DEVICES * PER_DEVICE);
    expect(o.records_extra.why).toContain(`${imei(0)} @ ${iso(ts(0, 20) + 500)} stored, never sent`);
  });

  it('records stored under another run device are misattributed, not missing + extra', async () => {
    await pool.query(`UPDATE telemetry_records SET device_id = $1 WHERE device_id = $2 AND "timestamp" IN ($3, $4)`, [await deviceId(1), await deviceId(0), new Date(ts(0, 5)), new Date(ts(0, 6))]);
    const { o } = await verify();
    expectOnly(o, { records_misattributed: 2 });
    expect(o.records_misattributed.why).toContain(`sent by ${imei(0)}, stored under ${imei(1)} @ ${iso(ts(0, 5))}`);
  });

  it('a record stored under a device outside the run is missing (the foreign row is not this run\'s business)', async () => {
    await pool.query(`UPDATE telemetry_records SET device_id = (SELECT id FROM devices WHERE imei = $1) WHERE device_id = $2 AND "timestamp" = $3`, [OTHER_IMEI, await deviceId(2), new Date(ts(2, 7))]);
    const { o } = await verify();
    expectOnly(o, { records_missing: 1 });
  });

  it('duplicates at several offsets: within the precision they are duplicated, beyond it extra', async () => {
    const id = await deviceId(2);
    // a platform without the primary key can store an exact copy
    await pool.query(`ALTER TABLE telemetry_records DROP CONSTRAINT telemetry_records_pkey`);
    const copy = (offsetMs: number, n: number) =>
      pool.query(`INSERT INTO telemetry_records (device_id, "timestamp", received_at) SELECT device_id, "timestamp" + $3 * interval '1 millisecond', received_at FROM telemetry_records WHERE device_id = $1 AND "timestamp" = $2`, [id, new Date(ts(2, n)), offsetMs]);
    await copy(0, 1); // exact copy
    await copy(0.3, 2); // sub-millisecond copy: the same record at 1 ms
    await copy(2, 3); // 2 ms later: one right row plus one nobody sent
    await copy(250, 4);
    const { o } = await verify();
    expectOnly(o, { records_duplicated: 2, records_extra: 2 });
    expect(o.records_duplicated.why).toContain(`${imei(2)} @ ${iso(ts(2, 1))} stored 2×`);
    expect(o.records_extra.why).toContain(iso(ts(2, 3) + 2));
  });

  it('the duplicate fault\'s +1 ms copy fails records_extra', async () => {
    await pool.query(`INSERT INTO telemetry_records (device_id, "timestamp", received_at) SELECT device_id, "timestamp" + interval '1 millisecond', received_at FROM telemetry_records WHERE device_id = $1 AND "timestamp" BETWEEN $2 AND $3`, [await deviceId(0), START, END]);
    const { o } = await verify();
    expectOnly(o, { records_extra: PER_DEVICE });
  });

  it('a platform storing whole seconds fails at 1 ms and passes when the SLO file declares timestampPrecision: 1s', async () => {
    await pool.query(`UPDATE telemetry_records SET "timestamp" = date_trunc('second', "timestamp") WHERE device_id <> (SELECT id FROM devices WHERE imei = $1)`, [OTHER_IMEI]);
    const at1ms = await verify();
    // device 0 has phase 0: its records are already whole seconds
    expectOnly(at1ms.o, { records_missing: (DEVICES - 1) * PER_DEVICE, records_extra: (DEVICES - 1) * PER_DEVICE });
    const at1s = await verify(run(), '1s');
    expectOnly(at1s.o, {});
    expect(at1s.report.verdict).toBe('pass');
  });

  it('at 1 s, two rows in one second for one device are a duplicate', async () => {
    await pool.query(`INSERT INTO telemetry_records (device_id, "timestamp", received_at) VALUES ($1, $2, now())`, [await deviceId(1), new Date(ts(1, 9) + 600)]);
    expectOnly((await verify(run(), '1s')).o, { records_duplicated: 1 });
    expectOnly((await verify(run(), '1ms')).o, { records_extra: 1 });
  });

  it('a record in flight at the end (SENT_UNACKED) may be stored or not', async () => {
    expectOnly((await verify()).o, {});
    await pool.query(`INSERT INTO telemetry_records (device_id, "timestamp", received_at) VALUES ($1, $2, now())`, [await deviceId(0), new Date(UNACKED_TS)]);
    expectOnly((await verify()).o, {});
    // without the ledger saying it was sent, the same row is one nobody sent
    expectOnly((await verify(run({ unacked: false }))).o, { records_extra: 1 });
    // the device's fingerprint differs for another reason (a loss): the exact comparison still allows it
    await pool.query(`DELETE FROM telemetry_records WHERE device_id = $1 AND "timestamp" = $2`, [await deviceId(0), new Date(ts(0, 30))]);
    expectOnly((await verify()).o, { records_missing: 1 });
  });

  it('no ledger: every class is no data and fails, saying why (never a pass)', async () => {
    const { report, o } = await verify(run({ ledger: false }));
    for (const id of CLASSES) {
      expect(o[id]).toMatchObject({ status: 'no-data', effect: 'fail', value: null });
      expect(o[id].why).toContain('no ACK ledger');
    }
    expect(report.verdict).toBe('fail');
  });

  it('a ledger of another run is refused', async () => {
    const dir = run();
    const w = new LedgerWriter(join(dir, 'ledger', 'w9.bin'), { runId: 'someone-else', seed: SEED, part: 'w9' });
    w.close();
    const { o } = await verify(dir);
    expect(o.records_missing).toMatchObject({ status: 'no-data', effect: 'fail' });
    expect(o.records_missing.why).toContain('belongs to run someone-else');
  });
});
