// Device TCP server: one state machine per connection (login -> data), framing and decoding by the protocol
// library, records handed to the batch writer, and each packet's ACK written only after its records commit,
// in the order the packets arrived. Malformed input closes that connection only.
// Back-pressure is per connection first: a device waits for each ACK, so a connection with
// maxUnackedPerConnection packets in flight stops being read (its further frames wait in a backlog of at most one
// read chunk) until ACKs catch up; one device sending back to back cannot fill the shared write queue. Only when
// the queue is full anyway are all logged-in sockets paused; sockets still logging in keep being read so that
// new devices get their login answer.
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import {
  TeltonikaError,
  TeltonikaFramer,
  decodeAvlPacket,
  encodeAck,
  encodeLoginReply,
  type AvlRecord,
  type Frame,
} from '../protocol/teltonika/index.js';
import { MAX_TIMESTAMP_MS, MIN_TIMESTAMP_MS, timestampPlausibility, type BatchWriter, type CommitResult, type WriterRecord } from './batch-writer.js';
import type { Faults } from './faults.js';
import type { Metrics } from './metrics.js';

export interface TcpIngestOptions {
  host: string;
  port: number;
  maxConnections: number;
  maxConnectionsPerIp: number;
  loginTimeoutMs: number;
  idleTimeoutMs: number;
  maxFrameBytes: number;
  allowImeis?: ReadonlySet<string>;
  /** Packets in flight (received, ACK not yet written) on one connection before its socket is paused. */
  maxUnackedPerConnection: number;
  /** Device connections allowed by the descriptor reserve (open-file limit - fdReserve); refusals count as fd_reserve. */
  fdCap?: number;
  maxFutureSkewMs: number;
}

interface PendingAck {
  count: number;
  receivedAt: number; // performance.now()
  status: 'pending' | 'ok' | 'failed';
}

/** IO elements as a JSON object keyed by IO id (8-byte values as numbers when exact, else strings; variable ones as hex). */
export function ioToJson(io: AvlRecord['io']): string | null {
  if (io.length === 0) return null;
  const o: Record<string, number | string> = {};
  for (const e of io) {
    if (e.width === 'x') o[e.id] = Buffer.from(e.value).toString('hex');
    else if (e.width === 8) o[e.id] = e.value <= BigInt(Number.MAX_SAFE_INTEGER) && e.value >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(e.value) : e.value.toString();
    else o[e.id] = e.value;
  }
  return JSON.stringify(o);
}

/** A decoded AVL record as the writer stores it (JSON bodies of the HTTP API go through http-v1's bodyToWriterRecord). */
export function avlToWriterRecord(r: AvlRecord): WriterRecord {
  return {
    timestamp: r.timestamp,
    latitude: r.latitude,
    longitude: r.longitude,
    altitude: r.altitude,
    speed: r.speed,
    heading: r.angle,
    satellites: r.satellites,
    priority: r.priority,
    eventId: r.eventId,
    io: ioToJson(r.io),
  };
}

class Connection {
  state: 'login' | 'data' | 'closed' = 'login';
  imei = '';
  readonly framer: TeltonikaFramer;
  readonly acks: PendingAck[] = [];
  /** Frames read but not yet handled because too many packets wait for their ACK (at most one read chunk). */
  private backlog: Array<{ f: Frame; receivedAt: number; wall: number }> = [];

  constructor(
    readonly socket: Socket,
    readonly ip: string,
    readonly ingest: TcpIngest,
  ) {
    this.framer = new TeltonikaFramer({ maxFrameBytes: ingest.opts.maxFrameBytes });
  }

  onData(chunk: Buffer): void {
    if (this.state === 'closed') return;
    const receivedAt = performance.now();
    const wall = Date.now();
    let frames: Frame[];
    try {
      frames = this.framer.push(chunk);
    } catch (err) {
      this.reject(err);
      return;
    }
    for (const f of frames) this.backlog.push({ f, receivedAt, wall });
    this.pump();
  }

  /** True while this connection has as many packets in flight as it may. */
  get blocked(): boolean {
    return this.acks.length >= this.ingest.opts.maxUnackedPerConnection;
  }

