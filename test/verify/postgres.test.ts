// Real PostgreSQL (embedded, via src/stack/postgres.ts): the default SLO's database objectives must catch
// lost and duplicated records, and pass a clean run.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ExitCode, FleetloadError } from '../../src/core/errors.js';
import { startEmbeddedPostgres, type EmbeddedPg } from '../../src/stack/postgres.js';
import { freePort } from '../../src/stack/ports.js';
import { loadSloFile, parseSlo } from '../../src/verify/slo-load.js';
import { verifyRun } from '../../src/verify/verify.js';
import type { RunManifest } from '../../src/core/manifest.js';
import type { SloFile } from '../../src/verify/slo-types.js';

let db: EmbeddedPg;
let client: pg.Client;
const IMEIS = ['356307042441013', '356307042441021', '356307042441039'];
const OTHER_IMEI = '356307042441047';
const start = new Date('2025-03-01T10:00:00.000Z');
const end = new Date('2025-03-01T10:01:00.000Z');
const PER_DEVICE = 60; // one record per second inside the window

beforeAll(async () => {
  db = await startEmbeddedPostgres();
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
  await client.query(`CREATE TABLE devices (id bigserial PRIMARY KEY, imei text UNIQUE NOT NULL)`);
  await client.query(`CREATE TABLE telemetry_records (
    device_id bigint NOT NULL REFERENCES devices (id), "timestamp" timestamptz NOT NULL, received_at timestamptz NOT NULL,
    latitude double precision, longitude double precision, PRIMARY KEY (device_id, "timestamp"))`);
}, 120_000);

afterAll(async () => {
  await client?.end();
  await db?.stop();
});

/** A clean run: PER_DEVICE rows per run device in the window, plus rows outside the window and of another device. */
beforeEach(async () => {
  await client.query('TRUNCATE telemetry_records, devices RESTART IDENTITY');
  for (const imei of [...IMEIS, OTHER_IMEI]) {
    const { rows } = await client.query<{ id: string }>('INSERT INTO devices (imei) VALUES ($1) RETURNING id', [imei]);
    await client.query(
      `INSERT INTO telemetry_records (device_id, "timestamp", received_at, latitude, longitude)
       SELECT $1, $2::timestamptz + make_interval(secs => s), $2::timestamptz + make_interval(secs => s + 0.2), 44.77, 17.19
       FROM generate_series(0, $3 - 1) s`,
      [rows[0].id, start, PER_DEVICE],
    );
    // before and after the window: must not be counted
    await client.query(`INSERT INTO telemetry_records VALUES ($1, $2::timestamptz - interval '5 s', $2, 0, 0), ($1, $3::timestamptz + interval '5 s', $3, 0, 0)`, [rows[0].id, start, end]);
  }
});

const manifest: RunManifest = {
  runId: 'pg-test', profile: 'test', seed: 1, startedAt: start.toISOString(), endedAt: end.toISOString(),
  stages: [{ name: 'steady', start: start.toISOString(), end: end.toISOString(), devices: 3 }],
  devices: 3, imeis: IMEIS, target: { tcp: '127.0.0.1:5027', embedded: true }, prometheus: { url: 'http://127.0.0.1:1' },
  versions: {}, k6: { exitCode: 0, summaryFile: 'k6-summary.json' },
};

/** The default SLO file's database spine, unchanged, without the Prometheus-backed objectives. */
function dbSlo(): SloFile {
  const full = loadSloFile();
  const keep = new Set(['records_acked', 'records_sent', 'records_stored', 'missing_records', 'duplicate_rows', 'db_ingest_lag_p95', 'stored_rate']);
  return { ...full, objectives: full.objectives.filter((o) => keep.has(o.id)) };
}

function runDir(acked: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'fleetload-verify-pg-'));
  writeFileSync(join(dir, 'k6-summary.json'), JSON.stringify({ metrics: { fleet_records_acked: { values: { count: acked } }, fleet_records_sent: { values: { count: acked } } } }));
  return dir;
}

const verify = (acked = IMEIS.length * PER_DEVICE, slo = dbSlo()) => verifyRun({ slo, manifest, runDir: runDir(acked), prometheusUrl: 'http://127.0.0.1:1', pgUrl: db.url });
const byId = (r: Awaited<ReturnType<typeof verify>>) => Object.fromEntries(r.objectives.map((o) => [o.id, o]));

