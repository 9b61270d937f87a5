// The spine, end to end with real components: the load engine → reference platform → PostgreSQL →
// Prometheus → verifier → reports on disk. Each case is a short real run on the embedded stack.
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync, type Dirent } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fleetload, portOpen, strayProcesses } from '../helpers/cli.js';

const reportsDir = mkdtempSync(join(tmpdir(), 'fleetload-e2e-'));
// unique, so the check for surviving processes cannot see another suite's run on the same machine
const SMOKE_ID = `e2e-smoke-${Date.now().toString(36)}`;

interface ReportJson {
  verdict: string;
  objectives: Array<{ id: string; value: number | null; status: string; target: string }>;
}
const readReport = (dir: string) => JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as ReportJson;
const objective = (r: ReportJson, id: string) => {
  const o = r.objectives.find((x) => x.id === id);
  if (!o) throw new Error(`objective ${id} missing from report: ${r.objectives.map((x) => x.id).join(', ')}`);
  return o;
};

/** The report `fleetload verify` wrote last: it never overwrites the run's own, it writes <run>/verify-<time>/. */
function latestVerification(dir: string): ReportJson {
  const runs = readdirSync(dir).filter((f) => f.startsWith('verify-')).sort();
  if (runs.length === 0) throw new Error(`no verify-* folder in ${dir}`);
  return readReport(join(dir, runs[runs.length - 1]));
}

/** Every file under dir with its size and mtime: proof that judging again did not touch the kept evidence. */
function fileList(dir: string): string[] {
  return (readdirSync(dir, { recursive: true, withFileTypes: true }) as Dirent[])
    .filter((e) => e.isFile())
    .map((e) => {
      const p = join(e.parentPath, e.name);
      const st = statSync(p);
      return `${p} ${st.size} ${st.mtimeMs}`;
    })
    .sort();
}

/** An SLO file in the reports folder with the usual total thresholds and the given objectives (YAML list items). */
function writeSlo(name: string, objectives: string): string {
  const file = join(reportsDir, name);
  writeFileSync(file, `version: 1\ntotal: { pass: 90, warning: 75 }\nobjectives:\n${objectives}`);
  return file;
}

function writeImpossibleSlo(): string {
  return writeSlo(
    'impossible-slo.yaml',
    `  - id: device_ack_latency_p95
    description: impossible ACK latency target
    source: engine
    query: ackLatencyMs.p95
    unit: ms
    pass: ["< 0.000001"]
    key: true
`,
  );
}

