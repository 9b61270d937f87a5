// Well-behaved devices and hostile clients for the hardening tests: raw sockets on loopback only, every
// loop bounded in count and time.
import { connect, type Socket } from 'node:net';
import { encodeLogin } from '../../src/protocol/teltonika/index.js';
import { nextImei, packet, records } from '../platform/helpers.js';

/** A small deterministic PRNG (mulberry32), so that a failing fuzz run can be replayed from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface ConnectOptions {
  port: number;
  /** source address (127.0.0.2 etc. are loopback on Linux) */
  localAddress?: string;
  timeoutMs?: number;
}

/** Connects, or rejects when the connection fails or times out; always loopback. */
export function openSocket(o: ConnectOptions): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port: o.port, localAddress: o.localAddress, noDelay: true });
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error('connect timeout'));
    }, o.timeoutMs ?? 3000);
    s.once('connect', () => {
      clearTimeout(t);
      resolve(s);
    });
    s.once('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
}

/** Reads exact byte counts from a socket with a deadline. */
class Reader {
  private buf = Buffer.alloc(0);
  private wake: (() => void) | undefined;
  closed = false;
  constructor(socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
    socket.on('error', () => {});
  }
  async read(n: number, timeoutMs: number): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (this.buf.length < n) {
      if (this.closed) throw new Error(`closed by the server with ${this.buf.length}/${n} bytes`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no answer within ${timeoutMs} ms`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.wake = () => {
          clearTimeout(t);
          r();
        };
      });
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }
}

export interface GoodFleetResult {
  imeis: string[];
  recordsSent: Map<string, number>;
  packetsAcked: number;
  failures: string[];
  ackMs: number[];
}

/**
 * `n` devices that log in and send a packet of `recordsPerPacket` records every `intervalMs` until
 * `untilMs` (epoch ms), each waiting for its ACK (wrong count, no ACK in time or a closed connection is a
 * failure). Timestamps are unique per device, so the database must hold exactly what was sent.
 */
export async function runGoodFleet(
  o: ConnectOptions & { n: number; intervalMs: number; untilMs: number; recordsPerPacket?: number; ackTimeoutMs?: number; maxPackets?: number },
): Promise<GoodFleetResult> {
  const res: GoodFleetResult = { imeis: [], recordsSent: new Map(), packetsAcked: 0, failures: [], ackMs: [] };
  const per = o.recordsPerPacket ?? 2;
  const base = Date.now() - 3_600_000;
  await Promise.all(
    Array.from({ length: o.n }, async () => {
      const imei = nextImei();
      res.imeis.push(imei);
      res.recordsSent.set(imei, 0);
      let socket: Socket | undefined;
      try {
        socket = await openSocket(o);
        const reader = new Reader(socket);
        socket.write(encodeLogin(imei));
        const reply = (await reader.read(1, o.ackTimeoutMs ?? 3000))[0];
        if (reply !== 1) throw new Error(`login answered ${reply}`);
        let seq = 0;
        // at least one packet per device, then until the time is up (bounded in count too)
        while ((seq === 0 || Date.now() < o.untilMs) && seq < (o.maxPackets ?? 10_000)) {
          const ts = Array.from({ length: per }, (_, k) => base + (seq * per + k) * 1000);
          seq++;
          const t0 = performance.now();
          socket.write(packet(records(ts)));
          res.recordsSent.set(imei, (res.recordsSent.get(imei) ?? 0) + per);
          const ack = (await reader.read(4, o.ackTimeoutMs ?? 3000)).readUInt32BE(0);
          res.ackMs.push(performance.now() - t0);
          if (ack !== per) throw new Error(`ACK ${ack}, expected ${per}`);
          res.packetsAcked++;
          await new Promise((r) => setTimeout(r, o.intervalMs));
        }
      } catch (e) {
        res.failures.push(`${imei}: ${e instanceof Error ? e.message : String(e)}`);
      } finally {
        socket?.destroy();
      }
    }),
  );
  return res;
}

export const percentile = (xs: number[], p: number): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