  /** Handles backlogged frames while the in-flight cap allows, then lets the ingest decide whether to read on. */
  private pump(): void {
    while (this.backlog.length > 0 && this.state !== 'closed') {
      const next = this.backlog[0];
      if (next.f.type === 'avl' && this.blocked) break;
      this.backlog.shift();
      try {
        this.onFrame(next.f, next.receivedAt, next.wall);
      } catch (err) {
        this.reject(err);
        return;
      }
    }
    if (this.state !== 'closed') this.ingest.updateFlow(this);
  }

  /** Whether more input is waiting than the in-flight cap lets through. */
  get backlogged(): boolean {
    return this.backlog.length > 0 || this.blocked;
  }

  private onFrame(f: Frame, receivedAt: number, wall: number): void {
    const { ingest } = this;
    switch (f.type) {
      case 'keepalive':
        return;
      case 'login': {
        if (this.state !== 'login') return this.rejectReason('login_after_login', 'second login frame on one connection');
        const allow = ingest.opts.allowImeis;
        if (allow && !allow.has(f.imei)) {
          ingest.metrics.tcpLogins.inc({ result: 'rejected' });
          ingest.log.info({ imei: f.imei, ip: this.ip }, 'login rejected: IMEI not in the allow-list');
          this.state = 'closed';
          this.socket.end(encodeLoginReply(false));
          return;
        }
        this.imei = f.imei;
        this.state = 'data';
        this.socket.setTimeout(ingest.opts.idleTimeoutMs);
        ingest.metrics.tcpLogins.inc({ result: 'accepted' });
        this.socket.write(encodeLoginReply(true));
        return;
      }
      case 'avl': {
        if (this.state !== 'data') return this.rejectReason('avl_before_login', 'AVL packet before login');
        const packet = decodeAvlPacket(f.bytes, { maxFrameBytes: ingest.opts.maxFrameBytes });
        const records: WriterRecord[] = new Array(packet.records.length);
        for (let i = 0; i < packet.records.length; i++) {
          const r = packet.records[i];
          if (!(r.timestamp >= MIN_TIMESTAMP_MS && r.timestamp <= MAX_TIMESTAMP_MS)) {
            return this.rejectReason('bad_timestamp', `record timestamp ${r.timestamp} out of range`);
          }
          // Outside the plausibility window (no GPS fix, broken clock): stored and ACKed, since a device that gets
          // no ACK resends the same packet forever, but counted and kept out of "latest" and the lag histogram.
          const plausible = timestampPlausibility(r.timestamp, wall, ingest.opts.maxFutureSkewMs);
          if (plausible !== 'ok') ingest.metrics.recordsImplausibleTime.inc({ reason: plausible, path: 'tcp' });
          records[i] = avlToWriterRecord(r);
        }
        ingest.metrics.recordsReceived.inc(records.length);
        const ack: PendingAck = { count: records.length, receivedAt, status: 'pending' };
        this.acks.push(ack);
        ingest.writer.submit({ imei: this.imei, records, receivedAt: wall, done: (r) => this.settle(ack, r) });
        return;
      }
    }
  }

  private settle(ack: PendingAck, r: CommitResult): void {
    ack.status = r.ok ? 'ok' : 'failed';
    while (this.acks.length > 0 && this.acks[0].status !== 'pending') {
      const head = this.acks.shift() as PendingAck;
      if (this.state === 'closed' || this.socket.destroyed) continue;
      if (head.status === 'failed') {
        // Not stored: no ACK, close so the device resends on a new connection.
        this.ingest.metrics.tcpConnectionsRejected.inc({ reason: 'not_stored' });
        this.close();
        continue;
      }
      this.socket.write(encodeAck(head.count));
      this.ingest.metrics.tcpAckDuration.observe((performance.now() - head.receivedAt) / 1000);
    }
    if (this.state !== 'closed') this.pump();
    if (this.acks.length === 0) this.ingest.onAcksFlushed(this);
  }

  private reject(err: unknown): void {
    if (err instanceof TeltonikaError) this.rejectReason(err.code.toLowerCase(), err.message);
    else {
      this.ingest.log.error({ err, ip: this.ip, imei: this.imei || undefined }, 'internal error while handling a device frame');
      this.rejectReason('internal', err instanceof Error ? err.message : String(err));
    }
  }

