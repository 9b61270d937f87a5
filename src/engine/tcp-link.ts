// session.ts's DeviceIO over node:net: one TCP connection per device. Reads are byte-exact (an ACK is 4 bytes, a login
// reply 1) with a timeout; a reset is a failed link, a clean close a closed one. Connections may come from chosen
// loopback source addresses, so one machine can go past the ~28,000 ephemeral ports one source address has towards
// one target.
import net from 'node:net';
import type { Clock } from '../core/clock.js';
import type { DeviceIO, Link, ReadResult } from '../sim/session.js';

export interface TcpTarget {
  host: string;
  port: number;
  /** give up a connect after this long */
  connectTimeoutMs: number;
}

class TcpLink implements Link {
  private buf: Buffer | undefined;
  private waiter: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  failed = false;

  constructor(private readonly s: net.Socket) {
    s.on('data', (d: Buffer) => {
      this.buf = this.buf && this.buf.length > 0 ? Buffer.concat([this.buf, d]) : d;
      this.wake();
    });
    s.on('error', () => {
      this.failed = true;
    });
    s.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  private wake(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  write(bytes: Uint8Array): Promise<boolean> {
    if (this.closed || this.s.destroyed) return Promise.resolve(false);
    return new Promise((resolve) => {
      this.s.write(bytes, (err) => resolve(!err));
    });
  }

  async read(n: number, timeoutMs: number): Promise<ReadResult> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const b = this.buf;
      if (b && b.length >= n) {
        const out = new Uint8Array(b.subarray(0, n));
        this.buf = b.length === n ? undefined : b.subarray(n);
        return out;
      }
      if (this.closed) return 'closed';
      const left = deadline - Date.now();
      if (left <= 0) return 'timeout';
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.wake();
        }, left);
      });
    }
  }

  close(): void {
    this.s.destroy();
  }
}

/** Opens a TCP connection, resolving undefined on refusal, error or timeout. */
export function connectTcp(target: TcpTarget, localAddress?: string): Promise<Link | undefined> {
  return new Promise((resolve) => {
    const s = net.connect({ host: target.host, port: target.port, localAddress, noDelay: true });
    const timer = setTimeout(() => {
      s.destroy();
      resolve(undefined);
    }, target.connectTimeoutMs);
    s.once('connect', () => {
      clearTimeout(timer);
      s.removeAllListeners('error');
      resolve(new TcpLink(s));
    });
    s.once('error', () => {
      clearTimeout(timer);
      s.destroy();
      resolve(undefined);
    });
  });
}

/** A device's DeviceIO: the engine's clock and TCP connections from its source address. */
export function tcpDeviceIO(target: TcpTarget, clock: Clock, localAddress?: string): DeviceIO {
  return {
    now: () => clock.now(),
    sleep: (ms) => clock.sleep(ms),
    connect: () => connectTcp(target, localAddress),
  };
}
