// Scale-out benchmark: the same fleet run by 1, 2 and 4 shard processes on this machine (`node dist/cli.js generate
// --shard i/n`, one --start-at), against the reference platform on a real PostgreSQL (in this process), merged by
// `fleetload merge`. Prints per shard count: devices, records ACKed per second, ACK p95, the generator's CPU, and
// whether the merged run is valid — so the point where the platform or the machine (not one engine process) is the
// limit shows. Shards are also the way past a per-process descriptor limit (this container's is 20,000).
//   npm run bench:shards
//   node dist/bench/shards.js [--devices 3000] [--duration 20] [--shards 1,2,4] [--interval 1000]
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { startPlatform } from '../src/platform/platform.js';
import { mergeShards } from '../src/run/merge.js';
import { startEmbeddedPostgres } from '../src/stack/postgres.js';
import { repoRoot } from '../src/core/repo-root.js';

const run = promisify(execFile);
const { values: args } = parseArgs({
  options: {
    devices: { type: 'string', default: '3000' },
    duration: { type: 'string', default: '20' },
    shards: { type: 'string', default: '1,2,4' },
    interval: { type: 'string', default: '1000' },
  },
});
const devices = Number(args.devices);
const durationSec = Number(args.duration);
const counts = args.shards.split(',').map(Number);

const profileText = (name: string) => `name: ${name}
seed: 9
duration: ${durationSec}s
centre: { latitude: 44.7722, longitude: 17.1910 }
devices:
  count: ${devices}
  interval: ${args.interval}ms
  recordsPerPacket: 1
  codec: "8"
  ackTimeout: 10s
  reconnectBase: 500ms
  reconnectMax: 5s
`;

async function benchOne(n: number, tmp: string, pgUrl: string, cli: string): Promise<string> {
  // a fresh platform per shard count: every run starts with the same empty tables
  const db = `bench_shards_${n}`;
  const { default: pg } = await import('pg');
  const admin = new pg.Client({ connectionString: pgUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${db}`);
  await admin.end();
  const u = new URL(pgUrl);
  u.pathname = `/${db}`;
  const platform = await startPlatform({ pgUrl: u.toString(), host: '127.0.0.1', tcpPort: 0, httpPort: 0, logger: pino({ level: 'silent' }) });
  try {
    const name = 'bench-shards';
    const profile = join(tmp, `n${n}`, `${name}.yaml`);
    rmSync(join(tmp, `n${n}`), { recursive: true, force: true });
    await import('node:fs').then((fs) => fs.mkdirSync(join(tmp, `n${n}`), { recursive: true }));
    writeFileSync(profile, profileText(name));
    const startAt = new Date(Date.now() + 5000 + n * 1000).toISOString();
    const dirs = Array.from({ length: n }, (_, i) => join(tmp, `n${n}`, `shard-${i}`));
    const t0 = Date.now();
    await Promise.all(
      dirs.map((out, i) =>
        run(process.execPath, [cli, 'generate', '--profile', profile, '--tcp', `127.0.0.1:${platform.tcpPort}`, '--shard', `${i}/${n}`, '--run-id', `bench-${n}`, '--start-at', startAt, '--out', out, '--workers', '1', '--start-tolerance', '2000'], {
          cwd: repoRoot(),
          maxBuffer: 64 * 1024 * 1024,
        }).catch((e: { code?: number }) => process.stderr.write(`shard ${i}/${n} exited ${e.code}\n`)),
      ),
    );
    const wall = (Date.now() - t0) / 1000;
    const m = mergeShards({ shardDirs: dirs, out: join(tmp, `n${n}`, 'run'), log: () => {} });
    const s = m.summary;
    const seconds = (Date.parse(s.loadEnd) - Date.parse(s.loadStart)) / 1000;
    return [
      String(n).padStart(6),
      String(s.devices.planned).padStart(8),
      String(s.devices.connectedPeak).padStart(10),
      (s.records.acked / durationSec).toFixed(0).padStart(13),
      String(s.ackLatencyMs?.p95 ?? 'n/a').padStart(11),
      s.generator.cpuSeconds.toFixed(1).padStart(11),
      seconds.toFixed(1).padStart(8),
      wall.toFixed(1).padStart(7),
      `  ${m.invalidReasons.length === 0 ? 'valid' : `INVALID: ${m.invalidReasons.join(' | ').slice(0, 160)}`}`,
    ].join(' ');
  } finally {
    await platform.close();
  }
}

async function main(): Promise<void> {
  const cli = join(repoRoot(), 'dist', 'cli.js');
  const tmp = mkdtempSync(join(tmpdir(), 'fleetload-bench-shards-'));
  const pgServer = await startEmbeddedPostgres({ label: 'bench-shards' });
  try {
    process.stdout.write(`sharded engine on one machine: ${devices} devices, ${durationSec} s, one packet of 1 record per ${args.interval} ms per device; reference platform + PostgreSQL in this process\n`);
    process.stdout.write(`shards  devices  connected  ACKed rec/s  ACK p95 ms  engine cpu-s  load s  wall s  merged run\n`);
    for (const n of counts) process.stdout.write(`${await benchOne(n, tmp, pgServer.url, cli)}\n`);
  } finally {
    await pgServer.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
