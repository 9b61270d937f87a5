// Verifier benchmark: how long the default SLO set takes to judge a run whose devices stored 1,000,000
// records in PostgreSQL (the SQL objectives are the expensive part: window functions over the run's rows).
//   node dist/bench/verify.js [--records 1000000] [--devices 1000]
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { pino } from 'pino';
import { migrate } from '../src/platform/schema.js';
import { imeiForIndex } from '../src/protocol/teltonika/index.js';
import { writeManifest, type RunManifest } from '../src/core/manifest.js';
import { startEmbeddedPostgres } from '../src/stack/postgres.js';
import { startPrometheus } from '../src/stack/prometheus.js';
import { loadSloFile, verifyRun } from '../src/verify/index.js';

const { values } = parseArgs({ options: { records: { type: 'string', default: '1000000' }, devices: { type: 'string', default: '1000' } } });
const records = Number(values.records);
const devices = Number(values.devices);
const perDevice = Math.ceil(records / devices);

const db = await startEmbeddedPostgres();
const prom = await startPrometheus({ scrapeTargets: [{ job: 'fleet-platform', address: '127.0.0.1:1' }] });
try {
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  await migrate(pool, pino({ level: 'silent' }));
  const imeis = Array.from({ length: devices }, (_, i) => imeiForIndex(42, i));
  const end = new Date();
  const start = new Date(end.getTime() - perDevice * 1000 - 1000);
  const t0 = performance.now();
  await pool.query('INSERT INTO devices (imei) SELECT unnest($1::text[])', [imeis]);
  // one record per device per second, like a fleet reporting every second for the whole window
  await pool.query(
    `INSERT INTO telemetry_records (device_id, "timestamp", received_at, latitude, longitude, altitude, speed, heading, satellites, priority, event_id, io)
     SELECT d.id, $1::timestamptz + make_interval(secs => s), $1::timestamptz + make_interval(secs => s + 0.2), 44.77, 17.19, 160, 40, 90, 9, 0, 0, '{}'::jsonb
     FROM devices d CROSS JOIN generate_series(1, $2::int) s`,
    [start, perDevice],
  );
  await pool.query('ANALYZE telemetry_records');
  const loadMs = performance.now() - t0;
  const stored = Number((await pool.query('SELECT count(*) FROM telemetry_records')).rows[0].count);
  await pool.end();

  const runDir = mkdtempSync(join(tmpdir(), 'fleetload-bench-verify-'));
  const manifest: RunManifest = {
    runId: 'bench-verify',
    profile: 'bench',
    seed: 42,
    startedAt: start.toISOString(),
    endedAt: end.toISOString(),
    stages: [{ name: 'steady', start: start.toISOString(), end: end.toISOString(), devices }],
    devices,
    imeis,
    target: { tcp: '127.0.0.1:5000', embedded: true },
    prometheus: { url: prom.url },
    versions: {},
    k6: { exitCode: 0, summaryFile: 'k6-summary.json' },
  };
  writeManifest(runDir, manifest);
  const trend = { 'p(95)': 120, count: stored };
  const counter = (n: number) => ({ count: n, rate: n / ((end.getTime() - start.getTime()) / 1000) });
  writeFileSync(
    join(runDir, 'k6-summary.json'),
    JSON.stringify({
      metrics: {
        fleet_ack_latency: { type: 'trend', values: trend },
        fleet_login_latency: { type: 'trend', values: { 'p(95)': 5, count: devices } },
        fleet_records_sent: { type: 'counter', values: counter(stored) },
        fleet_records_acked: { type: 'counter', values: counter(stored) },
        fleet_packets_sent: { type: 'counter', values: counter(stored) },
      },
    }),
  );
  const slo = loadSloFile();
  const t1 = performance.now();
  const report = await verifyRun({ slo, manifest, runDir, prometheusUrl: prom.url, pgUrl: db.url });
  const verifyMs = performance.now() - t1;
  const value = (id: string) => report.objectives.find((o) => o.id === id)?.value;
  console.log(`stored rows:            ${stored.toLocaleString('en')} (${devices} devices; loaded in ${(loadMs / 1000).toFixed(1)} s)`);
  console.log(`verify (default SLOs):  ${(verifyMs / 1000).toFixed(2)} s  (goal ≤ 5 s)`);
  console.log(`records_stored=${value('records_stored')} missing_records=${value('missing_records')} duplicate_rows=${value('duplicate_rows')} verdict=${report.verdict}`);
} finally {
  await prom.stop();
  await db.stop();
}
