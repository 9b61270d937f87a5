// Live view benchmark (issue 15): what `--web` costs the engine. The same 10,000-device fleet runs twice in this
// process against a zero-work Teltonika ACK server in a child process (as bench:generator does) — once without the
// live view, once with it serving and `--tabs` pages open (SSE readers in another child process, as a browser would
// be) — and prints the engine process's CPU as a share of the machine for each, and the difference.
// Goal: the view adds ≤ 2 % of the machine at 10,000 devices.
//   npm run bench:live
//   node dist/bench/live.js [--devices 10000] [--duration 30] [--tabs 5] [--rounds 1]
import { spawn, type ChildProcess } from 'node:child_process';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { runEngine, type EngineTick } from '../src/engine/engine.js';
import { openLiveView } from '../src/live/index.js';
import { runZeroAckServer } from './lib/zero-ack.js';
import type { FleetConfig } from '../src/sim/fleet-config.js';
import { loadSloFile } from '../src/verify/index.js';

const { values: args } = parseArgs({
  options: {
    devices: { type: 'string', default: '10000' },
    duration: { type: 'string', default: '30' },
    tabs: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '1' },
    acker: { type: 'boolean', default: false },
    reader: { type: 'string' },
  },
});

/** `--reader URL --tabs n`: n open pages' event streams, read to the end (a browser's share of the work, elsewhere). */
async function reader(url: string, tabs: number): Promise<void> {
  let bytes = 0;
  await Promise.all(
    Array.from({ length: tabs }, async () => {
      const page = await fetch(url);
      await page.text();
      const res = await fetch(`${url}events`);
      const r = res.body!.getReader();
      for (;;) {
        const { value, done } = await r.read();
        if (done) break;
        bytes += value.byteLength;
      }
    }),
  ).catch(() => {});
  process.stderr.write(`readers: ${tabs} tabs read ${(bytes / 1e6).toFixed(2)} MB of events\n`);
}

async function child(argv: string[]): Promise<{ child: ChildProcess; line: Promise<string> }> {
  const c = spawn(process.execPath, [process.argv[1], ...argv], { stdio: ['ignore', 'pipe', 'inherit'] });
  return { child: c, line: new Promise<string>((resolve) => createInterface({ input: c.stdout! }).once('line', resolve)) };
}

function fleet(port: number, devices: number, durationSec: number): FleetConfig {
  return {
    runId: `bench-live-${devices}`, seed: 9, devices, durationSec, intervalMs: 10_000, recordsPerPacket: 1, codec: 8, codec8eShare: 0.3,
    ackTimeoutMs: 30_000, reconnectBaseMs: 1000, reconnectMaxMs: 30_000, tcpHost: '127.0.0.1', tcpPort: port, centre: { latitude: 44.77, longitude: 17.19 }, drainMs: 2000,
  };
}

interface Result {
  cpuPercentOfMachine: number;
  acked: number;
  ackP95: number | undefined;
  observeMsPerTick?: number;
  observePercent?: number;
}

/** One run of the fleet; CPU counted from the common start to the end (the threads' start-up is left out). */
async function once(port: number, withView: boolean): Promise<Result> {
  const c = fleet(port, Number(args.devices), Number(args.duration));
  const view = withView ? await openLiveView({ port: 0, runId: c.runId, title: 'bench', slo: loadSloFile(), log: () => {}, lingerMs: 0 }) : undefined;
  const readers = view ? await child(['--reader', view.url, '--tabs', args.tabs]) : undefined;
  let from: { cpu: NodeJS.CpuUsage; at: number } | undefined;
  // the view's own synchronous work each tick (points, objectives for open pages, one message to every tab): a figure
  // the other processes on a shared machine cannot blur, unlike the CPU difference between two runs
  const observe = view?.observer(c);
  let observeMs = 0;
  let ticks = 0;
  const run = await runEngine({
    runId: c.runId,
    config: c,
    workers: 1,
    hardLimitMs: (c.durationSec + 120) * 1000,
    fleetloadVersion: 'bench',
    log: (l) => process.stderr.write(`${l}\n`),
    ...(observe
      ? {
          observe: (t: EngineTick) => {
            const t0 = performance.now();
            observe(t);
            observeMs += performance.now() - t0;
            ticks++;
          },
        }
      : {}),
    onStart: (t) => {
      from = { cpu: process.cpuUsage(), at: t };
    },
  });
  const cpu = process.cpuUsage(from!.cpu);
  const wallMs = Date.now() - from!.at;
  await view?.close();
  if (readers) await new Promise((r) => readers.child.once('exit', r));
  const share = (cpu.user + cpu.system) / 1000 / wallMs / (cpus().length || 1);
  return { cpuPercentOfMachine: share * 100, acked: run.summary.packets.acked, ackP95: run.summary.ackLatencyMs?.p95, ...(view ? { observeMsPerTick: observeMs / Math.max(1, ticks), observePercent: (observeMs / wallMs / (cpus().length || 1)) * 100 } : {}) };
}

async function main(): Promise<void> {
  if (args.acker) return runZeroAckServer();
  if (args.reader) return reader(args.reader, Number(args.tabs));
  const ack = await child(['--acker']);
  const port = Number(await ack.line);
  const line = (label: string, r: Result) =>
    process.stdout.write(`${label.padEnd(26)} engine CPU ${r.cpuPercentOfMachine.toFixed(2)} % of the machine (${cpus().length} cores); ${r.acked} packets ACKed; ACK p95 ${r.ackP95?.toFixed(2) ?? 'n/a'} ms${r.observeMsPerTick !== undefined ? `; the view's own work ${r.observeMsPerTick.toFixed(2)} ms per tick = ${r.observePercent!.toFixed(3)} % of the machine` : ''}\n`);
  try {
    const without: number[] = [];
    const withView: number[] = [];
    for (let i = 0; i < Number(args.rounds); i++) {
      const a = await once(port, false);
      line(`without the live view`, a);
      without.push(a.cpuPercentOfMachine);
      const b = await once(port, true);
      line(`with it, ${args.tabs} tabs open`, b);
      withView.push(b.cpuPercentOfMachine);
    }
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    const delta = mean(withView) - mean(without);
    process.stdout.write(`${args.devices} devices, ${args.duration} s, ${args.rounds} round(s): the live view adds ${delta.toFixed(2)} % of the machine (goal ≤ 2 %)${delta <= 2 ? '' : ' — OVER THE GOAL'}\n`);
  } finally {
    ack.child.kill();
  }
}

await main();
