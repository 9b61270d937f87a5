// The devices one engine thread simulates: a DeviceCore per device (src/sim), driven by runDevice over TCP, with every
// event counted in Stats and every ACK written to this thread's ACK ledger. Device i of the fleet runs in thread
// i mod threads, so every thread carries an even share of each step.
import { FLAG_SENT_UNACKED, type LedgerWriter } from '../core/ledger.js';
import type { Clock } from '../core/clock.js';
import { DeviceCore, deviceSettings } from '../sim/device.js';
import { drainMs, stepRanges, type FleetConfig } from '../sim/fleet-config.js';
import { runDevice, type DeviceEvents, type SessionTiming } from '../sim/session.js';
import { tcpDeviceIO, type TcpTarget } from './tcp-link.js';
import type { Stats } from './stats.js';

export interface FleetSlice {
  /** this thread's index and the number of threads */
  thread: number;
  threads: number;
  /** loopback (or other) source addresses to spread connections over; empty = the OS picks */
  sourceAddresses: string[];
}

export interface DeviceFleetOptions {
  config: FleetConfig;
  slice: FleetSlice;
  target: TcpTarget;
  testStartMs: number;
  clock: Clock;
  stats: Stats;
  ledger?: LedgerWriter;
  /** a device task that throws: counted as a generator error; the others go on */
  onDeviceBug?: (index: number, error: unknown) => void;
}

export interface RunningFleet {
  /** resolves when every device of the slice has stopped by itself (deadline, then drain) */
  done: Promise<void>;
  /** devices of this slice that exist at `now` */
  cores: DeviceCore[];
  connected(): number;
}

/** When a run's devices stop taking records, and how long they may still deliver their backlog. */
export function sessionTiming(c: FleetConfig, testStartMs: number): SessionTiming {
  const deadline = testStartMs + c.durationSec * 1000;
  return { deadline, drainUntil: deadline + drainMs(c), ackTimeoutMs: c.ackTimeoutMs, keepAliveMs: c.keepAliveMs ?? 0 };
}

/** The device indices of one thread, with the time each starts (its step's start). */
export function sliceDevices(c: FleetConfig, slice: Pick<FleetSlice, 'thread' | 'threads'>): Array<{ index: number; startOffsetMs: number }> {
  const out: Array<{ index: number; startOffsetMs: number }> = [];
  for (const step of stepRanges(c)) {
    for (let i = step.from; i < step.to; i++) if (i % slice.threads === slice.thread) out.push({ index: i, startOffsetMs: step.startMs });
  }
  return out;
}

export function startDeviceFleet(o: DeviceFleetOptions): RunningFleet {
  const settings = deviceSettings(o.config);
  const timing = sessionTiming(o.config, o.testStartMs);
  const live = { connected: 0 };
  const events = deviceEvents(o.stats, live);
  const cores: DeviceCore[] = [];
  const runs: Promise<void>[] = [];
  const addrs = o.slice.sourceAddresses;
  for (const d of sliceDevices(o.config, o.slice)) {
    const core = new DeviceCore(settings, d.index, o.testStartMs, o.testStartMs + d.startOffsetMs);
    cores.push(core);
    const io = tcpDeviceIO(o.target, o.clock, addrs.length > 0 ? addrs[d.index % addrs.length] : undefined);
    const ledger = o.ledger;
    const ev: DeviceEvents = ledger
      ? { ...events, acked: (pkt, ackAt) => (events.acked(pkt, ackAt), ledger.append(d.index, ackAt, pkt.timestamps)) }
      : events;
    runs.push(
      runDevice(core, io, ev, timing).then(
        (unsent) => finishDevice(o, core, unsent),
        (e: unknown) => {
          o.stats.inc('generator_errors');
          o.onDeviceBug?.(d.index, e);
        },
      ),
    );
  }
  return { done: Promise.all(runs).then(() => undefined), cores, connected: () => live.connected };
}

function finishDevice(o: DeviceFleetOptions, core: DeviceCore, unsent: number): void {
  if (unsent > 0) o.stats.inc('records_unsent', unsent);
  if (core.lost > 0) o.stats.inc('records_lost', core.lost);
  const inFlight = core.sentUnacked();
  if (inFlight && o.ledger) o.ledger.append(core.index, o.clock.now(), inFlight, FLAG_SENT_UNACKED);
}

/** session.ts's events as Stats counts and latencies (ms). */
function deviceEvents(stats: Stats, live: { connected: number }): DeviceEvents {
  return {
    error: (reason) => stats.inc('device_errors', 1, { reason }),
    login(latencyMs, reconnect) {
      stats.observe('login_latency', latencyMs);
      stats.inc('logins');
      if (reconnect) stats.inc('reconnects');
    },
    connected() {
      live.connected++;
      stats.inc('connects');
    },
    disconnected() {
      live.connected--;
      stats.inc('disconnects');
    },
    packet(count, resend) {
      stats.inc('packets_sent');
      stats.inc(resend ? 'records_resent' : 'records_sent', count);
    },
    acked(pkt, ackAt) {
      stats.inc('packets_acked');
      stats.inc('records_acked', pkt.count);
      stats.observe('ack_latency', ackAt - pkt.dueAt);
      const rec = stats.recorder('record_latency');
      for (const t of pkt.timestamps) rec.record(ackAt - t);
    },
    sendLag: (ms) => stats.observe('send_lag', ms),
    keepAlive: () => stats.inc('keepalives'),
    outage: (kind) => stats.inc('link_outages', 1, { kind }),
    recovered: (ms) => stats.observe('recovery', ms),
    unrecovered: () => stats.inc('outages_unrecovered'),
  };
}
