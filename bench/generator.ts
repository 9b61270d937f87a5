// Generator benchmark: how many simulated devices one k6 process carries, and what the generator itself adds to the
// ACK latency. The real scenario (dist/scenarios/devices.js) runs against a zero-work ACK server of this benchmark
// (it frames logins and AVL packets and answers at once, no database), so every millisecond measured is the
// generator's: timer lateness, JS encoding, socket I/O. Prints, per fleet size: peak RSS (total and per device), CPU,
// ACK latency p95 (from the scheduled send time) and send lag p95; then the same fleet with one VU per device.
//   npm run bench:generator
//   node dist/bench/generator.js [--sizes 1000,5000,10000] [--duration 40] [--per-vu-size 1000] [--devices-per-vu 2500]
// Goals (issue #5): 10,000 devices ≤ 2 GB RSS; ≥ 5× less memory per device than one VU per device; generator-added
// ACK p95 ≤ 5 ms at 1,000 devices. Each device needs a file descriptor in k6 and one here: `ulimit -n` must exceed the
// largest size (k6 is started through `bash -c 'ulimit -n …'`, which can raise the soft limit up to the hard one).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { encodeAck, encodeLoginReply, TeltonikaFramer } from '../src/protocol/teltonika/index.js';
import { startGeneratorSampler, type GeneratorSamples } from '../src/run/generator-health.js';
import type { FleetConfig } from '../src/sim/fleet-config.js';
import { ensureK6Binary, k6Env } from '../src/stack/k6-binary.js';
import { repoRoot } from '../src/stack/repo-root.js';

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1000,5000,10000' },
    duration: { type: 'string', default: '40' },
    'per-vu-size': { type: 'string', default: '1000' },
    'devices-per-vu': { type: 'string', default: '2500' },
  },
});
const sizes = args.sizes.split(',').map(Number).filter((n) => n > 0);
const durationSec = Number(args.duration);
const perVuSize = Number(args['per-vu-size']);
const devicesPerVu = Number(args['devices-per-vu']);

