// Server side: turns a device's TCP byte stream into frames. TCP may split or merge frames and a lone 0xFF keep-alive
// may come before anything, so frames are cut by their own length fields (Traccar's TeltonikaFrameDecoder), never by
// read() boundaries.

import { AVL_FRAME_OVERHEAD } from './avl-types.js';
import { copyBytes } from './bytes.js';
import { AVL_PACKET_OVERHEAD, resolveMaxFrameBytes, type AvlLimits } from './codec8.js';
import { TeltonikaError } from './errors.js';
import { decodeLogin, KEEPALIVE, MAX_LOGIN_DIGITS, MIN_LOGIN_DIGITS } from './login.js';

export type Frame = { type: 'login'; imei: string } | { type: 'avl'; bytes: Uint8Array } | { type: 'keepalive' };

// Enough bytes to know any frame's size: the AVL preamble + data field length (a login needs only 2).
const HEADER_BYTES = 8;

/**
 * Size of the frame starting at b[off], given `avail` bytes; 0 when more bytes are needed to tell. Throws as soon as
 * the bytes seen cannot start a valid frame, so garbage (a TLS ClientHello, a UDP datagram) is refused at its first
 * byte instead of being buffered.
 */
function frameSize(b: Uint8Array, off: number, avail: number, max: number): number {
  const b0 = b[off];
  if (b0 === KEEPALIVE) return 1;
  if (b0 !== 0) throw new TeltonikaError('BAD_PREAMBLE', `byte 0x${b0.toString(16).padStart(2, '0')} starts neither a login (00 0F), an AVL packet (00 00 00 00) nor a keep-alive (FF)`);
  if (avail < 2) return 0;
  const n = b[off + 1];
  if (n !== 0) {
    if (n < MIN_LOGIN_DIGITS || n > MAX_LOGIN_DIGITS) throw new TeltonikaError('BAD_LOGIN', `login length ${n} is not ${MIN_LOGIN_DIGITS}-${MAX_LOGIN_DIGITS}`);
    return n + 2;
  }
  for (let i = 2; i < 4 && i < avail; i++) {
    if (b[off + i] !== 0) throw new TeltonikaError('BAD_PREAMBLE', `AVL preamble byte ${i} is 0x${b[off + i].toString(16).padStart(2, '0')}, not 00`);
  }
  if (avail < HEADER_BYTES) return 0;
  const dataLen = ((b[off + 4] << 24) | (b[off + 5] << 16) | (b[off + 6] << 8) | b[off + 7]) >>> 0;
  const total = dataLen + AVL_FRAME_OVERHEAD;
  if (total < AVL_PACKET_OVERHEAD || total > max) {
    throw new TeltonikaError('LENGTH_OUT_OF_BOUNDS', `data field length ${dataLen} gives a ${total}-byte frame, allowed ${AVL_PACKET_OVERHEAD}-${max}`);
  }
  return total;
}

/**
 * Cuts frames out of one connection's byte stream. AVL frames are only delimited (CRC and content are
 * decodeAvlPacket's job); login frames are decoded because their IMEI is all there is to them. After a throw the
 * partial buffer is dropped: the connection should be closed, since the stream can no longer be re-synchronised.
 */
export class TeltonikaFramer {
  private readonly max: number;
  // Fixed-capacity pending buffer: only a partial frame (< max bytes) ever waits here.
  private readonly buf: Uint8Array;
  private len = 0;

  constructor(opts?: AvlLimits) {
    this.max = resolveMaxFrameBytes(opts?.maxFrameBytes);
    this.buf = new Uint8Array(this.max);
  }

  /** Bytes of an incomplete frame held back for the next push. */
  get buffered(): number {
    return this.len;
  }

  /** Frames completed by this chunk, in stream order. The returned bytes are copies, safe to keep. */
  push(chunk: Uint8Array): Frame[] {
    const out: Frame[] = [];
    try {
      const n = chunk.length;
      let pos = 0;
      // Finish a frame left over from the previous chunk, fetching only the bytes it still needs.
      while (this.len > 0) {
        const size = frameSize(this.buf, 0, this.len, this.max);
        const want = size === 0 ? HEADER_BYTES : size;
        if (this.len >= want) {
          this.emit(this.buf, 0, size, out);
          this.len = 0;
          break;
        }
        if (pos >= n) return out;
        const take = Math.min(want - this.len, n - pos);
        this.buf.set(chunk.subarray(pos, pos + take), this.len);
        this.len += take;
        pos += take;
      }
      // Then cut whole frames straight out of the chunk without copying through the buffer.
      while (pos < n) {
        const avail = n - pos;
        const size = frameSize(chunk, pos, avail, this.max);
        if (size === 0 || size > avail) {
          this.buf.set(chunk.subarray(pos), 0);
          this.len = avail;
          break;
        }
        this.emit(chunk, pos, size, out);
        pos += size;
      }
      return out;
    } catch (e) {
      this.len = 0;
      throw e;
    }
  }

  /** Drops any partial frame, e.g. when the connection is reused after an error. */
  reset(): void {
    this.len = 0;
  }

  private emit(src: Uint8Array, off: number, size: number, out: Frame[]): void {
    if (size === 1) out.push({ type: 'keepalive' });
    else if (src[off + 1] !== 0) out.push({ type: 'login', imei: decodeLogin(src.subarray(off, off + size)) });
    else out.push({ type: 'avl', bytes: copyBytes(src, off, off + size) });
  }
}
