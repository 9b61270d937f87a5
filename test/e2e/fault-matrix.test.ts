// The verifier must fail a bad build, and for the right reason: each platform fault knob, in a short real run on
// the embedded stack, fails exactly the objectives it should — and a starved load generator makes the run invalid.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fleetload } from '../helpers/cli.js';

const reportsDir = mkdtempSync(join(tmpdir(), 'fleetload-faults-'));
const profile = join(import.meta.dirname, 'profiles', 'fault-matrix.yaml');

interface ReportJson {
  verdict: string;
  objectives: Array<{ id: string; status: string; value: number | null }>;
}

async function runWith(runId: string, platformArgs: string[], profileFile = profile) {
  const res = await fleetload(['run', '--profile', profileFile, '--run-id', runId, '--reports-dir', reportsDir, ...platformArgs.map((a) => `--platform-arg=${a}`)], {
    timeoutMs: 150_000,
  });
  const file = join(reportsDir, runId, 'report.json');
  if (!existsSync(file)) throw new Error(`fleetload exited ${res.code} without a report:\n${res.stderr}`);
  const report = JSON.parse(readFileSync(file, 'utf8')) as ReportJson;
  const failed = report.objectives.filter((o) => o.status === 'fail').map((o) => o.id).sort();
  return { res, report, failed };
}

describe('fault matrix: each fault fails the right objectives and only those', () => {
  it('clean run → pass, nothing failed, every objective measured', async () => {
    const { res, report, failed } = await runWith('fm-clean', []);
    expect(failed, res.stderr).toEqual([]);
    expect(report.verdict).toBe('pass');
    expect(res.code).toBe(0);
    expect(report.objectives.filter((o) => o.status === 'no-data' && !o.id.startsWith('recovery_')).map((o) => o.id)).toEqual([]);
  }, 180_000);

  it('extra HTTP latency → api_latency_p95 fails', async () => {
    const { res, failed } = await runWith('fm-http-latency', ['--fault-http-latency-ms=1500']);
    expect(failed, res.stderr).toEqual(['api_latency_p95']);
    expect(res.code).toBe(1);
  }, 180_000);

  it('HTTP 5xx ratio → api_error_ratio fails', async () => {
    const { res, failed } = await runWith('fm-http-5xx', ['--fault-http-error-ratio=0.2']);
    expect(failed, res.stderr).toEqual(['api_error_ratio']);
    expect(res.code).toBe(1);
  }, 180_000);

  it('records ACKed but not stored → records_missing fails', async () => {
    const { res, report, failed } = await runWith('fm-lost', ['--fault-acked-not-stored-ratio=0.1']);
    expect(failed, res.stderr).toEqual(['records_missing']);
    expect(report.objectives.find((o) => o.id === 'records_missing')?.value).toBeGreaterThan(0);
    expect(res.code).toBe(1);
  }, 180_000);

  it('records stored twice (the copy 1 ms later, as the primary key forces) → records_extra fails', async () => {
    const { res, report, failed } = await runWith('fm-dup', ['--fault-duplicate-ratio=0.1']);
    // a copy at another timestamp is a row nobody sent: an extra record, found record by record
    expect(failed, res.stderr).toEqual(['records_extra']);
    expect(report.objectives.find((o) => o.id === 'records_extra')?.value).toBeGreaterThan(0);
    expect(res.code).toBe(1);
  }, 180_000);

  it('slow batch inserts → batch duration and ingest lag fail (and only what waits for a commit)', async () => {
    const { res, failed } = await runWith('fm-slow-insert', ['--fault-insert-delay-ms=5500']);
    expect(failed, res.stderr).toEqual(expect.arrayContaining(['batch_insert_p95', 'ingest_lag_p95']));
    // ACKs, WebSocket pushes and JSON ingest all wait for the commit by design, and the clients say so: late ACKs
    // and deliveries, API writes that time out waiting for their commit, WebSocket records that come after the
    // client's window closed. Nothing else may fail.
    const downstreamOfCommit = ['batch_insert_p95', 'ingest_lag_p95', 'ack_latency_p95', 'record_latency_p95', 'ws_freshness_p95', 'ws_missed_records', 'api_latency_p95', 'api_error_ratio'];
    expect(failed.filter((id) => !downstreamOfCommit.includes(id))).toEqual([]);
    expect(res.code).toBe(1);
  }, 180_000);

  it('a starved load generator → the run is invalid (exit 4), not a platform failure', async () => {
    const runId = 'fm-starved';
    const res = await fleetload(['run', '--profile', join(import.meta.dirname, 'profiles', 'starved-generator.yaml'), '--workers', '1', '--run-id', runId, '--reports-dir', reportsDir], {
      timeoutMs: 150_000,
    });
    const report = JSON.parse(readFileSync(join(reportsDir, runId, 'report.json'), 'utf8')) as ReportJson & { reasons?: string[] };
    expect(report.verdict, res.stderr).toBe('invalid');
    expect(res.code).toBe(4);
    const manifest = JSON.parse(readFileSync(join(reportsDir, runId, 'run.json'), 'utf8')) as { invalidReasons: string[] };
    expect(manifest.invalidReasons.join('\n'), res.stderr).toMatch(/load engine: .*(event loop ran|late at p95)/);
  }, 180_000);
});
