// session.ts's DeviceIO on Node sockets, so the device logic runs in Node tests against real TCP servers.
import net from 'node:net';
import type { DeviceIO, Link, ReadResult } from '../../src/sim/session.js';

class NodeLink implements Link {
  private buf = Buffer.alloc(0);
  private waiter: (() => void) | undefined;
  private closed = false;
  failed = false;

  constructor(private readonly s: net.Socket) {
    s.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake();
    });
    s.on('error', () => (this.failed = true));
    s.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  write(bytes: Uint8Array): Promise<boolean> {
    return new Promise((resolve) => {
      if (this.closed) return resolve(false);
      this.s.write(bytes, (err) => resolve(!err));
    });
  }

  async read(n: number, timeoutMs: number): Promise<ReadResult> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.buf.length >= n) {
        const out = new Uint8Array(this.buf.subarray(0, n));
        this.buf = this.buf.subarray(n);
        return out;
      }
      if (this.closed) return 'closed';
      const left = deadline - Date.now();
      if (left <= 0) return 'timeout';
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
        setTimeout(() => this.wake(), left).unref();
      });
    }
  }

  close(): void {
    this.s.destroy();
  }
}

export function nodeIO(port: number): DeviceIO {
  return {
    now: () => Date.now(),
    sleep: (ms) => new Promise((r) => setTimeout(r, Math.max(0, ms))),
    connect: () =>
      new Promise((resolve) => {
        const s = net.connect({ host: '127.0.0.1', port });
        s.once('connect', () => resolve(new NodeLink(s)));
        s.once('error', () => resolve(undefined));
      }),
  };
}