  rejectReason(reason: string, message: string): void {
    this.ingest.metrics.tcpFramesRejected.inc({ reason });
    this.ingest.log.warn({ reason, message, ip: this.ip, imei: this.imei || undefined }, 'frame rejected; closing the connection');
    this.close();
  }

  close(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.socket.destroy();
  }
}

export class TcpIngest {
  private readonly server: Server;
  private readonly conns = new Set<Connection>();
  private readonly perIp = new Map<string, number>();
  private pausedForPressure = false;
  private shuttingDown = false;
  private resetTimer: NodeJS.Timeout | undefined;
  private resetBudget = 0;
  private flushWaiters = new Set<() => void>();
  /** drop-device-links fault: new connections are closed at once until this time (ms since epoch) */
  private refuseUntil = 0;

  constructor(
    readonly opts: TcpIngestOptions,
    readonly writer: BatchWriter,
    readonly metrics: Metrics,
    readonly faults: Faults,
    readonly log: Logger,
  ) {
    this.server = createServer({ noDelay: true }, (s) => this.onConnection(s));
    this.server.on('error', (err) => log.error({ err }, 'TCP server error'));
    writer.onPressure((full) => {
      this.pausedForPressure = full;
      metrics.tcpPaused.set(full ? 1 : 0);
      if (full) log.warn({ pending: writer.pending }, 'write queue full: pausing device sockets');
      else log.info({ pending: writer.pending }, 'write queue drained: resuming device sockets');
      this.applyFlow();
    });
    faults.onChange((f) => this.setResetRate(f.tcpResetPerSec));
    this.setResetRate(faults.current.tcpResetPerSec);
  }

