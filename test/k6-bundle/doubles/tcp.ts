// TEST DOUBLE of k6/x/tcp (grafana/xk6-tcp v0.3.1 JavaScript API) over node:net, for running the bundle's device
// loop in Node. It keeps the behaviours of the real extension that the script must cope with:
// - connect()/write() return Promises; `connect` fires before connect() resolves; a failed connect emits `error`,
//   rejects and leaves the socket to be destroyed;
// - `data` hands over a view of ONE reused 4096-byte buffer, at most 4096 bytes per event, overwritten right after
//   the listener returns (xk6-tcp returns its pooled buffer then): a script that keeps the view reads garbage;
// - write() takes a string or an ArrayBuffer only (the documented types) and rejects when the socket is not open;
// - a read error (peer reset) emits `error` then `close`; one listener per event; an open socket is tracked until
//   destroy(), since in k6 it would keep the VU's iteration alive.
import net from 'node:net';
import { k6Double } from './state.js';

type SocketState = 'opening' | 'open' | 'destroyed' | 'disconnected';
type Listener = (arg?: unknown) => void;
const READ_CHUNK = 4096;

export class Socket {
  ready_state: SocketState = 'disconnected';
  bytes_written = 0;
  bytes_read = 0;
  private conn: net.Socket | undefined;
  private readonly listeners = new Map<string, Listener>();
  private readonly pool = new Uint8Array(READ_CHUNK);
  private closeFired = false;

  constructor(readonly options: { tags?: Record<string, string> } = {}) {
    k6Double.socketsCreated++;
    k6Double.openSockets.add(this);
  }

  get connected(): boolean {
    return this.ready_state === 'open';
  }

  on(event: string, listener: Listener): void {
    this.listeners.set(event, listener);
  }

  setTimeout(): this {
    return this;
  }

  private fire(event: string, arg?: unknown): void {
    this.listeners.get(event)?.(arg);
  }

  private fireClose(): void {
    if (this.closeFired) return;
    this.closeFired = true;
    this.fire('close');
  }

  connect(a: number | string | { port: number | string; host?: string }, host?: string): Promise<void> {
    const opts = typeof a === 'object' ? a : { port: a, host };
    if (this.ready_state !== 'disconnected') return Promise.reject(new Error(`connect: socket is ${this.ready_state}`));
    this.ready_state = 'opening';
    return new Promise<void>((resolve, reject) => {
      const conn = net.connect({ host: opts.host ?? 'localhost', port: Number(opts.port) });
      this.conn = conn;
      conn.once('connect', () => {
        if (this.ready_state !== 'opening') return;
        this.ready_state = 'open';
        this.fire('connect');
        resolve();
      });
      conn.on('data', (chunk: Buffer) => this.deliver(chunk));
      conn.on('error', (err) => {
        if (this.ready_state === 'opening') {
          this.ready_state = 'disconnected';
          this.fire('error', err);
          reject(err);
          return;
        }
        this.fire('error', err);
      });
      conn.on('close', () => {
        if (this.ready_state === 'open') this.ready_state = 'destroyed';
        if (this.ready_state === 'destroyed') this.fireClose();
      });
    });
  }

  private deliver(chunk: Buffer): void {
    for (let off = 0; off < chunk.length; off += READ_CHUNK) {
      const n = Math.min(READ_CHUNK, chunk.length - off);
      this.pool.set(chunk.subarray(off, off + n));
      this.bytes_read += n;
      this.fire('data', this.pool.subarray(0, n));
      this.pool.fill(0xee); // the pooled buffer goes back and is reused
    }
  }

  write(data: unknown): Promise<void> {
    const kind = typeof data === 'string' ? 'string' : data instanceof ArrayBuffer ? 'arraybuffer' : Object.prototype.toString.call(data);
    k6Double.writeKinds.set(kind, (k6Double.writeKinds.get(kind) ?? 0) + 1);
    if (kind !== 'string' && kind !== 'arraybuffer') return Promise.reject(new Error(`write: xk6-tcp v0.3.1 documents string | ArrayBuffer, got ${kind}`));
    const conn = this.conn;
    if (!conn || this.ready_state !== 'open') return Promise.reject(new Error(`write: socket is ${this.ready_state}`));
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data as ArrayBuffer);
    return new Promise<void>((resolve, reject) => {
      conn.write(bytes, (err) => {
        if (err) return reject(err);
        this.bytes_written += bytes.length;
        resolve();
      });
    });
  }

  destroy(): void {
    k6Double.openSockets.delete(this);
    if (this.ready_state === 'destroyed' && this.closeFired) return;
    const had = this.conn !== undefined;
    this.ready_state = 'destroyed';
    this.conn?.destroy();
    if (had) queueMicrotask(() => this.fireClose());
  }
}

export default { Socket };
