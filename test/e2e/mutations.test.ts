// The mutation suite (issue 12): ONE real smoke run on the embedded stack, its kept evidence copied and altered
// the way platform bugs and monitoring gaps alter it — records lost, invented, moved, repeated, truncated; scrapes
// missing; a counter born mid-run; clients that saw a dead API or a refused WebSocket; an overloaded generator; a
// missing or foreign ACK ledger. Each copy is judged by `fleetload verify` exactly as a user would, and must fail the
// objective it should and no unrelated one (or be invalid, naming why); the untouched copy passes.
import { readFileSync, rmSync, truncateSync, statSync, writeFileSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { imeiForIndex } from '../../src/protocol/teltonika/index.js';
import { fleetload, ROOT } from '../helpers/cli.js';
import {
  alterPostgres,
  alterPrometheus,
  copyRun,
  deleteSeries,
  deviceIds,
  editJson,
  ledgerEntries,
  samples,
  verifyCopy,
  writeLedger,
  type VerifyReport,
} from './mutations/evidence-copy.js';

const LEDGER_IDS = ['records_missing', 'records_duplicated', 'records_extra', 'records_misattributed'];
const reportsDir = mkdtempSync(join(tmpdir(), 'fleetload-mutations-'));
const RUN_ID = `e2e-mutations-${Date.now().toString(36)}`;
let RUN = '';
let manifest: { imeis: string[]; startedAt: string; endedAt: string; runId: string; seed: number };
/** The untouched copy's verification: every mutation is compared with it. */
let clean: VerifyReport;
const startSec = () => Date.parse(manifest.startedAt) / 1000;
const endSec = () => Date.parse(manifest.endedAt) / 1000;

beforeAll(async () => {
  // FLEETLOAD_MUTATION_RUN=<an earlier smoke run folder> skips the run while working on the suite itself
  if (process.env.FLEETLOAD_MUTATION_RUN) RUN = process.env.FLEETLOAD_MUTATION_RUN;
  else {
    const res = await fleetload(['run', '--profile', 'smoke', '--duration', '15s', '--run-id', RUN_ID, '--reports-dir', reportsDir], { timeoutMs: 150_000 });
    RUN = join(reportsDir, RUN_ID);
    expect(res.code, `${res.stdout}\n${res.stderr}`).toBe(0);
  }
  manifest = JSON.parse(readFileSync(join(RUN, 'run.json'), 'utf8')) as typeof manifest;
  const untouched = await verifyCopy(copyRun(RUN, 'untouched'));
  expect(untouched.code, untouched.stderr).toBe(0);
  clean = untouched.report;
}, 180_000);

const byId = (r: VerifyReport) => new Map(r.objectives.map((o) => [o.id, o]));
const value = (r: VerifyReport, id: string) => byId(r).get(id)?.value;

/**
 * The verdict is fail (exit 1), the failed objectives are exactly `failing` (with these values where given), and
 * every other objective has the status it had on the untouched copy.
 */
function expectOnlyFails(res: { code: number; report: VerifyReport; stderr: string }, failing: Record<string, number | null | undefined>): void {
  const { report } = res;
  // a failed measurement and no data counted as a failure (status no-data, effect fail) both fail the run
  const failed = report.objectives.filter((o) => o.effect === 'fail');
  expect(failed.map((o) => o.id).sort(), JSON.stringify(failed, null, 1)).toEqual(Object.keys(failing).sort());
  for (const [id, v] of Object.entries(failing)) if (v !== undefined) expect(value(report, id), id).toBe(v);
  const before = byId(clean);
  for (const o of report.objectives) if (!(o.id in failing)) expect(`${o.id}: ${o.status}/${o.effect}`).toBe(`${o.id}: ${before.get(o.id)?.status}/${before.get(o.id)?.effect}`);
  expect(report.verdict).toBe('fail');
  expect(res.code, res.stderr).toBe(1);
}

/** Copies the run, alters its PostgreSQL evidence, verifies it. */
async function pgMutation(name: string, alter: (db: pg.Client, ids: Map<string, string>) => Promise<void>, args: string[] = []) {
  const dir = copyRun(RUN, name);
  await alterPostgres(dir, async (db) => alter(db, await deviceIds(db, manifest.imeis)));
  return verifyCopy(dir, args);
}

/** Rows of the run's devices, oldest first: (device_id, timestamp as text with µs). */
async function runRows(db: pg.Client, ids: Map<string, string>): Promise<Array<{ device_id: string; ts: string }>> {
  const r = await db.query<{ device_id: string; ts: string }>(
    `SELECT device_id::text, "timestamp"::text AS ts FROM telemetry_records WHERE device_id = ANY($1::int8[]) ORDER BY "timestamp", device_id`,
    [[...ids.values()]],
  );
  return r.rows;
}

/** Inserts a copy of each given row, `shift` later (an interval), under `deviceId` (default: its own device). */
async function copyRows(db: pg.Client, rows: Array<{ device_id: string; ts: string }>, shift: string, deviceId?: string): Promise<number> {
  let n = 0;
  for (const r of rows)
    n += (
      await db.query(
        `INSERT INTO telemetry_records (device_id, "timestamp", received_at, latitude, longitude, speed)
           SELECT $3, "timestamp" + $4::interval, received_at, latitude, longitude, speed FROM telemetry_records WHERE device_id = $1 AND "timestamp" = $2::timestamptz LIMIT 1`,
        [r.device_id, r.ts, deviceId ?? r.device_id, shift],
      )
    ).rowCount!;
  return n;
}

async function deleteRows(db: pg.Client, rows: Array<{ device_id: string; ts: string }>): Promise<number> {
  let n = 0;
  for (const r of rows) n += (await db.query(`DELETE FROM telemetry_records WHERE device_id = $1 AND "timestamp" = $2::timestamptz`, [r.device_id, r.ts])).rowCount!;
  return n;
}

/** An SLO file: the shipped one with another timestamp precision. */
function sloWithPrecision(precision: string): string {
  const text = readFileSync(join(ROOT, 'src', 'verify', 'default-slo.yaml'), 'utf8');
  const altered = text.replace(/^platform: \{ timestampPrecision: 1ms \}$/m, `platform: { timestampPrecision: ${precision} }`);
  expect(altered).not.toBe(text);
  const file = join(reportsDir, `slo-${precision}.yaml`);
  writeFileSync(file, altered);
  return file;
}

describe('mutation suite: a real smoke run, its evidence altered', () => {
  it('the untouched copy passes, every record reconciled', () => {
    expect(clean.verdict).toBe('pass');
    for (const id of LEDGER_IDS) expect(byId(clean).get(id)).toMatchObject({ value: 0, status: 'pass' });
    expect(value(clean, 'records_stored')).toBe(value(clean, 'records_acked'));
    expect(value(clean, 'records_acked')).toBeGreaterThan(100);
  });

  describe('PostgreSQL: records lost, invented, moved, repeated', () => {
    it('lost records fail records_missing only', async () => {
      const res = await pgMutation('lost', async (db, ids) => {
        expect(await deleteRows(db, (await runRows(db, ids)).slice(100, 103))).toBe(3);
      });
      expectOnlyFails(res, { records_missing: 3 });
    }, 60_000);

    it('every record lost (table emptied) fails records_missing with every ACKed record', async () => {
      const res = await pgMutation('all-lost', async (db) => {
        await db.query('TRUNCATE telemetry_records');
      });
      expectOnlyFails(res, { records_missing: value(clean, 'records_acked') });
    }, 60_000);

    it('losses offset by rows nobody sent are missing AND extra, never a pass', async () => {
      const res = await pgMutation('offset', async (db, ids) => {
        const rows = await runRows(db, ids);
        expect(await deleteRows(db, rows.slice(50, 53))).toBe(3);
        // the same count of rows comes back for run devices inside the window, at times no device sent
        expect(await copyRows(db, rows.slice(120, 123), '437 milliseconds')).toBe(3);
      });
      expectOnlyFails(res, { records_missing: 3, records_extra: 3 });
      expect(value(res.report, 'records_stored')).toBe(value(clean, 'records_stored'));
    }, 60_000);

    it("one device's records stored under another run device fail records_misattributed only", async () => {
      let moved = 0;
      const res = await pgMutation('misattributed', async (db, ids) => {
        const [a, b] = [...ids.values()];
        // rows whose timestamp the other device also has would collide on the primary key: they stay
        moved = (
          await db.query(
            `UPDATE telemetry_records r SET device_id = $2 WHERE device_id = $1
               AND NOT EXISTS (SELECT 1 FROM telemetry_records o WHERE o.device_id = $2 AND o."timestamp" = r."timestamp")`,
            [a, b],
          )
        ).rowCount!;
        expect(moved).toBeGreaterThan(5);
      });
      expectOnlyFails(res, { records_misattributed: moved });
    }, 60_000);

    it('two devices swapped fail records_misattributed with both devices\' records', async () => {
      let moved = 0;
      const res = await pgMutation('swapped', async (db, ids) => {
        const [, , a, b] = [...ids.values()];
        // through a temporary device row: the primary key holds at every step
        const tmp = (await db.query<{ id: string }>(`INSERT INTO devices (imei) VALUES ('000000000000000') RETURNING id::text`)).rows[0].id;
        moved += (await db.query('UPDATE telemetry_records SET device_id = $2 WHERE device_id = $1', [a, tmp])).rowCount!;
        moved += (await db.query('UPDATE telemetry_records SET device_id = $2 WHERE device_id = $1', [b, a])).rowCount!;
        await db.query('UPDATE telemetry_records SET device_id = $2 WHERE device_id = $1', [tmp, b]);
      });
      expectOnlyFails(res, { records_misattributed: moved });
    }, 60_000);

    it('a record stored under an IMEI outside the run is missing (not misattributed: nobody of the run has it)', async () => {
      const res = await pgMutation('foreign-imei', async (db, ids) => {
        const other = (await db.query<{ id: string }>(`INSERT INTO devices (imei) VALUES ('350000000000001') RETURNING id::text`)).rows[0].id;
        const [row] = (await runRows(db, ids)).slice(77, 78);
        expect((await db.query('UPDATE telemetry_records SET device_id = $3 WHERE device_id = $1 AND "timestamp" = $2::timestamptz', [row.device_id, row.ts, other])).rowCount).toBe(1);
      });
      expectOnlyFails(res, { records_missing: 1 });
    }, 60_000);

    it('a record moved in time is missing plus extra, inside the window or out of it (an hour back)', async () => {
      const res = await pgMutation('moved-in-time', async (db, ids) => {
        const rows = await runRows(db, ids);
        const [inside, outside] = [rows[60], rows[90]];
        await db.query(`UPDATE telemetry_records SET "timestamp" = "timestamp" + interval '3 seconds 17 milliseconds' WHERE device_id = $1 AND "timestamp" = $2::timestamptz`, [inside.device_id, inside.ts]);
        await db.query(`UPDATE telemetry_records SET "timestamp" = "timestamp" - interval '1 hour' WHERE device_id = $1 AND "timestamp" = $2::timestamptz`, [outside.device_id, outside.ts]);
      });
      expectOnlyFails(res, { records_missing: 2, records_extra: 2 });
    }, 60_000);

    it('copies at +1 ms, +2 ms and +250 ms are extra rows (each a row nobody sent)', async () => {
      const res = await pgMutation('copies', async (db, ids) => {
        const rows = await runRows(db, ids);
        expect(await copyRows(db, [rows[10]], '1 millisecond')).toBe(1);
        expect(await copyRows(db, [rows[40]], '2 milliseconds')).toBe(1);
        expect(await copyRows(db, [rows[70]], '250 milliseconds')).toBe(1);
      });
      expectOnlyFails(res, { records_extra: 3 });
    }, 60_000);

    it('a copy 0.3 ms later is a duplicate at the declared 1 ms precision', async () => {
      const res = await pgMutation('sub-ms-copy', async (db, ids) => {
        expect(await copyRows(db, [(await runRows(db, ids))[33]], '300 microseconds')).toBe(1);
      });
      expectOnlyFails(res, { records_duplicated: 1 });
    }, 60_000);

    it('exact duplicates in a table without its primary key fail records_duplicated only', async () => {
      const res = await pgMutation('exact-duplicate', async (db, ids) => {
        await db.query('ALTER TABLE telemetry_records DROP CONSTRAINT telemetry_records_pkey');
        const rows = await runRows(db, ids);
        expect(await copyRows(db, [rows[5], rows[150]], '0')).toBe(2);
        expect(await copyRows(db, [rows[5]], '0')).toBe(1); // one record three times: 2 surplus rows
      });
      expectOnlyFails(res, { records_duplicated: 3 });
    }, 60_000);

    it('a second device row with the same IMEI (no unique constraint) holding copies fails records_duplicated', async () => {
      let copied = 0;
      const res = await pgMutation('duplicate-device', async (db, ids) => {
        await db.query('ALTER TABLE devices DROP CONSTRAINT devices_imei_key');
        const [imei, id] = [...ids.entries()][3];
        const twin = (await db.query<{ id: string }>('INSERT INTO devices (imei) VALUES ($1) RETURNING id::text', [imei])).rows[0].id;
        const rows = (await runRows(db, ids)).filter((r) => r.device_id === id).slice(0, 4);
        copied = await copyRows(db, rows, '0', twin);
      });
      expectOnlyFails(res, { records_duplicated: copied });
      expect(copied).toBe(4);
    }, 60_000);

    it('records invented past the load window for run devices (a copy of the last record, a future timestamp) fail records_extra', async () => {
      const res = await pgMutation('after-window', async (db, ids) => {
        const rows = await runRows(db, ids);
        const last = rows[rows.length - 1];
        expect(await copyRows(db, [last], '250 milliseconds')).toBe(1);
        expect(await copyRows(db, [rows[12]], '1 day')).toBe(1);
      });
      expectOnlyFails(res, { records_extra: 2 });
    }, 60_000);

    it('whole-second truncation fails at 1 ms (missing + extra) and passes with timestampPrecision: 1s', async () => {
      let truncated = 0;
      const dir = copyRun(RUN, 'truncated');
      await alterPostgres(dir, async (db) => {
        const ids = await deviceIds(db, manifest.imeis);
        // a platform storing whole seconds has no primary key on them (two records of a device in one second)
        await db.query('ALTER TABLE telemetry_records DROP CONSTRAINT telemetry_records_pkey');
        truncated = (
          await db.query(`UPDATE telemetry_records SET "timestamp" = date_trunc('second', "timestamp") WHERE device_id = ANY($1::int8[]) AND "timestamp" <> date_trunc('second', "timestamp")`, [[...ids.values()]])
        ).rowCount!;
      });
      expect(truncated).toBeGreaterThan(100);
      expectOnlyFails(await verifyCopy(dir), { records_missing: truncated, records_extra: undefined });
      const at1s = await verifyCopy(dir, ['--slo', sloWithPrecision('1s')]);
      expect(at1s.report.verdict, JSON.stringify(at1s.report.reasons)).toBe('pass');
      for (const id of LEDGER_IDS) expect(byId(at1s.report).get(id)).toMatchObject({ value: 0, status: 'pass' });
    }, 90_000);
  });

  describe('Prometheus: scrape gaps and counters', () => {
    async function promMutation(name: string, alter: (url: string) => Promise<void>) {
      const dir = copyRun(RUN, name);
      await alterPrometheus(dir, alter);
      return verifyCopy(dir);
    }

    it('the altering itself changes nothing: a Prometheus round trip without a deletion gives the same report', async () => {
      const res = await promMutation('prometheus-control', async () => {});
      expect(res.report.verdict).toBe('pass');
      expect(res.report.objectives.map((o) => [o.id, o.value, o.status])).toEqual(clean.objectives.map((o) => [o.id, o.value, o.status]));
    }, 60_000);

    it('a scrape gap over the middle of the run makes it invalid, naming the gap', async () => {
      const res = await promMutation('scrape-gap', (url) => deleteSeries(url, '{job="fleet-platform"}', startSec() + 4, startSec() + 12));
      expect(res.report.verdict).toBe('invalid');
      expect(res.code).toBe(4);
      expect(res.report.reasons.join('\n')).toMatch(/job "fleet-platform".*no successful scrape from .* \(\d+\.\d s > 3 × the 1 s scrape interval\)/);
    }, 60_000);

    it('a platform never scraped in the window makes the run invalid', async () => {
      const res = await promMutation('never-scraped', (url) => deleteSeries(url, 'up{job="fleet-platform"}', startSec() - 600, endSec() + 600));
      expect(res.report.verdict).toBe('invalid');
      expect(res.code).toBe(4);
      expect(res.report.reasons.join('\n')).toMatch(/no scrape of job "fleet-platform" in the run window/);
    }, 60_000);

    it('a counter born mid-run is counted from 0: the same exact count, received_vs_acked unchanged', async () => {
      const mid = (startSec() + endSec()) / 2;
      let before = 0;
      const res = await promMutation('counter-born', async (url) => {
        await deleteSeries(url, 'telemetry_records_received_total', startSec() - 3600, mid);
        const left = await samples(url, 'telemetry_records_received_total{job="fleet-platform"}', endSec(), 600);
        before = left.length;
        expect(Number(left[0][0][0])).toBeGreaterThan(mid); // the series now starts mid-run, above 0
        expect(Number(left[0][0][1])).toBeGreaterThan(0);
      });
      expect(before).toBe(1);
      expect(res.report.verdict).toBe('pass');
      expect(value(res.report, 'platform_received_records')).toBe(value(clean, 'platform_received_records'));
      expect(value(res.report, 'received_vs_acked')).toBe(value(clean, 'received_vs_acked'));
    }, 60_000);

    it('a received counter missing altogether fails received_vs_acked (no data), never a silent 0', async () => {
      const res = await promMutation('counter-gone', (url) => deleteSeries(url, 'telemetry_records_received_total', startSec() - 3600, endSec() + 3600));
      expectOnlyFails(res, { received_vs_acked: null });
      expect(byId(res.report).get('platform_received_records')?.value).toBeNull();
    }, 60_000);

    it('batch-insert histogram gone fails batch_insert_p95 (no data)', async () => {
      const res = await promMutation('histogram-gone', (url) => deleteSeries(url, 'db_batch_insert_duration_seconds_bucket', startSec() - 3600, endSec() + 3600));
      expectOnlyFails(res, { batch_insert_p95: null });
    }, 60_000);
  });

  describe("the client's side: engine summary, manifest, ACK ledger", () => {
    async function fileMutation(name: string, alter: (dir: string) => void) {
      const dir = copyRun(RUN, name);
      alter(dir);
      return verifyCopy(dir);
    }
    type Summary = {
      api: { configured: boolean; requests: number; succeeded: number; latencyMs?: unknown; errors: Record<string, number> };
      ws: { configured: boolean; connected: number; errors: Record<string, number>; missed: number; received: number; expected: number; messages: number; freshnessMs?: unknown };
      generator: { invalidReasons: string[] };
      records: { acked: number };
    };
    const summary = (dir: string, edit: (s: Summary) => void) => editJson<Summary>(join(dir, 'engine-summary.json'), edit);

    it('a dead API (configured, nothing completed) fails the API objectives, not skipped', async () => {
      const res = await fileMutation('dead-api', (dir) =>
        summary(dir, (s) => {
          s.api.requests = 0;
          s.api.succeeded = 0;
          delete s.api.latencyMs;
        }),
      );
      expectOnlyFails(res, { api_latency_p95: null, api_error_ratio: null });
    }, 60_000);

    it('an API that refused every request fails api_error_ratio and api_latency_p95', async () => {
      const res = await fileMutation('refusing-api', (dir) =>
        summary(dir, (s) => {
          s.api.errors.refused = s.api.requests;
          s.api.succeeded = 0;
          delete s.api.latencyMs;
        }),
      );
      expectOnlyFails(res, { api_latency_p95: null, api_error_ratio: 1 });
    }, 60_000);

    it('a refused WebSocket fails the WebSocket objectives', async () => {
      const res = await fileMutation('ws-refused', (dir) =>
        summary(dir, (s) => {
          s.ws.errors.refused = 1;
          s.ws.connected = 0;
          s.ws.missed = s.ws.expected;
          s.ws.received = 0;
          s.ws.messages = 0;
          delete s.ws.freshnessMs;
        }),
      );
      expectOnlyFails(res, { ws_connection_failures: 1, ws_missed_records: undefined, ws_freshness_p95: null });
    }, 60_000);

    it('an overloaded generator (engine summary) is invalid, exit 4, never pass', async () => {
      const reason = 'generator overloaded: event-loop delay p99 412 ms > 100 ms';
      const res = await fileMutation('overloaded-engine', (dir) => summary(dir, (s) => s.generator.invalidReasons.push(reason)));
      expect(res.report.verdict).toBe('invalid');
      expect(res.code).toBe(4);
      expect(res.report.reasons.join('\n')).toContain(reason);
    }, 60_000);

    it('an invalid reason fixed in run.json stays invalid on every re-verify; so does a failed engine', async () => {
      const reason = 'generator overloaded: 12 % of requests dropped';
      const res = await fileMutation('overloaded-manifest', (dir) => editJson<{ invalidReasons: string[] }>(join(dir, 'run.json'), (m) => m.invalidReasons.push(reason)));
      expect(res.report.verdict).toBe('invalid');
      expect(res.code).toBe(4);
      expect(res.report.reasons.join('\n')).toContain(reason);
      const crashed = await fileMutation('engine-crashed', (dir) => editJson<{ engine: { exitCode: number } }>(join(dir, 'run.json'), (m) => (m.engine.exitCode = 70)));
      expect(crashed.report.verdict).toBe('invalid');
      expect(crashed.report.reasons.join('\n')).toMatch(/load engine exited with code 70/);
    }, 90_000);

    it('a missing ACK ledger fails every record class (no data), never a pass', async () => {
      const res = await fileMutation('no-ledger', (dir) => rmSync(join(dir, 'ledger'), { recursive: true, force: true }));
      expectOnlyFails(res, Object.fromEntries(LEDGER_IDS.map((id) => [id, null])));
      expect(byId(res.report).get('records_missing')?.why).toMatch(/no ACK ledger/);
    }, 60_000);

    it('a ledger from another run is refused', async () => {
      const res = await fileMutation('foreign-ledger', (dir) => {
        for (const f of readdirSync(join(dir, 'ledger'))) {
          const file = join(dir, 'ledger', f);
          const l = ledgerEntries(file);
          writeLedger(file, { runId: 'another-run', seed: l.seed, part: l.part }, l.entries);
        }
      });
      expectOnlyFails(res, Object.fromEntries(LEDGER_IDS.map((id) => [id, null])));
      expect(byId(res.report).get('records_missing')?.why).toMatch(/belongs to run another-run/);
    }, 60_000);

    it('a ledger missing its last entries, whose records the platform also lost, is incomplete evidence: no data, fail', async () => {
      let dropped = 0;
      const dir = copyRun(RUN, 'short-ledger');
      const file = join(dir, 'ledger', readdirSync(join(dir, 'ledger'))[0]);
      const l = ledgerEntries(file);
      const gone = l.entries.slice(-5);
      writeLedger(file, l, l.entries.slice(0, -5));
      await alterPostgres(dir, async (db) => {
        const ids = await deviceIds(db, manifest.imeis);
        for (const e of gone)
          for (const t of e.timestamps) {
            const imei = [...ids.keys()].find((i) => i === imeiForIndex(manifest.seed, e.device))!;
            dropped += (await db.query('DELETE FROM telemetry_records WHERE device_id = $1 AND "timestamp" = $2', [ids.get(imei), new Date(Math.floor(t + 1e-6))])).rowCount!;
          }
      });
      expect(dropped).toBeGreaterThanOrEqual(5);
      const res = await verifyCopy(dir);
      expectOnlyFails(res, Object.fromEntries(LEDGER_IDS.map((id) => [id, null])));
      expect(byId(res.report).get('records_missing')?.why).toMatch(/ledger.*incomplete/);
    }, 60_000);

    it('a torn ledger (cut mid-entry) is unreadable: no data, fail', async () => {
      const res = await fileMutation('torn-ledger', (dir) => {
        const file = join(dir, 'ledger', readdirSync(join(dir, 'ledger'))[0]);
        truncateSync(file, statSync(file).size - 3);
      });
      expectOnlyFails(res, Object.fromEntries(LEDGER_IDS.map((id) => [id, null])));
      expect(byId(res.report).get('records_missing')?.why).toMatch(/truncated entry/);
    }, 60_000);
  });
});