  get connections(): number {
    return this.conns.size;
  }

  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port, this.opts.host, () => {
        this.server.off('error', reject);
        const a = this.server.address();
        resolve(typeof a === 'object' && a ? a.port : this.opts.port);
      });
    });
  }

  private onConnection(socket: Socket): void {
    const ip = socket.remoteAddress ?? 'unknown';
    if (this.shuttingDown) {
      socket.destroy();
      return;
    }
    if (Date.now() < this.refuseUntil) {
      this.metrics.tcpConnectionsRejected.inc({ reason: 'fault_link_drop' });
      socket.resetAndDestroy();
      return;
    }
    if (this.conns.size >= this.opts.maxConnections) return this.refuse(socket, 'max_connections');
    if (this.opts.fdCap !== undefined && this.conns.size >= this.opts.fdCap) return this.refuse(socket, 'fd_reserve');
    const n = this.perIp.get(ip) ?? 0;
    if (n >= this.opts.maxConnectionsPerIp) return this.refuse(socket, 'per_ip_limit');
    this.perIp.set(ip, n + 1);
    const conn = new Connection(socket, ip, this);
    this.conns.add(conn);
    this.metrics.tcpConnectionsActive.inc();
    this.metrics.tcpConnectionsTotal.inc();
    // The login deadline is absolute: an inactivity timer would let a slow-loris client that trickles one
    // byte at a time hold the connection (and its per-IP slot) forever without ever logging in.
    const loginDeadline = setTimeout(() => {
      if (conn.state !== 'login') return;
      this.metrics.tcpConnectionsRejected.inc({ reason: 'login_timeout' });
      conn.close();
    }, this.opts.loginTimeoutMs);
    loginDeadline.unref();
    socket.on('data', (c: Buffer) => conn.onData(c));
    socket.on('timeout', () => {
      this.metrics.tcpConnectionsRejected.inc({ reason: 'idle_timeout' });
      conn.close();
    });
    socket.on('error', (err) => this.log.debug({ err: err.message, ip }, 'device socket error'));
    socket.on('close', () => {
      clearTimeout(loginDeadline);
      conn.state = 'closed';
      this.conns.delete(conn);
      const left = (this.perIp.get(ip) ?? 1) - 1;
      if (left <= 0) this.perIp.delete(ip);
      else this.perIp.set(ip, left);
      this.metrics.tcpConnectionsActive.dec();
      this.onAcksFlushed(conn);
    });
    if (this.shuttingDown) socket.pause();
  }

  private refuse(socket: Socket, reason: string): void {
    this.metrics.tcpConnectionsRejected.inc({ reason });
    this.log.warn({ reason, ip: socket.remoteAddress }, 'connection refused');
    socket.destroy();
  }

  private applyFlow(): void {
    for (const c of this.conns) this.updateFlow(c);
  }

  /**
   * @internal Reads from a socket unless: shutting down; it has too many packets in flight (only this device is
   * slowed); or the shared queue is full and the device is logged in (a login costs the queue nothing, so new
   * devices are still answered).
   */
  updateFlow(c: Connection): void {
    if (c.state === 'closed' || c.socket.destroyed) return;
    const own = c.backlogged;
    const pause = this.shuttingDown || own || (this.pausedForPressure && c.state === 'data');
    if (pause && !c.socket.isPaused()) {
      if (own) this.metrics.tcpBackpressure.inc();
      c.socket.pause();
    } else if (!pause && c.socket.isPaused()) c.socket.resume();
  }

  private setResetRate(perSec: number): void {
    clearInterval(this.resetTimer);
    this.resetTimer = undefined;
    this.resetBudget = 0;
    if (perSec <= 0) return;
    this.resetTimer = setInterval(() => {
      this.resetBudget += perSec / 10;
      const candidates = [...this.conns].filter((c) => c.state === 'data');
      while (this.resetBudget >= 1 && candidates.length > 0) {
        this.resetBudget -= 1;
        const i = Math.floor(Math.random() * candidates.length);
        const [victim] = candidates.splice(i, 1);
        this.metrics.tcpConnectionsRejected.inc({ reason: 'fault_reset' });
        victim.state = 'closed';
        victim.socket.resetAndDestroy();
      }
      if (candidates.length === 0) this.resetBudget = Math.min(this.resetBudget, 1);
    }, 100);
    this.resetTimer.unref();
  }

  /**
   * Fault: every device link drops at once (a cell outage), like a network failure, not a server close: each
   * socket is reset (RST) and, for `refuseMs`, new connections are reset too. Returns how many were dropped.
   */
  dropAllConnections(refuseMs = 0): number {
    this.refuseUntil = Date.now() + Math.max(0, refuseMs);
    let n = 0;
    for (const c of [...this.conns]) {
      if (c.state === 'closed' || c.socket.destroyed) continue;
      c.state = 'closed';
      c.socket.resetAndDestroy();
      n++;
    }
    this.metrics.tcpConnectionsRejected.inc({ reason: 'fault_link_drop' }, n);
    this.log.warn({ dropped: n, refuseMs }, 'FAULT: dropped every device link');
    return n;
  }

  /** @internal called by connections when their ACK queue becomes empty or they close. */
  onAcksFlushed(_c: Connection): void {
    if (this.flushWaiters.size === 0) return;
    if ([...this.conns].every((c) => c.acks.length === 0)) for (const w of this.flushWaiters) w();
  }

  /** Shutdown step 1: stop accepting connections and stop reading from open ones. */
  stopAccepting(): void {
    this.shuttingDown = true;
    this.server.close();
    this.applyFlow();
    clearInterval(this.resetTimer);
  }

  /**
   * Shutdown step 2 (after the writer drained): wait until every pending ACK is written, then end every
   * connection (FIN after the last ACK) and destroy what is still open at the deadline.
   */
  async closeConnections(deadline: number): Promise<void> {
    if ([...this.conns].some((c) => c.acks.length > 0)) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, Math.max(0, deadline - performance.now()));
        const self = this;
        function done() {
          clearTimeout(t);
          self.flushWaiters.delete(done);
          resolve();
        }
        this.flushWaiters.add(done);
      });
    }
    const closed = [...this.conns].map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.socket.destroyed) return resolve();
          c.socket.once('close', () => resolve());
          c.state = 'closed';
          c.socket.resume(); // read (and ignore) until the device's FIN so the socket can close fully
          c.socket.end();
        }),
    );
    const timer = new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, deadline - performance.now())).unref());
    await Promise.race([Promise.all(closed), timer]);
    for (const c of this.conns) c.socket.destroy();
  }
}