describe('fleetload run --profile smoke on the embedded stack', () => {
  it('passes, stores exactly what was ACKed and measures every objective', async () => {
    const res = await fleetload(['run', '--profile', 'smoke', '--duration', '15s', '--run-id', SMOKE_ID, '--reports-dir', reportsDir], { timeoutMs: 150_000 });
    const dir = join(reportsDir, SMOKE_ID);
    expect(res.stderr).not.toMatch(/postgres:\/\/[^:]+:[^*@]+@/); // no password in logs
    expect(existsSync(join(dir, 'run.json'))).toBe(true);
    const report = readReport(dir);
    expect(report.verdict, `${res.stdout}\n${res.stderr}`).toBe('pass');
    expect(res.code).toBe(0);
    const acked = objective(report, 'records_acked').value ?? 0;
    const stored = objective(report, 'records_stored').value ?? -1;
    expect(acked).toBeGreaterThan(100);
    expect(stored).toBe(acked);
    // every objective is measured (smoke runs devices, API and WebSocket clients); only recovery needs a fault
    const unmeasured = report.objectives.filter((o) => o.status === 'no-data').map((o) => o.id);
    expect(unmeasured.filter((id) => !/^recovery_/.test(id))).toEqual([]);
    const manifest = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8')) as { imeis: string[]; runId: string; startedAt: string; endedAt: string };
    expect(manifest.runId).toBe(SMOKE_ID);
    expect(new Set(manifest.imeis).size).toBe(150);
    expect(readFileSync(join(dir, 'report.md'), 'utf8')).toMatch(/pass/i);
    // the engine's own series were scraped by Prometheus from before the load to after it
    const series = JSON.parse(readFileSync(join(dir, 'series.json'), 'utf8')) as { queries: Array<{ id: string; status: string; series: Array<{ points: unknown[] }> }> };
    const sent = series.queries.find((q) => q.id === 'engine_records_sent');
    expect(sent?.status).toBe('ok');
    expect(sent!.series[0].points.length).toBeGreaterThan(10);
    // the run's engine figures: the ledger holds exactly the ACKed records
    const summary = JSON.parse(readFileSync(join(dir, 'engine-summary.json'), 'utf8')) as { records: { acked: number }; ledger: { records: number } };
    expect(summary.ledger.records).toBe(summary.records.acked);
    expect(summary.records.acked).toBe(acked);
    // nothing of this run's stack survives: no process in its folders, its platform port closed
    expect(await strayProcesses(SMOKE_ID)).toEqual([]);
    const tcp = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8')) as { target: { tcp: string } };
    expect(await portOpen(tcp.target.tcp)).toBe(false);
  }, 180_000);

  it('judges the finished embedded run again from its kept evidence: same values, other SLO file, stack gone', async () => {
    const dir = join(reportsDir, SMOKE_ID);
    const first = readReport(dir);
    const evidence = join(dir, 'evidence');
    expect(existsSync(join(evidence, 'postgres', 'PG_VERSION'))).toBe(true);
    expect(existsSync(join(evidence, 'prometheus'))).toBe(true);
    const before = fileList(evidence);
    const again = await fleetload(['verify', dir], { timeoutMs: 90_000 });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).not.toMatch(/postgres:\/\/[^:]+:[^*@]+@/);
    // the same PromQL and SQL over the same stored data and window: the same numbers; the run's own report stays
    expect(readReport(dir)).toEqual(first);
    const second = latestVerification(dir);
    expect(second.verdict).toBe('pass');
    const values = (r: ReportJson) => Object.fromEntries(r.objectives.map((o) => [o.id, o.value]));
    expect(values(second)).toEqual(values(first));
    expect(objective(second, 'records_stored').value).toBeGreaterThan(100);
    // another SLO file judges the same evidence differently
    const strict = await fleetload(['verify', dir, '--slo', writeImpossibleSlo()], { timeoutMs: 90_000 });
    expect(strict.code, strict.stderr).toBe(1);
    expect(objective(latestVerification(dir), 'device_ack_latency_p95').status).toBe('fail');
    // the engine's counters in Prometheus (scraped, summed over shards) give exactly what its summary gave
    const fromPrometheus = writeSlo(
      'prometheus-slo.yaml',
      `  - id: records_acked
    description: summed over shards
    source: prometheus
    query: sum(max_over_time(fleetload_records_acked_total{run_id="\${runId}"}[\${duration}]))
    unit: records
    pass: "> 0"
`,
    );
    const prom = await fleetload(['verify', dir, '--slo', fromPrometheus], { timeoutMs: 90_000 });
    expect(prom.code, prom.stderr).toBe(0);
    expect(values(latestVerification(dir)).records_acked).toBe(objective(first, 'records_acked').value);
    // judging works on copies: the kept evidence is unchanged, and no server outlives the command
    expect(fileList(evidence)).toEqual(before);
    expect(await strayProcesses(join(tmpdir(), 'fleetload-pg-verify'))).toEqual([]);
    expect(await strayProcesses(join(tmpdir(), 'fleetload-prom-verify'))).toEqual([]);
  }, 200_000);

  it('fails with exit 1 when an SLO cannot be met, naming the objective', async () => {
    const slo = writeImpossibleSlo();
    const res = await fleetload(['run', '--profile', 'smoke', '--duration', '8s', '--slo', slo, '--no-keep-evidence', '--run-id', 'e2e-impossible', '--reports-dir', reportsDir], { timeoutMs: 120_000 });
    const report = readReport(join(reportsDir, 'e2e-impossible'));
    expect(report.verdict).toBe('fail');
    expect(objective(report, 'device_ack_latency_p95').status).toBe('fail');
    expect(objective(report, 'device_ack_latency_p95').value).toBeGreaterThan(0);
    expect(res.code).toBe(1);
    // --no-keep-evidence: nothing kept, so judging again is an infrastructure error that says why
    expect(existsSync(join(reportsDir, 'e2e-impossible', 'evidence'))).toBe(false);
    const again = await fleetload(['verify', join(reportsDir, 'e2e-impossible')], { timeoutMs: 60_000 });
    expect(again.code).toBe(3);
    expect(again.stderr).toMatch(/no kept evidence.*--no-keep-evidence/);
  }, 150_000);

  it('survives a platform that resets device connections: the engine finishes and counts the resets', async () => {
    const res = await fleetload(
      ['run', '--profile', 'smoke', '--duration', '10s', '--run-id', 'e2e-resets', '--reports-dir', reportsDir, '--platform-arg=--fault-tcp-reset-per-sec=2'],
      { timeoutMs: 120_000 },
    );
    const dir = join(reportsDir, 'e2e-resets');
    const summary = JSON.parse(readFileSync(join(dir, 'engine-summary.json'), 'utf8')) as { errors: Record<string, number>; generator: { invalidReasons: string[] } };
    const manifest = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8')) as { engine: { exitCode: number } };
    expect(manifest.engine.exitCode, res.stderr).toBe(0);
    expect(summary.generator.invalidReasons).toEqual([]);
    expect(summary.errors.reset + summary.errors.closed).toBeGreaterThan(0);
    const report = readReport(dir);
    // the resets are errors the verifier sees, and no ACKed record may be missing or repeated because of them
    expect(objective(report, 'device_error_ratio').value).toBeGreaterThan(0);
    expect(objective(report, 'records_missing').value).toBe(0);
    expect(objective(report, 'records_duplicated').value).toBe(0);
  }, 150_000);

  it('exits 3, never passes, when Prometheus is unreachable', async () => {
    const res = await fleetload(['verify', join(reportsDir, SMOKE_ID), '--prometheus-url', 'http://127.0.0.1:1'], { timeoutMs: 60_000 });
    expect(res.code, res.stderr).toBe(3);
    expect(res.stderr).toMatch(/prometheus/i);
  }, 90_000);
});
