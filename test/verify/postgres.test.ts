// Real PostgreSQL (embedded, via src/stack/postgres.ts): SQL objectives run read-only with bound parameters;
// errors are named. Record classes (lost, duplicated, extra, misattributed): reconcile.test.ts.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ExitCode, FleetloadError } from '../../src/core/errors.js';
import { startEmbeddedPostgres, type EmbeddedPg } from '../../src/stack/postgres.js';
import { freePort } from '../../src/stack/ports.js';
import { loadSloFile, parseSlo } from '../../src/verify/slo-load.js';
import { verifyRun } from '../../src/verify/verify.js';
import { validateSloAgainst } from '../../src/verify/validate.js';
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
  versions: {}, engine: { exitCode: 0, summaryFile: 'engine-summary.json' },
};

/** The default SLO file's SQL objectives, unchanged (record classes: test/verify/reconcile.test.ts). */
function dbSlo(): SloFile {
  const full = loadSloFile();
  return { ...full, objectives: full.objectives.filter((o) => o.source === 'postgres') };
}

const runDir = (_acked = 0) => mkdtempSync(join(tmpdir(), 'fleetload-verify-pg-'));

const verify = (slo = dbSlo()) => verifyRun({ slo, manifest, runDir: runDir(), prometheusUrl: 'http://127.0.0.1:1', pgUrl: db.url });
const byId = (r: Awaited<ReturnType<typeof verify>>) => Object.fromEntries(r.objectives.map((o) => [o.id, o]));

describe('PostgreSQL evidence with the default SLO queries', () => {
  it('measures the ingest lag of this run\'s devices in the window only, with bound parameters', async () => {
    const o = byId(await verify());
    expect(dbSlo().objectives.map((x) => x.id)).toContain('db_ingest_lag_p95');
    expect(o.db_ingest_lag_p95.value).toBeCloseTo(0.2, 5);
    expect(o.db_ingest_lag_p95.query).toContain('ANY($1::text[])');
  });

  it('nothing stored: the lag is no data, not 0', async () => {
    await client.query('DELETE FROM telemetry_records');
    const o = byId(await verify());
    expect(o.db_ingest_lag_p95).toMatchObject({ value: null, status: 'report-only' });
    expect(o.db_ingest_lag_p95.why).toContain('NULL');
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

  it('validateSloAgainst prepares every SQL statement of the default file (and the reconciliation\'s) before any load', async () => {
    await expect(validateSloAgainst({ slo: { ...loadSloFile(), objectives: loadSloFile().objectives.filter((o) => o.source !== 'prometheus') }, pgUrl: db.url })).resolves.toBeUndefined();
    const text = `version: 1\ntotal: { pass: 90, warning: 75 }\nobjectives:\n  - { id: ok, description: d, source: postgres, unit: x, pass: "> 0", query: 'SELECT count(*) FROM devices WHERE imei = ANY(\${imeis})' }\n  - { id: typo, description: d, source: postgres, unit: x, pass: "> 0", query: 'SELECT count(*) FROM telemetry_records WHERE recieved_at > \${start}' }\n  - { id: ledger, description: d, source: ledger, unit: x, pass: "== 0", query: missing }\n`;
    const err = await validateSloAgainst({ slo: parseSlo(text, 'v.yaml').slo!, pgUrl: db.url }).catch((e: unknown) => e);
    expect((err as FleetloadError).exitCode).toBe(ExitCode.BadInput);
    expect((err as Error).message).toMatch(/v\.yaml:5: objectives\[1\] \(typo\)\.query: PostgreSQL rejects it: .*recieved_at/);
    expect((err as Error).message).not.toContain('(ok)');
    expect((err as Error).message).not.toContain('(ledger)');
    // a platform without the tables the reconciliation reads is refused too
    await client.query('ALTER TABLE devices RENAME COLUMN imei TO serial');
    try {
      const e2 = await validateSloAgainst({ slo: parseSlo(text, 'v.yaml').slo!, pgUrl: db.url }).catch((e: unknown) => e);
      expect((e2 as Error).message).toMatch(/\(ledger\)\.query: the record reconciliation cannot read/);
    } finally {
      await client.query('ALTER TABLE devices RENAME COLUMN serial TO imei');
    }
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
