// Verifier benchmark: how long the default SLO set takes to judge a run whose devices stored 1,000,000
// records in PostgreSQL, every one ACKed in the run's ledger (record reconciliation is the expensive part:
// per-device fingerprints in SQL, exact comparison only where they differ).
//   node dist/bench/verify.js [--records 1000000] [--devices 1000]
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { pino } from 'pino';
import { migrate } from '../src/platform/schema.js';
import { imeiForIndex } from '../src/protocol/teltonika/index.js';
import { writeManifest, type RunManifest } from '../src/core/manifest.js';
import { ENGINE_SUMMARY_FILE, ENGINE_SUMMARY_FORMAT } from '../src/core/engine-summary.js';
import { LEDGER_DIR, LedgerWriter } from '../src/core/ledger.js';
import { openPostgres } from '../src/verify/evidence-postgres.js';
import { reconcile, runLedgerFiles } from '../src/verify/reconcile.js';
import { startEmbeddedPostgres } from '../src/stack/postgres.js';
import { startPrometheus } from '../src/stack/prometheus.js';
import { loadSloFile, verifyRun } from '../src/verify/index.js';

const { values } = parseArgs({ options: { records: { type: 'string', default: '1000000' }, devices: { type: 'string', default: '1000' } } });
const records = Number(values.records);
const devices = Number(values.devices);
const perDevice = Math.ceil(records / devices);
const SEED = 42;

