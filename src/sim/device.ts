// The state of one simulated tracker, without any I/O: its acquisition schedule (moving vs parked), the flash buffer
// of records not yet acknowledged, how packets are cut from it (up to the 1280-byte frame, at most 255 records,
// oldest- or newest-first), the in-flight packet that is resent byte for byte after an ACK timeout or mismatch,
// reconnect backoff with jitter, and scheduled link losses (random drops, the reconnect storm).
// session.ts drives it over a connection; the engine, the k6 bundle and tests supply the connection.
// Deterministic per (seed, device index, start time). No Node APIs (the k6 bundle uses this file too).
import {
  AVL_PACKET_OVERHEAD,
  DEFAULT_MAX_FRAME_BYTES,
  MAX_RECORDS_PER_PACKET,
  avlRecordSize,
  encodeAvlPacket,
  imeiForIndex,
  type AvlRecord,
  type Codec,
} from '../protocol/teltonika/index.js';
import type { FleetConfig, ReplayOrder } from './fleet-config.js';
import { hash32, Rng, unit } from './rng.js';
import { DEFAULT_ROUTE, busFor, stateAt, type BusDevice, type RouteOptions } from './route.js';
import { recordAt, vinFor } from './telemetry.js';

export interface Outgoing {
  bytes: Uint8Array;
  count: number;
  /** the same packet again after an ACK timeout or mismatch */
  resend: boolean;
  /** when the packet became due: its newest record's acquisition time */
  dueAt: number;
  /** the acquisition times of the packet's records, in packet order (the ACK ledger records them) */
  timestamps: number[];
}

export interface Outage {
  from: number;
  until: number;
  kind: 'drop' | 'storm';
}

/** Resolved device settings (FleetConfig with defaults applied). */
export interface DeviceSettings {
  seed: number;
  devices: number;
  intervalMs: number;
  parkedIntervalMs: number;
  recordsPerPacket: number;
  codec8eShare: number;
  replayOrder: ReplayOrder;
  maxFrameBytes: number;
  reconnectBaseMs: number;
  reconnectMaxMs: number;
  bufferLimit: number;
  linkDrops?: { perDeviceHour: number; offlineMs: number };
  storm?: { atMs: number; offlineMs: number };
  centre: { latitude: number; longitude: number };
  route: RouteOptions;
}

export function deviceSettings(c: FleetConfig): DeviceSettings {
  return {
    seed: c.seed,
    devices: c.devices,
    intervalMs: c.intervalMs,
    parkedIntervalMs: Math.max(c.intervalMs, c.parkedIntervalMs ?? c.intervalMs),
    recordsPerPacket: Math.max(1, c.recordsPerPacket),
    codec8eShare: c.codec8eShare ?? (c.codec === 142 ? 1 : 0),
    replayOrder: c.replayOrder ?? 'oldest-first',
    maxFrameBytes: c.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
    reconnectBaseMs: c.reconnectBaseMs,
    reconnectMaxMs: Math.max(c.reconnectBaseMs, c.reconnectMaxMs),
    bufferLimit: c.bufferLimit ?? 100_000,
    linkDrops: c.linkDrops && c.linkDrops.perDeviceHour > 0 ? c.linkDrops : undefined,
    storm: c.storm,
    centre: c.centre,
    route: { ...DEFAULT_ROUTE, ...(c.route ?? {}) },
  };
}

/** Which codec device `index` speaks: a stable share of the fleet uses Codec 8E. */
export function codecOf(s: Pick<DeviceSettings, 'seed' | 'codec8eShare'>, index: number): Codec {
  return unit(s.seed, index, 31) < s.codec8eShare ? 0x8e : 0x08;
}

/**
 * When device `index` connects: spread over one interval from its step's start, so a fleet does not connect (and
 * then send) as one burst — real trackers do not boot in the same millisecond.
 */
export function connectAt(s: Pick<DeviceSettings, 'devices' | 'intervalMs'>, index: number, startMs: number): number {
  return startMs + Math.floor(((index % s.devices) / Math.max(1, s.devices)) * s.intervalMs);
}

/**
 * A device takes its first record this long after it starts connecting: it is logged in by then unless the target
 * is slow, so per-packet ACK latency (measured from the due time) shows a slow login instead of the generator's
 * own connect storm.
 */
