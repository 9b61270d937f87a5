// Sharded load against the reference platform (real PostgreSQL, real sockets): the same fleet run by one process and
// by 2 and 4 shard processes (`node dist/cli.js generate --shard i/n`) merged by `fleetload merge` gives identical
// counts, the identical ACK ledger and the identical set of stored records, and the same record-latency p95 within
// 1 % — with 5 records per packet a record's latency is mostly its wait in the device's buffer, so p95 is fixed by the
// schedule and moves if a shard runs another one. A device's state (ignition, position) follows the wall clock, so
// the three runs start at one common --start-at, each against its own platform and database. Then the
// merge's bad input: a missing, failed or foreign shard, a duplicate, a folder that is no shard, and the CLI's
// --shard 3/2 and past --start-at.
import { execFile, execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { ExitCode, FleetloadError } from '../../src/core/errors.js';
import type { EngineSummary } from '../../src/core/engine-summary.js';
import { ledgerFiles, readLedgerFile } from '../../src/core/ledger.js';
import type { RunManifest } from '../../src/core/manifest.js';
import { imeiForIndex } from '../../src/protocol/teltonika/index.js';
import { generateLoad } from '../../src/run/generate.js';
import { mergeShards } from '../../src/run/merge.js';
import { SHARD_FILE, type ShardRecord } from '../../src/run/shards.js';
import { query, usePlatformFixture } from '../platform/helpers.js';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');
const CLI = join(ROOT, 'dist', 'cli.js');
const fixture = usePlatformFixture('shards');
const RUN_ID = 'shards-equal';
const DEVICES = 40;

const PROFILE = `name: shard-test
seed: 3
duration: 6s
centre: { latitude: 44.7722, longitude: 17.1910 }
devices:
  count: ${DEVICES}
  interval: 400ms
  recordsPerPacket: 5
  codec: "8"
  ackTimeout: 3s
  reconnectBase: 200ms
  reconnectMax: 1s
`;

interface Outcome {
  summary: EngineSummary;
  dir: string;
  pgUrl: string;
  /** imei@ms-after-start:lat,lon,speed,io of every stored record */
  stored: string[];
  ledger: string[];
}

let tmp = '';
let profileFile = '';
const log = () => {};

beforeAll(() => {
  execFileSync(process.execPath, ['build.mjs'], { cwd: ROOT, stdio: 'ignore' });
  tmp = mkdtempSync(join(tmpdir(), 'fleetload-shards-'));
  profileFile = join(tmp, 'shard-test.yaml');
  writeFileSync(profileFile, PROFILE);
}, 120_000);

async function stored(pgUrl: string, startMs: number): Promise<string[]> {
  const rows = await query<{ imei: string; ms: string; latitude: number; longitude: number; speed: number; io: unknown }>(
    pgUrl,
    `SELECT d.imei, (extract(epoch from r."timestamp") * 1000)::bigint::text AS ms, r.latitude, r.longitude, r.speed, r.io
       FROM telemetry_records r JOIN devices d ON d.id = r.device_id`,
  );
  return rows.map((r) => `${r.imei}@${Number(r.ms) - startMs}:${r.latitude},${r.longitude},${r.speed},${JSON.stringify(r.io)}`).sort();
}

function ledger(dir: string, seed: number, startMs: number): string[] {
  const out: string[] = [];
  for (const f of ledgerFiles(dir)) for (const e of readLedgerFile(f).entries) for (const t of e.timestamps) out.push(`${imeiForIndex(seed, e.device)}@${t - startMs}/${e.flags}`);
  return out.sort();
}

async function singleProcess(startAt: string): Promise<Outcome> {
  const { url, p } = await fixture.setup();
  const dir = join(tmp, 'single');
  const o = await generateLoad({ profile: profileFile, tcp: `127.0.0.1:${p.tcpPort}`, workers: 1, out: dir, runId: RUN_ID, startAt, startToleranceMs: 1500, allowTarget: [], log });
  expect(o.summary.generator.invalidReasons).toEqual([]);
  expect(o.exitCode).toBe(ExitCode.Pass);
  const start = Date.parse(o.summary.loadStart);
  return { summary: o.summary, dir, pgUrl: url, stored: await stored(url, start), ledger: ledger(dir, o.summary.seed, start) };
}

async function sharded(n: number, startAt: string): Promise<Outcome & { manifest: RunManifest; shardDirs: string[] }> {
  const { url, p } = await fixture.setup();
  const shardDirs = Array.from({ length: n }, (_, i) => join(tmp, `n${n}`, `shard-${i}`));
  // shards with different worker counts, as pods on different machines: the split must not depend on them
  const codes = await Promise.all(
    shardDirs.map((out, i) =>
      run(process.execPath, [CLI, 'generate', '--profile', profileFile, '--tcp', `127.0.0.1:${p.tcpPort}`, '--http', `http://127.0.0.1:${p.httpPort}`, '--shard', `${i}/${n}`, '--run-id', RUN_ID, '--start-at', startAt, '--out', out, '--workers', String(1 + (i % 2)), '--start-tolerance', '1500'], { cwd: ROOT }).then(
        () => 0,
        (e: { code?: number; stderr?: string }) => {
          throw new Error(`shard ${i}/${n} exited ${e.code}: ${e.stderr}`);
        },
      ),
    ),
  );
  expect(codes).toEqual(Array(n).fill(0));
  const dir = join(tmp, `n${n}`, 'run');
  const merged = mergeShards({ shardDirs, out: dir, pgUrl: url, log });
  expect(merged.invalidReasons).toEqual([]);
  const start = Date.parse(merged.summary.loadStart);
  expect(start).toBe(Date.parse(startAt));
  for (const d of shardDirs) expect((JSON.parse(readFileSync(join(d, SHARD_FILE), 'utf8')) as ShardRecord).clock).toMatchObject({ source: 'http-date', skewed: false });
  return { summary: merged.summary, dir, pgUrl: url, stored: await stored(url, start), ledger: ledger(dir, merged.summary.seed, start), manifest: merged.manifest, shardDirs };
}

type Sharded = Awaited<ReturnType<typeof sharded>>;
let two: Sharded | undefined;

describe('sharded load = one process, against the reference platform', () => {
  let single: Outcome;
  const runs = new Map<number, Sharded>();
  beforeAll(async () => {
    // one instant for all three runs, late enough for 7 processes to start on 2 cores
    const startAt = new Date(Date.now() + 8000).toISOString();
    const [a, b, c] = await Promise.all([singleProcess(startAt), sharded(2, startAt), sharded(4, startAt)]);
    single = a;
    runs.set(2, b).set(4, c);
    two = b;
  }, 120_000);

  for (const n of [2, 4]) {
    it(`${n} shard processes merged: identical counts, ledger and stored records; record-latency p95 within 1 %`, () => {
      const s = runs.get(n) as Sharded;
      const a = single.summary;
      const b = s.summary;
      expect(a.records.sent).toBeGreaterThan(DEVICES * 10);
      expect(b.records).toEqual(a.records);
      expect(b.packets).toEqual(a.packets);
      expect({ logins: b.logins, connects: b.connects, errors: b.errors }).toEqual({ logins: a.logins, connects: a.connects, errors: a.errors });
      expect(b.devices.planned).toBe(DEVICES);
      expect(b.ledger.records).toBe(a.ledger.records);
      // one ledger file per shard worker thread (shard i has 1 + i mod 2 workers)
      expect(b.ledger.files).toHaveLength(Array.from({ length: n }, (_, i) => 1 + (i % 2)).reduce((x, y) => x + y, 0));
      expect(s.ledger).toEqual(single.ledger);
      expect(s.stored.length).toBe(a.records.acked);
      expect(s.stored).toEqual(single.stored);
      expect(b.recordLatencyMs?.count).toBe(a.recordLatencyMs?.count);
      const p95a = a.recordLatencyMs?.p95 ?? NaN;
      expect(Math.abs((b.recordLatencyMs?.p95 ?? NaN) - p95a) / p95a).toBeLessThanOrEqual(0.01);
      expect(s.manifest.imeis).toEqual(Array.from({ length: DEVICES }, (_, j) => imeiForIndex(a.seed, j)));
      expect(s.manifest.invalidReasons).toEqual([]);
      expect(b.loadStart).toBe(a.loadStart);
      expect(b.shard).toEqual({ index: 0, count: 1 });
    });
  }
});

describe('merge: bad input is an error, a missing or failed shard an invalid run', () => {
  const expectBad = (f: () => unknown, text: RegExp) => {
    let err: unknown;
    try {
      f();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FleetloadError);
    expect((err as FleetloadError).exitCode).toBe(ExitCode.BadInput);
    expect((err as Error).message).toMatch(text);
  };
  const copy = (from: string, name: string) => {
    const to = join(tmp, 'bad', name);
    cpSync(from, to, { recursive: true });
    return to;
  };
  const patch = (dir: string, f: (r: ShardRecord) => void) => {
    const file = join(dir, SHARD_FILE);
    const r = JSON.parse(readFileSync(file, 'utf8')) as ShardRecord;
    f(r);
    writeFileSync(file, JSON.stringify(r));
    // the summary names its run too: keep it in step, so that the check under test is the one across folders
    const sf = join(dir, 'engine-summary.json');
    const sum = JSON.parse(readFileSync(sf, 'utf8')) as EngineSummary;
    writeFileSync(sf, JSON.stringify({ ...sum, runId: r.runId, seed: r.seed }));
  };

  it('a missing shard and a failed shard make the merged run invalid, never a pass', () => {
    if (!two) throw new Error('needs the 2-shard run above');
    const out = mergeShards({ shardDirs: [two.shardDirs[0]], out: join(tmp, 'bad', 'missing'), log });
    expect(out.exitCode).toBe(ExitCode.InvalidRun);
    expect(out.invalidReasons).toEqual([expect.stringMatching(/^shard 1\/2: no output among the merged folders/)]);
    expect(out.manifest.invalidReasons).toEqual(out.invalidReasons);
    expect(out.summary.generator.invalidReasons).toEqual(out.invalidReasons);
    expect(out.manifest.imeis).toHaveLength(DEVICES / 2);
    const failed = copy(two.shardDirs[1], 'failed');
    patch(failed, (r) => Object.assign(r, { status: 'failed', error: 'cannot connect', exitCode: 3 }));
    const f = mergeShards({ shardDirs: [two.shardDirs[0], failed], out: join(tmp, 'bad', 'failed-run'), log });
    expect(f.invalidReasons).toEqual([expect.stringMatching(/^shard 1\/2 failed: cannot connect \(exit 3\)/)]);
    const late = copy(two.shardDirs[1], 'late');
    const summaryFile = join(late, 'engine-summary.json');
    const sum = JSON.parse(readFileSync(summaryFile, 'utf8')) as EngineSummary;
    sum.generator.invalidReasons.push('shard 1/2 started 2000 ms after --start-at (tolerance 500 ms): its devices ran late against the other shards\'');
    writeFileSync(summaryFile, JSON.stringify(sum));
    const l = mergeShards({ shardDirs: [two.shardDirs[0], late], out: join(tmp, 'bad', 'late-run'), log });
    expect(l.exitCode).toBe(ExitCode.InvalidRun);
    expect(l.invalidReasons).toEqual([expect.stringMatching(/^shard 1\/2 started 2000 ms after/)]);
  });

  it('folders of different runs, seeds or fleets, a shard twice, or no shard folder: exit 2', () => {
    if (!two) throw new Error('needs the 2-shard run above');
    const [s0, s1] = two.shardDirs;
    const otherRun = copy(s1, 'other-run');
    patch(otherRun, (r) => (r.runId = 'another-run'));
    expectBad(() => mergeShards({ shardDirs: [s0, otherRun], out: join(tmp, 'bad', 'x'), log }), /run id differs/);
    const otherFleet = copy(s1, 'other-fleet');
    patch(otherFleet, (r) => (r.configHash = '0000'));
    expectBad(() => mergeShards({ shardDirs: [s0, otherFleet], out: join(tmp, 'bad', 'x'), log }), /fleet config .* differs/);
    const otherSeed = copy(s1, 'other-seed');
    patch(otherSeed, (r) => (r.seed += 1));
    expectBad(() => mergeShards({ shardDirs: [s0, otherSeed], out: join(tmp, 'bad', 'x'), log }), /seed differs/);
    expectBad(() => mergeShards({ shardDirs: [s0, copy(s0, 'dup')], out: join(tmp, 'bad', 'x'), log }), /shard 0\/2 appears twice/);
    expectBad(() => mergeShards({ shardDirs: [s0, tmp], out: join(tmp, 'bad', 'x'), log }), /is not a shard folder/);
  });

  it('the CLI: --shard 3/2, a start time in the past, --shard without --run-id are exit 2 before any load', async () => {
    const args = ['generate', '--profile', profileFile, '--tcp', '127.0.0.1:9', '--out', join(tmp, 'cli')];
    const exit = (extra: string[]) =>
      run(process.execPath, [CLI, ...args, ...extra], { cwd: ROOT }).then(
        () => ({ code: 0, stderr: '' }),
        (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
      );
    const future = new Date(Date.now() + 60_000).toISOString();
    const r1 = await exit(['--shard', '3/2', '--run-id', 'x', '--start-at', future]);
    expect(r1).toMatchObject({ code: 2, stderr: expect.stringMatching(/--shard 3\/2: the index is 0-based/) });
    const r2 = await exit(['--shard', '0/2', '--run-id', 'x', '--start-at', '2001-01-01T00:00:00Z']);
    expect(r2).toMatchObject({ code: 2, stderr: expect.stringMatching(/--start-at 2001-01-01T00:00:00Z is in the past/) });
    const r3 = await exit(['--shard', '0/2', '--start-at', future]);
    expect(r3).toMatchObject({ code: 2, stderr: expect.stringMatching(/needs --run-id/) });
  }, 30_000);
});