/** Zero-work Teltonika server: login accepted, every AVL packet ACKed with its record count at once. */
async function ackServer(): Promise<{ port: number; packets: () => number; close: () => Promise<void> }> {
  let packets = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.setNoDelay(true);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    const framer = new TeltonikaFramer();
    s.on('data', (chunk) => {
      for (const f of framer.push(chunk)) {
        if (f.type === 'login') s.write(encodeLoginReply(true));
        else if (f.type === 'avl') {
          packets++;
          s.write(encodeAck(f.bytes[9]));
        }
      }
    });
  });
  server.maxConnections = 60_000;
  await new Promise<void>((r) => server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, r));
  return {
    port: (server.address() as net.AddressInfo).port,
    packets: () => packets,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

interface Result {
  label: string;
  devices: number;
  vus: number;
  samples: GeneratorSamples;
  ackP95: number;
  ackP50: number;
  lagP95: number;
  acked: number;
  errors: number;
  exit: number | null;
}

async function runOnce(k6: string, label: string, devices: number, perVu: number, port: number, work: string): Promise<Result> {
  const config: FleetConfig = {
    runId: `bench-${label}`,
    seed: 5,
    devices,
    durationSec,
    intervalMs: 10_000,
    recordsPerPacket: 1,
    codec: 8,
    codec8eShare: 0.3,
    devicesPerVu: perVu,
    ackTimeoutMs: 30_000,
    reconnectBaseMs: 1000,
    reconnectMaxMs: 30_000,
    tcpHost: '127.0.0.1',
    tcpPort: port,
    centre: { latitude: 44.7722, longitude: 17.191 },
    drainMs: 2000,
  };
  const summaryFile = join(work, `${label}.json`);
  const k6Args = ['run', '--quiet', '--no-color', '-e', `FLEET_CONFIG=${JSON.stringify(config)}`, '-e', `FLEET_SUMMARY_FILE=${summaryFile}`, join(repoRoot(), 'dist', 'scenarios', 'devices.js')];
  const quoted = [k6, ...k6Args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const fds = devices + 2048;
  const child = spawn('bash', ['-c', `ulimit -n ${fds} 2>/dev/null || ulimit -n hard; exec ${quoted}`], { env: k6Env({ K6_NO_USAGE_REPORT: 'true' }), stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const sampler = startGeneratorSampler(child.pid as number, 500);
  const exit = await new Promise<number | null>((r) => child.on('close', r));
  const samples = sampler.stop();
  let m: Record<string, { values: Record<string, number> }> = {};
  try {
    m = (JSON.parse(readFileSync(summaryFile, 'utf8')) as { metrics: typeof m }).metrics;
  } catch {
    process.stderr.write(`k6 (${label}) left no summary (exit ${exit}):\n${stderr}\n`);
  }
  const v = (metric: string, stat: string) => m[metric]?.values[stat] ?? NaN;
  return {
    label,
    devices,
    vus: Math.ceil(devices / perVu),
    samples,
    ackP95: v('fleet_ack_latency', 'p(95)'),
    ackP50: v('fleet_ack_latency', 'med'),
    lagP95: v('fleet_send_lag', 'p(95)'),
    acked: v('fleet_records_acked', 'count'),
    errors: m.fleet_device_errors?.values.count ?? 0,
    exit,
  };
}

const fmt = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : '—');

function row(r: Result): string {
  const mb = r.samples.peakRssKb / 1024;
  const cpu = r.samples.wallSeconds > 0 ? (r.samples.cpuSeconds / r.samples.wallSeconds) * 100 : NaN;
  return [
    r.label.padEnd(22),
    String(r.devices).padStart(7),
    String(r.vus).padStart(6),
    fmt(mb).padStart(9),
    fmt((mb * 1024) / r.devices).padStart(10),
    fmt(cpu).padStart(8),
    fmt(r.ackP50, 2).padStart(9),
    fmt(r.ackP95, 2).padStart(9),
    fmt(r.lagP95, 2).padStart(9),
    String(r.acked).padStart(9),
    String(r.errors).padStart(7),
  ].join(' ');
}

const k6 = await ensureK6Binary();
const server = await ackServer();
const work = mkdtempSync(join(tmpdir(), 'fleetload-bench-gen-'));
const results: Result[] = [];
try {
  console.log(`generator benchmark: ${durationSec}s per run, 10 s interval, 30% Codec 8E, zero-work ACK server; ${devicesPerVu} devices per VU`);
  const header = ['run'.padEnd(22), 'devices'.padStart(7), 'VUs'.padStart(6), 'RSS MB'.padStart(9), 'KB/device'.padStart(10), 'CPU %'.padStart(8), 'ACK p50'.padStart(9), 'ACK p95'.padStart(9), 'lag p95'.padStart(9), 'acked'.padStart(9), 'errors'.padStart(7)].join(' ');
  console.log(header);
  for (const n of sizes) {
    const r = await runOnce(k6, `sockets-per-vu ${n}`, n, Math.min(n, devicesPerVu), server.port, work);
    results.push(r);
    console.log(row(r));
  }
  const same = await runOnce(k6, `sockets-per-vu ${perVuSize}`, perVuSize, perVuSize, server.port, work);
  console.log(row(same));
  const vuPer = await runOnce(k6, `vu-per-device ${perVuSize}`, perVuSize, 1, server.port, work);
  console.log(row(vuPer));
  console.log('(CPU % is of one core; ACK latency counts from the scheduled send time; lag = actual - scheduled send)');

  const perDevice = (r: Result) => r.samples.peakRssKb / r.devices;
  const ratio = perDevice(vuPer) / perDevice(same);
  const big = results.find((r) => r.devices >= 10_000);
  const k1 = results.find((r) => r.devices === 1000);
  console.log('\ngoals:');
  if (big) console.log(`  10,000 devices ≤ 2 GB RSS: ${fmt(big.samples.peakRssKb / 1024)} MB → ${big.samples.peakRssKb / 1024 <= 2048 ? 'met' : 'NOT met'}`);
  console.log(`  ≥ 5× less memory per device than one VU per device (${perVuSize} devices): ${fmt(ratio)}× → ${ratio >= 5 ? 'met' : 'NOT met'}`);
  if (k1) console.log(`  generator-added ACK p95 ≤ 5 ms at 1,000 devices: ${fmt(k1.ackP95, 2)} ms → ${k1.ackP95 <= 5 ? 'met' : 'NOT met'}`);
} finally {
  await server.close();
  rmSync(work, { recursive: true, force: true });
}