export function firstRecordLeadMs(s: Pick<DeviceSettings, 'intervalMs'>): number {
  return Math.min(1000, s.intervalMs);
}

/**
 * The acquisition schedule: at each send tick the device takes recordsPerPacket records spread over the interval
 * while the ignition is on, one record per parkedInterval while it is off. Shared by the device and by WebSocket
 * clients that need to know how many records a device produces in a window.
 */
export class Schedule {
  nextTick: number;
  private lastTs = -Infinity;

  constructor(
    private readonly s: DeviceSettings,
    private readonly bus: BusDevice,
    index: number,
    startMs: number,
  ) {
    this.nextTick = connectAt(s, index, startMs) + firstRecordLeadMs(s);
  }

  /** Acquisition times of the next tick, and advances to the one after. */
  take(): number[] {
    const tick = this.nextTick;
    const ignition = stateAt(this.bus, tick).ignition;
    const out: number[] = [];
    if (ignition) {
      const n = this.s.recordsPerPacket;
      const step = this.s.intervalMs / n;
      for (let r = 0; r < n; r++) {
        const t = Math.floor(tick - (n - 1 - r) * step);
        if (t > this.lastTs) out.push(t);
      }
      this.nextTick = tick + this.s.intervalMs;
    } else {
      if (tick > this.lastTs) out.push(tick);
      this.nextTick = tick + this.s.parkedIntervalMs;
    }
    if (out.length > 0) this.lastTs = out[out.length - 1];
    return out;
  }
}

/** How many records device `index` acquires with timestamps in [from, to] (its schedule started at startMs). */
export function recordsBetween(s: DeviceSettings, index: number, startMs: number, from: number, to: number): number {
  const sched = new Schedule(s, busFor(s.seed, index, s.centre, s.route), index, startMs);
  let n = 0;
  while (sched.nextTick - s.intervalMs <= to) {
    for (const t of sched.take()) if (t >= from && t <= to) n++;
  }
  return n;
}

export class DeviceCore {
  readonly imei: string;
  readonly codec: Codec;
  private readonly bus: BusDevice;
  private readonly schedule: Schedule;
  private readonly vin: Uint8Array | undefined;
  /** unacknowledged records, oldest first */
  private readonly buffer: AvlRecord[] = [];
  private inFlight: { bytes: Uint8Array; start: number; count: number; dueAt: number; sent: boolean; timestamps: number[] } | undefined;
  private prevIgnition: boolean | undefined;
  private backoff: number;
  private readonly rng: Rng;
  private nextRandomDrop = Infinity;
  private stormDone = false;
  /** records lost because the flash buffer was full (oldest evicted) */
  lost = 0;
  /** when the device first connects (its step's start plus its place in the fleet's spread) */
  readonly connectAt: number;

  constructor(
    private readonly s: DeviceSettings,
    readonly index: number,
    /** when the test started (storm times are relative to it) */
    private readonly testStartMs: number,
    /** when this device's step starts */
    readonly startMs: number = testStartMs,
  ) {
    this.connectAt = connectAt(s, index, startMs);
    this.imei = imeiForIndex(s.seed, index);
    this.codec = codecOf(s, index);
    this.bus = busFor(s.seed, index, s.centre, s.route);
    this.schedule = new Schedule(s, this.bus, index, startMs);
    this.vin = this.codec === 0x8e ? vinFor(s.seed, index) : undefined;
    this.backoff = s.reconnectBaseMs;
    this.rng = new Rng(hash32(s.seed, index, 77));
    if (s.linkDrops) this.nextRandomDrop = startMs + this.rng.exponential(3_600_000 / s.linkDrops.perDeviceHour);
    if (s.storm && testStartMs + s.storm.atMs < startMs) this.stormDone = true;
  }

  get buffered(): number {
    return this.buffer.length;
  }

  get nextTickAt(): number {
    return this.schedule.nextTick;
  }

