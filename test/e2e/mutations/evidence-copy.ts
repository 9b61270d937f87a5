// Tools of the mutation suite (issue 12): copy a real run folder with its kept evidence, alter the copy the way a
// platform bug or a monitoring gap would, and judge the copy with `fleetload verify`. The original run folder is
// never touched; each case works on its own copy.
import { cpSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import pg from 'pg';
import { LedgerWriter, readLedgerFile, type LedgerEntry } from '../../../src/core/ledger.js';
import { spawnTracked, stopChild } from '../../../src/stack/children.js';
import { freePort } from '../../../src/stack/ports.js';
import { startEmbeddedPostgres } from '../../../src/stack/postgres.js';
import { findPrometheus } from '../../../src/stack/prometheus.js';
import { fleetload } from '../../helpers/cli.js';

export interface Objective {
  id: string;
  value: number | null;
  status: string;
  /** what it does to the verdict: a no-data objective counted as failed has status no-data, effect fail */
  effect: string;
  why?: string;
}
export interface VerifyReport {
  verdict: string;
  reasons: string[];
  objectives: Objective[];
}

/** A fresh copy of a run folder, evidence/ included, under its own temporary folder. */
export function copyRun(runDir: string, name: string): string {
  const dir = join(mkdtempSync(join(tmpdir(), `fleetload-mutation-${name}-`)), 'run');
  cpSync(runDir, dir, { recursive: true });
  // a verification of the original (or of an earlier copy) is not this copy's verdict
  for (const f of readdirSync(dir)) if (f.startsWith('verify-')) rmSync(join(dir, f), { recursive: true, force: true });
  return dir;
}

/** `fleetload verify <dir> [args]`: its exit code and the report.json it wrote in <dir>/verify-<time>/. */
export async function verifyCopy(dir: string, args: string[] = []): Promise<{ code: number; stderr: string; report: VerifyReport }> {
  const res = await fleetload(['verify', dir, ...args], { timeoutMs: 90_000 });
  const runs = readdirSync(dir).filter((f) => f.startsWith('verify-')).sort();
  if (runs.length === 0) throw new Error(`fleetload verify wrote no verify-* folder in ${dir} (exit ${res.code}): ${res.stderr}`);
  const report = JSON.parse(readFileSync(join(dir, runs[runs.length - 1], 'report.json'), 'utf8')) as VerifyReport;
  return { code: res.code, stderr: res.stderr, report };
}

/**
 * Runs `alter` against a PostgreSQL started on the copy's evidence/postgres, then keeps the altered data folder in
 * its place. The server is the one `fleetload verify` starts (startEmbeddedPostgres with seedData: a Unix socket,
 * trust authentication) and stops cleanly, so the altered folder is a consistent cluster.
 */
export async function alterPostgres(runDir: string, alter: (db: pg.Client) => Promise<void>): Promise<void> {
  const folder = join(runDir, 'evidence', 'postgres');
  const server = await startEmbeddedPostgres({ seedData: folder, label: 'mutation' });
  const client = new pg.Client({ connectionString: server.url });
  try {
    await client.connect();
    await alter(client);
  } catch (e) {
    await client.end().catch(() => {});
    await server.stop();
    throw e;
  }
  await client.end();
  rmSync(folder, { recursive: true, force: true });
  await server.stop({ keepDataIn: folder });
}

/** The run's devices: IMEI -> devices.id, as the platform stored them. */
export async function deviceIds(db: pg.Client, imeis: string[]): Promise<Map<string, string>> {
  const r = await db.query<{ imei: string; id: string }>('SELECT imei, id::text FROM devices WHERE imei = ANY($1::text[]) ORDER BY imei', [imeis]);
  return new Map(r.rows.map((x) => [x.imei, x.id]));
}

/**
 * Runs `alter` against a Prometheus started on the copy's evidence/prometheus, with the admin API on, and replaces
 * that folder with a snapshot of what Prometheus holds afterwards.
 */
export async function alterPrometheus(runDir: string, alter: (url: string) => Promise<void>): Promise<void> {
  const bin = findPrometheus();
  if (!bin) throw new Error('prometheus not found (apt-get install -y prometheus, or PROMETHEUS_BIN)');
  const dir = mkdtempSync(join(tmpdir(), 'fleetload-prom-mutation-'));
  const config = join(dir, 'prometheus.yml');
  writeFileSync(config, 'global:\n  scrape_interval: 1s\nscrape_configs: []\n');
  const port = await freePort();
  const tsdb = join(runDir, 'evidence', 'prometheus');
  let snapshot = '';
  const url = `http://127.0.0.1:${port}`;
  const child = spawnTracked(
    bin,
    [`--config.file=${config}`, `--storage.tsdb.path=${tsdb}`, `--web.listen-address=127.0.0.1:${port}`, '--web.enable-admin-api', '--storage.tsdb.retention.time=100y', '--log.level=warn'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let output = '';
  child.stderr?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-2000)));
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`prometheus exited (code ${child.exitCode}): ${output}`);
      if (await fetch(`${url}/-/ready`).then((r) => r.ok, () => false)) break;
      if (Date.now() > deadline) throw new Error(`prometheus not ready on ${url} within 30 s: ${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await alter(url);
    // A snapshot with the head writes what the queries now see (deleted samples gone) as plain blocks: what the
    // copy keeps does not depend on how tombstones in the write-ahead log survive a restart.
    const res = await fetch(`${url}/api/v1/admin/tsdb/snapshot?skip_head=false`, { method: 'POST' });
    const body = (await res.json()) as { data?: { name?: string } };
    if (!res.ok || !body.data?.name) throw new Error(`Prometheus snapshot failed (HTTP ${res.status}): ${JSON.stringify(body)}`);
    snapshot = join(tsdb, 'snapshots', body.data.name);
  } finally {
    await stopChild(child, 10_000);
    rmSync(dir, { recursive: true, force: true });
  }
  const kept = `${tsdb}.altered`;
  renameSync(snapshot, kept);
  rmSync(tsdb, { recursive: true, force: true });
  renameSync(kept, tsdb);
}

async function admin(url: string, path: string, params?: URLSearchParams): Promise<void> {
  const res = await fetch(`${url}/api/v1/admin/tsdb/${path}${params ? `?${params}` : ''}`, { method: 'POST' });
  if (!res.ok) throw new Error(`Prometheus admin ${path} answered HTTP ${res.status}: ${await res.text()}`);
}

/** Deletes the samples of the series `match` selects between two times (seconds since the epoch). */
export function deleteSeries(url: string, match: string, startSec: number, endSec: number): Promise<void> {
  return admin(url, 'delete_series', new URLSearchParams({ 'match[]': match, start: startSec.toFixed(3), end: endSec.toFixed(3) }));
}

/** Raw samples [unix s, value] of one selector over the last `rangeSec` before `atSec`. */
export async function samples(url: string, selector: string, atSec: number, rangeSec: number): Promise<Array<Array<[number, string]>>> {
  const res = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: `${selector}[${rangeSec}s]`, time: atSec.toFixed(3) })}`);
  const body = (await res.json()) as { data: { result: Array<{ values: Array<[number, string]> }> } };
  return body.data.result.map((r) => r.values);
}

/** Rewrites a JSON file of the copy (run.json, engine-summary.json). */
export function editJson<T = Record<string, unknown>>(file: string, edit: (data: T) => void): void {
  const data = JSON.parse(readFileSync(file, 'utf8')) as T;
  edit(data);
  writeFileSync(file, JSON.stringify(data, null, 2));
}

/** Every entry of one ledger file. */
export function ledgerEntries(file: string): { runId: string; seed: number; part: string; entries: LedgerEntry[] } {
  const { header, entries } = readLedgerFile(file);
  return { runId: header.runId, seed: header.seed, part: header.part, entries: [...entries] };
}

/** Writes a ledger file with the engine's own writer. */
export function writeLedger(file: string, header: { runId: string; seed: number; part: string }, entries: LedgerEntry[]): void {
  const w = new LedgerWriter(file, header);
  for (const e of entries) w.append(e.device, e.atMs, e.timestamps, e.flags);
  w.close();
}