const db = await startEmbeddedPostgres();
const prom = await startPrometheus({ scrapeTargets: [{ job: 'fleet-platform', address: '127.0.0.1:1' }] });
try {
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  await migrate(pool, pino({ level: 'silent' }));
  const imeis = Array.from({ length: devices }, (_, i) => imeiForIndex(SEED, i));
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
    seed: SEED,
    startedAt: start.toISOString(),
    endedAt: end.toISOString(),
    stages: [{ name: 'steady', start: start.toISOString(), end: end.toISOString(), devices }],
    devices,
    imeis,
    target: { tcp: '127.0.0.1:5000', embedded: true },
    prometheus: { url: prom.url },
    versions: {},
    engine: { summaryFile: ENGINE_SUMMARY_FILE, ledgerDir: LEDGER_DIR, exitCode: 0 },
  };
  writeManifest(runDir, manifest);
  // the ACK ledger the engine would have written: every stored record ACKed, one record per packet, two writers
  mkdirSync(join(runDir, LEDGER_DIR));
  const t2 = performance.now();
  const writers = [0, 1].map((w) => new LedgerWriter(join(runDir, LEDGER_DIR, `w${w}.bin`), { runId: manifest.runId, seed: SEED, part: `w${w}` }));
  const startMs = start.getTime();
  for (let d = 0; d < devices; d++) for (let s = 1; s <= perDevice; s++) writers[d % 2].append(d, startMs + s * 1000 + 200, [startMs + s * 1000]);
  writers.forEach((w) => w.close());
  const ledgerMs = performance.now() - t2;
  const lat = (p95: number, count: number) => ({ count, min: 1, mean: p95 / 2, p50: p95 / 2, p90: p95, p95, p99: p95, max: p95 });
  const summary = {
    format: ENGINE_SUMMARY_FORMAT, version: 1, runId: manifest.runId, seed: SEED, fleetload: 'bench',
    loadStart: manifest.startedAt, loadEnd: manifest.endedAt, stages: [], shard: { index: 1, count: 1 },
    devices: { planned: devices, connectedPeak: devices },
    records: { sent: stored, acked: stored, resent: 0, unsent: 0, lost: 0 }, packets: { sent: stored, acked: stored },
    logins: devices, reconnects: 0, connects: devices, disconnects: devices, keepAlives: 0,
    errors: { connect: 0, login_timeout: 0, login_rejected: 0, ack_timeout: 0, ack_mismatch: 0, reset: 0, closed: 0 },
    linkOutages: { drop: 0, storm: 0 }, outagesUnrecovered: 0,
    ackLatencyMs: lat(120, stored), recordLatencyMs: lat(200, stored), loginLatencyMs: lat(5, devices),
    api: { configured: false, offered: 0, requests: 0, succeeded: 0, errors: {}, throttled: 0, dropped: 0, byEndpoint: {} },
    ws: { configured: false, clients: 0, connected: 0, errors: {}, messages: 0, expected: 0, received: 0, missed: 0 },
    generator: { workers: 1, rssPeakBytes: 0, cpuSeconds: 0, cpuShareOfMachine: 0, cores: 2, eventLoopDelayP99MaxMs: 0, generatorErrors: 0, invalidReasons: [] },
    ledger: { files: [], entries: stored, records: stored }, histograms: {},
  };
  writeFileSync(join(runDir, ENGINE_SUMMARY_FILE), JSON.stringify(summary));

  const slo = loadSloFile();
  // reconciliation alone, with its phases, then the whole default SLO file
  const pgSession = await openPostgres(db.url);
  const t3 = performance.now();
  const rec = await reconcile({ files: runLedgerFiles(runDir, manifest), manifest, precision: slo.platform.timestampPrecision }, (text, v, who) => pgSession.rows(text, v, who));
  const recMs = performance.now() - t3;
  // worst case: every record ACKed 1 ms off what was stored -> every fingerprint differs, all rows compared exactly
  const worstDir = mkdtempSync(join(tmpdir(), 'fleetload-bench-verify-worst-'));
  mkdirSync(join(worstDir, LEDGER_DIR));
  const ww = new LedgerWriter(join(worstDir, LEDGER_DIR, 'w0.bin'), { runId: manifest.runId, seed: SEED, part: 'w0' });
  for (let d = 0; d < devices; d++) for (let s = 1; s <= perDevice; s++) ww.append(d, startMs + s * 1000 + 200, [startMs + s * 1000 + 1]);
  ww.close();
  const t4 = performance.now();
  const worst = await reconcile({ files: runLedgerFiles(worstDir, manifest), manifest, precision: slo.platform.timestampPrecision }, (text, v, who) => pgSession.rows(text, v, who));
  const worstMs = performance.now() - t4;
  await pgSession.close();
  if ('missing' in rec) throw new Error(rec.missing);
  if ('missing' in worst) throw new Error(worst.missing);
  const t1 = performance.now();
  const report = await verifyRun({ slo, manifest, runDir, prometheusUrl: prom.url, pgUrl: db.url });
  const verifyMs = performance.now() - t1;
  const value = (id: string) => report.objectives.find((o) => o.id === id)?.value;
  const s1 = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  console.log(`stored rows:            ${stored.toLocaleString('en')} (${devices} devices; loaded in ${s1(loadMs)}; ledger written in ${s1(ledgerMs)})`);
  console.log(`reconciliation:         ${s1(recMs)}  (ledger read ${s1(rec.timings.readMs)}, fingerprints ${s1(rec.timings.fingerprintMs)}, anti-join ${s1(rec.timings.antiJoinMs)} over ${rec.devicesCompared} devices)`);
  console.log(`worst case:             ${s1(worstMs)}  (every device differs: fingerprints ${s1(worst.timings.fingerprintMs)}, anti-join ${s1(worst.timings.antiJoinMs)}; missing=${worst.counts.missing} extra=${worst.counts.extra})`);
  console.log(`verify (default SLOs):  ${s1(verifyMs)}  (goal ≤ 5 s)`);
  console.log(`records_stored=${value('records_stored')} missing=${value('records_missing')} duplicated=${value('records_duplicated')} extra=${value('records_extra')} misattributed=${value('records_misattributed')} verdict=${report.verdict}`);
  console.log(`  (the verdict also judges Prometheus objectives; this bench has no platform scraped, so those have no data)`);
} finally {
  await prom.stop();
  await db.stop();
}
