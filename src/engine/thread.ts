// One engine thread's life: wait for the common start instant, run its slice of devices, and report. It runs inside a
// worker thread (worker-main.ts) or, with --workers 0, in the main thread; either way it talks through `post`.
// Every `snapshotMs` it posts cumulative counts (cheap, exact when summed); at the end the exact histograms and the
// ledger's size. Event-loop delay is measured per thread: a thread too busy to keep time inflates every latency
// it measures, which makes the run invalid (generator health).
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join } from 'node:path';
import type { Clock } from '../core/clock.js';
import { LedgerWriter } from '../core/ledger.js';
import type { FleetConfig } from '../sim/fleet-config.js';
import { startDeviceFleet, type FleetSlice } from './device-fleet.js';
import { Stats, type StatsSnapshot } from './stats.js';
import type { TcpTarget } from './tcp-link.js';

export interface ThreadInit {
  runId: string;
  config: FleetConfig;
  slice: FleetSlice;
  target: TcpTarget;
  /** folder for this thread's ledger file; absent = no ledger */
  ledgerDir?: string;
  /** ledger part name: w0, w1, … (s2-w0 for shard 2) */
  part: string;
  snapshotMs: number;
}

export type ThreadReport =
  | { type: 'ready'; thread: number }
  | { type: 'snapshot'; thread: number; stats: StatsSnapshot }
  | {
      type: 'done';
      thread: number;
      stats: StatsSnapshot;
      exact: Record<string, string>;
      ledger?: { file: string; entries: number; records: number };
      /** the thread's event-loop delay p99 over the whole run, ms */
      eventLoopDelayP99Ms: number;
      bugs: string[];
    };

/** Runs a thread's devices from `testStartMs` until they stop by themselves. */
export async function runThread(init: ThreadInit, testStartMs: number, clock: Clock, post: (r: ThreadReport) => void): Promise<void> {
  const stats = new Stats();
  const thread = init.slice.thread;
  const ledger = init.ledgerDir ? new LedgerWriter(join(init.ledgerDir, `${init.part}.bin`), { runId: init.runId, seed: init.config.seed, part: init.part }) : undefined;
  const bugs: string[] = [];
  // per interval for the /metrics gauge; over the whole run for the verdict on the engine's health
  const loop = monitorEventLoopDelay({ resolution: 10 });
  const whole = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  whole.enable();
  const fleet = startDeviceFleet({
    config: init.config,
    slice: init.slice,
    target: init.target,
    testStartMs,
    clock,
    stats,
    ledger,
    onDeviceBug: (i, e) => {
      if (bugs.length < 10) bugs.push(`device ${i}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    },
  });
  const sample = () => {
    const now = clock.now();
    let buffered = 0;
    const deadline = testStartMs + init.config.durationSec * 1000;
    for (const c of fleet.cores) {
      // offline devices sleep through their outage: take their due records now so the gauge shows the real backlog
      if (c.startMs <= now) c.acquire(now, deadline);
      buffered += c.buffered;
    }
    const p99Ms = loop.count > 0 ? loop.percentile(99) / 1e6 : 0;
    loop.reset();
    stats.set('devices_connected', fleet.connected());
    stats.set('records_buffered', buffered);
    stats.set('event_loop_delay_p99', p99Ms / 1000, { thread: String(thread) });
    post({ type: 'snapshot', thread, stats: stats.snapshot() });
  };
  const ticker = setInterval(sample, init.snapshotMs);
  try {
    await fleet.done;
  } finally {
    clearInterval(ticker);
    sample();
    loop.disable();
    whole.disable();
    ledger?.close();
  }
  post({
    type: 'done',
    thread,
    stats: stats.snapshot(),
    exact: stats.exact(),
    ledger: ledger ? { file: ledger.file, entries: ledger.entries, records: ledger.records } : undefined,
    eventLoopDelayP99Ms: whole.count > 0 ? whole.percentile(99) / 1e6 : 0,
    bugs,
  });
}
