// The life of one simulated tracker over TCP, independent of the runtime: connect, log in with the IMEI, send packets
// stop-and-wait (one packet, wait for its 4-byte ACK), resend the same packet after an ACK timeout or a count
// mismatch (on a new connection, as Teltonika devices do), keep buffering while offline, reconnect with exponential
// backoff and jitter, send 0xFF keep-alives when idle, and go offline at scheduled link losses.
// Timing is open-model: records are acquired on the device's own schedule whatever the server does, and ACK latency
// counts from when a packet was due, so a slow server shows up as latency, not as fewer packets.
// The engine (src/engine/tcp-link.ts), the k6 bundle (scenarios/k6) and tests provide `DeviceIO`; no Node APIs here.
import { decodeAck, encodeLogin, KEEPALIVE, LOGIN_ACCEPT } from '../protocol/teltonika/index.js';
import type { DeviceCore } from './device.js';

export interface AckedPacket {
  count: number;
  dueAt: number;
  timestamps: number[];
  resend: boolean;
}

export type ReadResult = Uint8Array | 'timeout' | 'closed';

/** One TCP connection. */
export interface Link {
  /** false when the connection broke under the write */
  write(bytes: Uint8Array): Promise<boolean>;
  /** the next n bytes from the server, or why they did not come */
  read(n: number, timeoutMs: number): Promise<ReadResult>;
  close(): void;
  /** whether the connection ended with an error (reset) rather than a clean close */
  readonly failed: boolean;
}

export interface DeviceIO {
  connect(): Promise<Link | undefined>;
  now(): number;
  sleep(ms: number): Promise<void>;
}

/** Reasons for `error`: connect, login_timeout, login_rejected, ack_timeout, ack_mismatch, reset, closed. */
export interface DeviceEvents {
  error(reason: string): void;
  login(latencyMs: number, reconnect: boolean): void;
  connected(): void;
  disconnected(): void;
  packet(count: number, resend: boolean): void;
  /**
   * The packet was ACKed with the right count at `ackAt`. Per-packet latency is ackAt − pkt.dueAt (open model:
   * from when the packet was due, across reconnects, so an outage shows as latency); per-record latency is
   * ackAt − each of pkt.timestamps.
   */
  acked(pkt: AckedPacket, ackAt: number): void;
  /** a packet sent on its tick: how late the send was against the schedule (generator health) */
  sendLag(ms: number): void;
  keepAlive(): void;
  outage(kind: 'drop' | 'storm'): void;
  /**
   * The device is whole again after a failure it detected (link reset or closed, connect/login failure, ACK timeout or
   * mismatch): logged in again and its backlog ACKed (buffer empty). `ms` counts from the first failure — for a
   * timeout, from the write whose reply never came. Scripted outages (storm, linkDrops) are not failures.
   */
  recovered?(ms: number): void;
  /** the device ended the run still not recovered from a failure */
  unrecovered?(): void;
}

export interface SessionTiming {
  /** no records are acquired from here on */
  deadline: number;
  /** devices stop delivering their backlog here */
  drainUntil: number;
  ackTimeoutMs: number;
  keepAliveMs: number;
}

type SessionEnd = 'done' | 'outage' | 'failed';

/** When the device's current disruption began (undefined while it is healthy). */
interface Disruption {
  since: number | undefined;
}

const KEEPALIVE_BYTES = new Uint8Array([KEEPALIVE]);

/** Runs one device until the deadline (and its backlog is delivered or drainUntil passes). Returns records left unsent. */
export async function runDevice(core: DeviceCore, io: DeviceIO, ev: DeviceEvents, t: SessionTiming): Promise<number> {
  let sessions = 0;
  const disruption: Disruption = { since: undefined };
  // a device whose place in the connect spread lies past the deadline takes no record: it never connects, and the
  // run does not wait for it
  if (core.connectAt >= t.deadline) return 0;
  // a device waits for its place in the fleet's connect spread (and for its step, if that starts later)
  if (core.connectAt > io.now()) await io.sleep(core.connectAt - io.now());
  for (;;) {
    const now = io.now();
    core.acquire(now, t.deadline);
    if (now >= t.drainUntil || (now >= t.deadline && core.buffered === 0)) break;
    const outage = core.outageAt(now);
    if (outage) {
      ev.outage(outage.kind);
      await io.sleep(Math.min(outage.until, t.drainUntil) - now);
      continue;
    }
    const end = await session(core, io, ev, t, sessions > 0, disruption);
    sessions++;
    if (end === 'done') break;
    if (end === 'outage') continue;
    const left = t.drainUntil - io.now();
    if (left <= 0) break;
    await io.sleep(Math.min(core.nextBackoff(), left));
  }
  core.acquire(t.deadline, t.deadline);
  if (disruption.since !== undefined) ev.unrecovered?.();
  return core.buffered;
}

async function session(core: DeviceCore, io: DeviceIO, ev: DeviceEvents, t: SessionTiming, reconnect: boolean, d: Disruption): Promise<SessionEnd> {
  const fail = (reason: string, at = io.now()): SessionEnd => {
    ev.error(reason);
    if (d.since === undefined) d.since = at;
    return 'failed';
  };
  const link = await io.connect();
  if (!link) return fail('connect');
  ev.connected();
  const broken = (): SessionEnd => fail(link.failed ? 'reset' : 'closed');
  try {
    const loginAt = io.now();
    if (!(await link.write(encodeLogin(core.imei)))) return broken();
    const reply = await link.read(1, t.ackTimeoutMs);
    if (reply === 'timeout') return fail('login_timeout', loginAt);
    if (reply === 'closed') return broken();
    if (reply[0] !== LOGIN_ACCEPT) return fail('login_rejected');
    const readyAt = io.now();
    ev.login(readyAt - loginAt, reconnect);
    core.resetBackoff();
    let lastWrite = readyAt;
    let waitedForTick = false;
    for (;;) {
      const now = io.now();
      core.acquire(now, t.deadline);
      if (now >= core.nextOutageAt()) return 'outage';
      if (now >= t.drainUntil) return 'done';
      const pkt = core.nextPacket();
      if (!pkt) {
        // backlog delivered: recovered from the failure, if there was one
        if (d.since !== undefined) {
          ev.recovered?.(now - d.since);
          d.since = undefined;
        }
        if (now >= t.deadline) return 'done';
        const tick = core.nextTickAt;
        const keepAliveAt = t.keepAliveMs > 0 ? lastWrite + t.keepAliveMs : Infinity;
        const wake = Math.min(tick, t.deadline, keepAliveAt, core.nextOutageAt());
        await io.sleep(wake - now);
        waitedForTick = wake === tick;
        if (wake === keepAliveAt && wake < tick && io.now() >= keepAliveAt) {
          if (!(await link.write(KEEPALIVE_BYTES))) return broken();
          lastWrite = io.now();
          ev.keepAlive();
        }
        continue;
      }
      ev.packet(pkt.count, pkt.resend);
      const sentAt = io.now();
      if (waitedForTick && !pkt.resend) ev.sendLag(Math.max(0, sentAt - pkt.dueAt));
      waitedForTick = false;
      if (!(await link.write(pkt.bytes))) return broken();
      lastWrite = sentAt;
      const ack = await link.read(4, t.ackTimeoutMs);
      if (ack === 'timeout') return fail('ack_timeout', sentAt);
      if (ack === 'closed') return broken();
      if (!core.ack(decodeAck(ack))) return fail('ack_mismatch');
      ev.acked(pkt, io.now());
    }
  } finally {
    link.close();
    ev.disconnected();
  }
}