  /** Takes the records of every tick due by `now` (before the deadline) into the buffer, connected or not. */
  acquire(now: number, deadline: number): number {
    let added = 0;
    while (this.schedule.nextTick <= now && this.schedule.nextTick < deadline) {
      for (const t of this.schedule.take()) {
        const { record, state } = recordAt(this.bus, this.codec, t, this.prevIgnition, this.vin);
        this.prevIgnition = state.ignition;
        this.buffer.push(record);
        added++;
      }
    }
    if (this.buffer.length > this.s.bufferLimit && !this.inFlight) {
      const evict = this.buffer.length - this.s.bufferLimit;
      this.buffer.splice(0, evict);
      this.lost += evict;
    }
    return added;
  }

  /** The packet to send now: the in-flight one again, or a new one cut from the buffer; undefined when empty. */
  nextPacket(): Outgoing | undefined {
    if (this.inFlight) {
      const resend = this.inFlight.sent;
      this.inFlight.sent = true;
      return { bytes: this.inFlight.bytes, count: this.inFlight.count, resend, dueAt: this.inFlight.dueAt, timestamps: this.inFlight.timestamps };
    }
    const len = this.buffer.length;
    if (len === 0) return undefined;
    const newestFirst = this.s.replayOrder === 'newest-first';
    let size = AVL_PACKET_OVERHEAD;
    let count = 0;
    while (count < len && count < MAX_RECORDS_PER_PACKET) {
      const r = this.buffer[newestFirst ? len - 1 - count : count];
      const rs = avlRecordSize(this.codec, r);
      if (count > 0 && size + rs > this.s.maxFrameBytes) break;
      size += rs;
      count++;
    }
    const start = newestFirst ? len - count : 0;
    const records = this.buffer.slice(start, start + count);
    if (newestFirst) records.reverse();
    let dueAt = 0;
    const timestamps = records.map((r) => r.timestamp);
    for (const t of timestamps) if (t > dueAt) dueAt = t;
    const bytes = encodeAvlPacket(this.codec, records, { maxFrameBytes: Math.max(this.s.maxFrameBytes, size) });
    this.inFlight = { bytes, start, count, dueAt, sent: true, timestamps };
    return { bytes, count, resend: false, dueAt, timestamps };
  }

  /**
   * Record timestamps of a packet that was written but never ACKed (the run ended while it was in flight): the target
   * may or may not have stored them, so the verifier counts them neither as missing nor as extra.
   */
  sentUnacked(): number[] | undefined {
    return this.inFlight?.sent ? this.inFlight.timestamps : undefined;
  }

  /** The server acknowledged `n` records: true = the in-flight packet is done; false = mismatch, it will be resent. */
  ack(n: number): boolean {
    const f = this.inFlight;
    if (!f || n !== f.count) return false;
    this.buffer.splice(f.start, f.count);
    this.inFlight = undefined;
    return true;
  }

  /** Delay before the next reconnect: exponential backoff with up to 50 % jitter; the next one doubles. */
  nextBackoff(): number {
    const d = this.backoff + this.rng.next() * this.backoff * 0.5;
    this.backoff = Math.min(this.backoff * 2, this.s.reconnectMaxMs);
    return d;
  }

  resetBackoff(): void {
    this.backoff = this.s.reconnectBaseMs;
  }

  /** Start of the next scheduled link loss at or after `now` (Infinity when none). */
  nextOutageAt(): number {
    const storm = this.s.storm && !this.stormDone ? this.testStartMs + this.s.storm.atMs : Infinity;
    return Math.min(storm, this.nextRandomDrop);
  }

  /** The link loss in effect at `now`, if any (consumes it: the next one is scheduled after it ends). */
  outageAt(now: number): Outage | undefined {
    if (this.s.storm && !this.stormDone) {
      const from = this.testStartMs + this.s.storm.atMs;
      if (now >= from) {
        this.stormDone = true;
        const until = from + this.s.storm.offlineMs;
        if (now < until) return { from, until, kind: 'storm' };
      }
    }
    if (this.s.linkDrops && now >= this.nextRandomDrop) {
      const from = this.nextRandomDrop;
      const until = from + this.s.linkDrops.offlineMs;
      this.nextRandomDrop = until + this.rng.exponential(3_600_000 / this.s.linkDrops.perDeviceHour);
      if (now < until) return { from, until, kind: 'drop' };
    }
    return undefined;
  }
}
