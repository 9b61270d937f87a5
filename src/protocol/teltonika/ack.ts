import { TeltonikaError } from './errors.js';

/** TCP ACK for an AVL packet: records accepted as a 4-byte big-endian integer (devices resend on anything else). */
export function encodeAck(count: number): Uint8Array {
  if (!Number.isInteger(count) || count < 0 || count > 0xffffffff) {
    throw new TeltonikaError('BAD_VALUE', `ACK count must be an integer in [0, 2^32), got ${count}`);
  }
  return Uint8Array.of(count >>> 24, (count >>> 16) & 0xff, (count >>> 8) & 0xff, count & 0xff);
}

/** Exactly 4 bytes: a short or long reply is a protocol error the device treats as "nothing accepted". */
export function decodeAck(bytes: Uint8Array): number {
  if (bytes.length !== 4) throw new TeltonikaError('BAD_ACK', `ACK must be exactly 4 bytes, got ${bytes.length}`);
  return ((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0;
}