describe('PostgreSQL evidence with the default SLO queries', () => {
  it('a clean run passes: every ACKed record stored once, only this run\'s devices and window counted', async () => {
    const r = await verify();
    const o = byId(r);
    expect(o.records_stored.value).toBe(IMEIS.length * PER_DEVICE);
    expect(o.missing_records).toMatchObject({ value: 0, status: 'pass' });
    expect(o.duplicate_rows).toMatchObject({ value: 0, status: 'pass' });
    expect(o.db_ingest_lag_p95.value).toBeCloseTo(0.2, 5);
    expect(o.stored_rate.value).toBeCloseTo(3, 5);
    expect(o.records_stored.query).toContain('ANY($1::text[])');
    expect(r.verdict).toBe('pass');
  });

  it('records ACKed but not stored fail the key objective missing_records', async () => {
    await client.query(`DELETE FROM telemetry_records WHERE ctid IN (SELECT r.ctid FROM telemetry_records r JOIN devices d ON d.id = r.device_id WHERE d.imei = $1 AND r."timestamp" BETWEEN $2 AND $3 LIMIT 2)`, [IMEIS[1], start, end]);
    const r = await verify();
    const o = byId(r);
    expect(o.missing_records).toMatchObject({ value: 2, status: 'fail', key: true });
    expect(o.missing_records.why).toContain('2 records misses == 0');
    expect(r.verdict).toBe('fail');
    expect(r.reasons[0]).toMatch(/^key objective missing_records failed/);
  });

  it('duplicates as the platform fault stores them (+1 ms copy) and exact copies are caught, without hiding losses', async () => {
    // +1 ms copies of two records of device 0, and one lost record of device 2
    await client.query(`INSERT INTO telemetry_records SELECT device_id, "timestamp" + interval '1 millisecond', received_at, latitude, longitude FROM telemetry_records WHERE device_id = 1 AND "timestamp" BETWEEN $1 AND $1::timestamptz + interval '1 s'`, [start]);
    await client.query(`DELETE FROM telemetry_records WHERE device_id = 3 AND "timestamp" = $1`, [start]);
    const o = byId(await verify());
    expect(o.duplicate_rows).toMatchObject({ value: 2, status: 'fail' });
    expect(o.records_stored.value).toBe(IMEIS.length * PER_DEVICE - 1);
    expect(o.missing_records.value).toBe(1);
  });

  it('nothing stored at all is a failure, not no data', async () => {
    await client.query('DELETE FROM telemetry_records');
    const o = byId(await verify());
    expect(o.records_stored.value).toBe(0);
    expect(o.missing_records).toMatchObject({ value: IMEIS.length * PER_DEVICE, status: 'fail' });
  });

  it('a missing k6 summary leaves missing_records without data -> fail (key), never a pass', async () => {
    const r = await verifyRun({ slo: dbSlo(), manifest: { ...manifest, k6: { exitCode: 0 } }, runDir: mkdtempSync(join(tmpdir(), 'x-')), prometheusUrl: '', pgUrl: db.url });
    expect(byId(r).missing_records).toMatchObject({ status: 'no-data', effect: 'fail' });
    expect(byId(r).missing_records.why).toContain('records_acked has no data');
    expect(r.verdict).toBe('fail');
  });

  it('SQL that returns several columns is bad input; SQL errors are infrastructure errors', async () => {
    const slo = (q: string): SloFile => parseSlo(`version: 1\ntotal: { pass: 90, warning: 75 }\nobjectives:\n  - { id: q, description: d, source: postgres, unit: x, pass: "> 0", query: '${q}' }\n`, 'pg.yaml').slo!;
    const two = await verifyRun({ slo: slo('SELECT 1, 2'), manifest, runDir: runDir(0), prometheusUrl: '', pgUrl: db.url }).catch((e: unknown) => e);
    expect((two as FleetloadError).exitCode).toBe(ExitCode.BadInput);
    expect((two as Error).message).toContain('objective q (pg.yaml:4)');
    const bad = await verifyRun({ slo: slo('SELECT count(*) FROM no_such_table'), manifest, runDir: runDir(0), prometheusUrl: '', pgUrl: db.url }).catch((e: unknown) => e);
    expect((bad as FleetloadError).exitCode).toBe(ExitCode.Infrastructure);
    expect((bad as Error).message).toContain('no_such_table');
  });

  it('queries run read-only', async () => {
    const slo = parseSlo(`version: 1\ntotal: { pass: 90, warning: 75 }\nobjectives:\n  - { id: q, description: d, source: postgres, unit: x, pass: "> 0", query: 'WITH d AS (DELETE FROM telemetry_records RETURNING 1) SELECT count(*) FROM d' }\n`, 'pg.yaml').slo!;
    const err = await verifyRun({ slo, manifest, runDir: runDir(0), prometheusUrl: '', pgUrl: db.url }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/read-only transaction/);
    const { rows } = await client.query('SELECT count(*)::int AS n FROM telemetry_records');
    expect(rows[0].n).toBeGreaterThan(0);
  });

  it('PostgreSQL unreachable is an infrastructure error without the password', async () => {
    const port = await freePort();
    const err = await verifyRun({ slo: dbSlo(), manifest, runDir: runDir(0), prometheusUrl: '', pgUrl: `postgres://postgres:hunter2@127.0.0.1:${port}/postgres` }).catch((e: unknown) => e);
    expect((err as FleetloadError).exitCode).toBe(ExitCode.Infrastructure);
    expect((err as Error).message).not.toContain('hunter2');
  });

  it('no PostgreSQL URL for postgres objectives is bad input', async () => {
    const err = await verifyRun({ slo: dbSlo(), manifest, runDir: runDir(0), prometheusUrl: '' }).catch((e: unknown) => e);
    expect((err as FleetloadError).exitCode).toBe(ExitCode.BadInput);
  });
});
