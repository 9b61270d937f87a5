// Engine benchmark: how many simulated devices one fleetload engine process carries, how fast one worker thread
// sends, and what the engine itself adds to the ACK latency. The engine runs in this process against a zero-work
// Teltonika ACK server in a child process (it frames logins and AVL packets and answers at once, no database), so
// every millisecond measured is the engine's: timer lateness, encoding, socket I/O. Prints per scenario: peak RSS
// (total and per device above the idle process), CPU, ACK latency p50/p95 (from each packet's due time), send lag.
//   npm run bench:generator
//   node dist/bench/generator.js [--scenarios memory,throughput,many] [--duration 40] [--devices 10000] [--many 50000]
// Goals (issue "own load engine"): ≤ 25 KB RSS per device at 10,000 devices (k6 held 94–116 KB); engine-added ACK
// p95 ≤ 2 ms at 10,000 devices; ≥ 20,000 packets/s per worker core; 50,000 devices over several source addresses.
// Each device needs a descriptor here and one in the ACK server: as root the benchmark raises its own limits.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { latencySummary, mergeExact } from '../src/engine/stats.js';
import { parseArgs } from 'node:util';
import { runEngine } from '../src/engine/engine.js';
import { runZeroAckServer, startZeroAckServer } from './lib/zero-ack.js';
import type { FleetConfig } from '../src/sim/fleet-config.js';

const { values: args } = parseArgs({
  options: {
    scenarios: { type: 'string', default: 'memory,throughput,many' },
    duration: { type: 'string', default: '40' },
    devices: { type: 'string', default: '10000' },
    many: { type: 'string', default: '50000' },
    workers: { type: 'string', default: '1' },
    acker: { type: 'boolean', default: false },
    'shard-child': { type: 'string' },
    'memory-child': { type: 'string' },
    port: { type: 'string' },
    'start-at': { type: 'string' },
  },
});

const K6_EARLIER = 'k6 v2.2.0 (the earlier generator, measured on this machine): 94–116 KB RSS per device, 943–1,154 MB at 10,000 devices';

function fleet(port: number, devices: number, durationSec: number, intervalMs: number): FleetConfig {
  return {
    runId: `bench-${devices}`,
    seed: 5,
    devices,
    durationSec,
    intervalMs,
    recordsPerPacket: 1,
    codec: 8,
    codec8eShare: 0.3,
    ackTimeoutMs: 30_000,
    reconnectBaseMs: 1000,
    reconnectMaxMs: 30_000,
    tcpHost: '127.0.0.1',
    tcpPort: port,
    centre: { latitude: 44.7722, longitude: 17.191 },
    drainMs: 2000,
  };
}

interface Figures {
  label: string;
  devices: number;
  workers: number;
  rssPeakMb: number;
  kbPerDevice: number;
  cpuPercentOfCore: number;
  packetsPerSec: number;
  packetsPerCpuSec: number;
  ackP50: number | undefined;
  ackP95: number | undefined;
  lagP95: number | undefined;
  acked: number;
  errors: number;
  connectedPeak: number;
}

async function scenario(label: string, c: FleetConfig, workers: number, sourceAddresses: string[] = []): Promise<Figures> {
  global.gc?.();
  const idleRss = process.memoryUsage().rss;
  let peak = idleRss;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 250);
  const cpu0 = process.cpuUsage();
  const t0 = Date.now();
  const run = await runEngine({ runId: c.runId, config: c, workers, sourceAddresses, hardLimitMs: (c.durationSec + 120) * 1000, fleetloadVersion: 'bench', log: (l) => process.stderr.write(`${l}\n`) });
  clearInterval(sampler);
  const wall = (Date.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuS = (cpu.user + cpu.system) / 1e6;
  const s = run.summary;
  peak = Math.max(peak, s.generator.rssPeakBytes);
  return {
    label,
    devices: c.devices,
    workers,
    rssPeakMb: peak / 1e6,
    kbPerDevice: (peak - idleRss) / 1000 / c.devices,
    cpuPercentOfCore: (cpuS / wall) * 100,
    packetsPerSec: s.packets.acked / c.durationSec,
    packetsPerCpuSec: s.packets.acked / cpuS,
    ackP50: s.ackLatencyMs?.p50,
    ackP95: s.ackLatencyMs?.p95,
    lagP95: s.sendLagMs?.p95,
    acked: s.packets.acked,
    errors: Object.values(s.errors).reduce((a, b) => a + b, 0),
    connectedPeak: s.devices.connectedPeak,
  };
}

function print(f: Figures): void {
  const ms = (v: number | undefined) => (v === undefined ? 'n/a' : `${v.toFixed(2)} ms`);
  process.stdout.write(
    `${f.label.padEnd(11)} ${String(f.devices).padStart(6)} devices, ${f.workers} worker(s): RSS peak ${f.rssPeakMb.toFixed(0)} MB (${f.kbPerDevice.toFixed(1)} KB/device above idle); ` +
      `CPU ${f.cpuPercentOfCore.toFixed(0)}% of a core; ${f.packetsPerSec.toFixed(0)} packets/s ACKed (${f.packetsPerCpuSec.toFixed(0)} per engine CPU-second); ` +
      `ACK p50 ${ms(f.ackP50)} p95 ${ms(f.ackP95)}; send lag p95 ${ms(f.lagP95)}; connected peak ${f.connectedPeak}; errors ${f.errors}\n`,
  );
}

/** Descriptors one process may open here (the hard limit; Node raises the soft one to it). */
function hardFdLimit(): number {
  const m = /^Max open files\s+\d+\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
  return m ? Number(m[1]) : 1024;
}

