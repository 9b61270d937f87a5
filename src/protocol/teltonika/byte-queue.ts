// Device side: the server answers 1 byte after login and 4 bytes per AVL packet, but TCP may deliver them split or
// merged, so replies are read from a queue by size rather than per 'data' event.

import { TeltonikaError } from './errors.js';

/** FIFO of bytes. Grows as needed; consumed bytes are reclaimed by compaction rather than reallocation. */
export class ByteQueue {
  private buf: Uint8Array;
  private head = 0;
  private tail = 0;

  constructor(initialCapacity = 64) {
    this.buf = new Uint8Array(Math.max(1, initialCapacity | 0));
  }

  get length(): number {
    return this.tail - this.head;
  }

  /**
   * Appends bytes. Accepts any array-like (k6's TCP 'data' event may hand over a plain array or array-like object)
   * and an ArrayBuffer; each element is truncated to a byte.
   */
  push(chunk: ArrayLike<number> | ArrayBuffer): void {
    const src: ArrayLike<number> = chunk instanceof ArrayBuffer ? new Uint8Array(chunk) : chunk;
    const n = src.length >>> 0;
    if (n === 0) return;
    this.reserve(n);
    if (src instanceof Uint8Array) {
      this.buf.set(src, this.tail);
    } else {
      for (let i = 0; i < n; i++) this.buf[this.tail + i] = src[i] & 0xff;
    }
    this.tail += n;
  }

  /** The next n bytes as a new array, or undefined (consuming nothing) while fewer than n are queued. */
  take(n: number): Uint8Array | undefined {
    if (!Number.isInteger(n) || n < 0) throw new TeltonikaError('BAD_VALUE', `ByteQueue.take needs a non-negative integer, got ${n}`);
    if (n > this.tail - this.head) return undefined;
    const out = this.buf.slice(this.head, this.head + n);
    this.head += n;
    if (this.head === this.tail) this.head = this.tail = 0;
    return out;
  }

  clear(): void {
    this.head = this.tail = 0;
  }

  private reserve(n: number): void {
    if (this.tail + n <= this.buf.length) return;
    const used = this.tail - this.head;
    if (used + n <= this.buf.length && this.head > 0) {
      this.buf.copyWithin(0, this.head, this.tail);
    } else {
      let cap = this.buf.length * 2;
      while (cap < used + n) cap *= 2;
      const next = new Uint8Array(cap);
      next.set(this.buf.subarray(this.head, this.tail), 0);
      this.buf = next;
    }
    this.head = 0;
    this.tail = used;
  }
}