/** `--shard-child i/n`: one shard of the large fleet in this process; prints its summary as one JSON line. */
async function shardChild(): Promise<void> {
  const [i, n] = args['shard-child']!.split('/').map(Number);
  const c = fleet(Number(args.port), Number(args.many), Number(args.duration), 10_000);
  // each shard has an ACK server (port) of its own, so the kernel's ~28,000 ephemeral ports per destination suffice;
  // source addresses are only needed past that many devices towards one target
  const mine = Math.ceil(c.devices / n);
  const sources = mine > 20_000 ? Array.from({ length: Math.ceil(mine / 20_000) }, (_, k) => `127.0.0.${k + 1}`) : [];
  const run = await runEngine({ runId: c.runId, config: c, workers: 1, shard: { index: i, count: n }, startAt: Number(args['start-at']), sourceAddresses: sources, hardLimitMs: (c.durationSec + 120) * 1000, fleetloadVersion: 'bench', log: (l) => process.stderr.write(`shard ${i}: ${l}\n`) });
  process.stdout.write(`${JSON.stringify(run.summary)}\n`);
}

/**
 * 50,000 devices from one machine. One process may hold only hardFdLimit() descriptors here (20,000 in this
 * container, and root cannot raise it), so past that the fleet runs as shards — one process each, the way it scales
 * out anyway — over several loopback source addresses (each has its own ~28,000 ephemeral ports towards a
 * target). The zero-work ACK server has the same limit, so each shard gets its own ACK server process. RSS is the
 * shards' peaks added up; ACK p50/p95/p99 from their histograms merged exactly.
 */
async function manyDevices(durationSec: number): Promise<void> {
  const many = Number(args.many);
  const perProcess = hardFdLimit() - 2000;
  const shards = Math.max(1, Math.ceil(many / perProcess));
  const ackers = await Promise.all(Array.from({ length: shards }, () => startZeroAckServer()));
  const startAt = Date.now() + 3000;
  try {
    const t0 = Date.now();
    const outs = await Promise.all(
      Array.from({ length: shards }, (_, i) => {
        const child = spawn(process.execPath, [process.argv[1], '--shard-child', `${i}/${shards}`, '--port', String(ackers[i].port), '--many', String(many), '--duration', String(durationSec), '--start-at', String(startAt)], { stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
        return new Promise<EngineSummaryLike>((resolve) => child.on('exit', () => resolve(JSON.parse(out.trim().split('\n').pop() ?? '{}') as EngineSummaryLike)));
      }),
    );
    const rss = outs.reduce((a, s) => a + s.generator.rssPeakBytes, 0);
    const ack95 = latencySummary(mergeExact(outs.map((s) => s.histograms)).get('ack_latency'));
    const connected = outs.reduce((a, s) => a + s.devices.connectedPeak, 0);
    const errors = outs.reduce((a, s) => a + Object.values(s.errors).reduce((x, y) => x + y, 0), 0);
    process.stdout.write(
      `many        ${many} devices in ${shards} engine processes (descriptor limit ${hardFdLimit()} per process), each against its own ACK server: ` +
        `RSS ${(rss / 1e6).toFixed(0)} MB in all (${(rss / 1000 / many).toFixed(1)} KB/device); connected peak ${connected}; ` +
        `ACK p50 ${ack95?.p50.toFixed(2)} ms p95 ${ack95?.p95.toFixed(2)} ms p99 ${ack95?.p99.toFixed(2)} ms; errors ${errors}; ${(Date.now() - t0) / 1000} s\n`,
    );
  } finally {
    for (const a of ackers) a.child.kill();
  }
}

type EngineSummaryLike = Pick<import('../src/core/engine-summary.js').EngineSummary, 'generator' | 'histograms' | 'devices' | 'errors'>;

/** One memory scenario in a fresh process; its figures come back as one JSON line. */
function memoryChild(port: number, devices: number, durationSec: number): Promise<Figures> {
  const child = spawn(process.execPath, ['--expose-gc', process.argv[1], '--memory-child', String(devices), '--port', String(port), '--duration', String(durationSec), '--workers', args.workers], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve) => child.on('exit', () => resolve(JSON.parse(out.trim().split('\n').pop() ?? '{}') as Figures)));
}

async function main(): Promise<void> {
  if (args.acker) return runZeroAckServer();
  if (args['memory-child']) {
    const n = Number(args['memory-child']);
    const f = await scenario('memory', fleet(Number(args.port), n, Number(args.duration), 10_000), Number(args.workers));
    process.stdout.write(`${JSON.stringify(f)}\n`);
    return;
  }
  if (args['shard-child']) return shardChild();
  const want = new Set(args.scenarios.split(','));
  const durationSec = Number(args.duration);
  const devices = Number(args.devices);
  const ack = await startZeroAckServer();
  process.stdout.write(`earlier: ${K6_EARLIER}\n`);
  try {
    if (want.has('memory')) {
      // the marginal cost of a device: the slope between half the fleet and the whole fleet, each in a fresh process
      // (a process that ran a fleet before keeps some of its heap)
      const half = await memoryChild(ack.port, devices / 2, durationSec);
      print(half);
      const whole = await memoryChild(ack.port, devices, durationSec);
      print(whole);
      process.stdout.write(`memory      marginal cost ${(((whole.rssPeakMb - half.rssPeakMb) * 1000) / (devices - devices / 2)).toFixed(1)} KB RSS per device (${devices / 2} → ${devices} devices); total ${((whole.rssPeakMb * 1000) / devices).toFixed(1)} KB per device\n`);
    }
    // one worker thread, 2,500 devices each sending every 100 ms: 25,000 packets/s offered to one core
    if (want.has('throughput')) print(await scenario('throughput', fleet(ack.port, 2500, Math.min(durationSec, 20), 100), 1));
  } finally {
    ack.child.kill();
  }
  if (want.has('many')) await manyDevices(durationSec);
}

await main();
