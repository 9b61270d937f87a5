import { describe, expect, it } from 'vitest';
import { crc16Arc, decodeAvlPacket, encodeAvlPacket, TeltonikaError, type TeltonikaErrorCode } from '../../src/protocol/teltonika/index.js';
import { C12_GETINFO, hex, toHex, W1, W2, W3, W4, W5_CODEC16, W6_UDP8, W7_UDP8E, errorCode } from './vectors.js';

const zeroGps = { longitude: 0, latitude: 0, altitude: 0, angle: 0, satellites: 0, speed: 0 };

const codeOf = errorCode;

/** Apply a byte edit and, if asked, recompute the CRC so that the check under test is the one that fires. */
function edit(h: string, at: number, bytes: number[], fixCrc: boolean): Uint8Array {
  const b = hex(h);
  b.set(bytes, at);
  if (fixCrc) {
    const dv = new DataView(b.buffer);
    const end = b.length - 4;
    dv.setUint32(end, crc16Arc(b, 8, end));
  }
  return b;
}

describe('CRC-16/ARC', () => {
  it('matches the catalogue check value and the wiki packets', () => {
    expect(crc16Arc(Uint8Array.from('123456789', (c) => c.charCodeAt(0)))).toBe(0xbb3d);
    for (const [h, crc] of [[W1, 0xc7cf], [W2, 0xf22a], [W3, 0x252c], [W4, 0x2994], [W5_CODEC16, 0x5fb3]] as const) {
      const b = hex(h);
      expect(crc16Arc(b, 8, b.length - 4)).toBe(crc);
    }
    expect(crc16Arc(new Uint8Array(0))).toBe(0);
  });
});

describe('official examples (notes §5)', () => {
  it('W1: Codec 8, one record with every IO width', () => {
    expect(decodeAvlPacket(hex(W1))).toEqual({
      codec: 0x08,
      records: [
        {
          timestamp: 1560161086000, priority: 1, ...zeroGps, eventId: 1,
          io: [
            { id: 21, width: 1, value: 3 },
            { id: 1, width: 1, value: 1 },
            { id: 66, width: 2, value: 24079 },
            { id: 241, width: 4, value: 24602 },
            { id: 78, width: 8, value: 0n },
          ],
        },
      ],
    });
    expect(new Date(1560161086000).toISOString()).toBe('2019-06-10T10:04:46.000Z');
  });

  it('W2: Codec 8, empty 4- and 8-byte groups', () => {
    const p = decodeAvlPacket(hex(W2));
    expect(p.records).toEqual([
      { timestamp: 1560161136000, priority: 1, ...zeroGps, eventId: 1, io: [{ id: 21, width: 1, value: 3 }, { id: 1, width: 1, value: 1 }, { id: 66, width: 2, value: 24080 }] },
    ]);
  });

  it('W3: Codec 8, two records', () => {
    const p = decodeAvlPacket(hex(W3));
    expect(p.records).toEqual([
      { timestamp: 1560160861000, priority: 1, ...zeroGps, eventId: 1, io: [{ id: 1, width: 1, value: 0 }] },
      { timestamp: 1560160879000, priority: 1, ...zeroGps, eventId: 1, io: [{ id: 1, width: 1, value: 1 }] },
    ]);
  });

  it('W4: Codec 8 Extended', () => {
    expect(decodeAvlPacket(hex(W4))).toEqual({
      codec: 0x8e,
      records: [
        {
          timestamp: 1560166592000, priority: 1, ...zeroGps, eventId: 1,
          io: [
            { id: 1, width: 1, value: 1 },
            { id: 17, width: 2, value: 29 },
            { id: 16, width: 4, value: 22949000 },
            { id: 11, width: 8, value: 893700218n },
            { id: 14, width: 8, value: 500686954n },
          ],
        },
      ],
    });
  });

  it('our encoder reproduces every wiki packet byte for byte', () => {
    for (const h of [W1, W2, W3, W4]) {
      const p = decodeAvlPacket(hex(h));
      expect(toHex(encodeAvlPacket(p.codec, p.records))).toBe(h.toUpperCase());
    }
  });

  it('accepts a frame that is a view into a larger buffer', () => {
    const b = hex('FFFF' + W1 + 'FF');
    expect(decodeAvlPacket(b.subarray(2, b.length - 1)).records[0].timestamp).toBe(1560161086000);
  });
});

describe('malformed examples are rejected with the right code', () => {
  it('CSharp-Codec8 negative variants of W4', () => {
    expect(codeOf(() => decodeAvlPacket(edit(W4, 7, [0x4b], false)))).toBe('TRUNCATED'); // length one too big
    expect(codeOf(() => decodeAvlPacket(edit(W4, 7, [0x49], false)))).toBe('TRAILING_BYTES'); // length one too small
    expect(codeOf(() => decodeAvlPacket(edit(W4, 8, [0x8f], false)))).toBe('CRC_MISMATCH');
    expect(codeOf(() => decodeAvlPacket(edit(W4, 8, [0x8f], true)))).toBe('UNKNOWN_CODEC');
    expect(codeOf(() => decodeAvlPacket(edit(W4, 18, [0x03], true)))).toBe('BAD_VALUE'); // priority 3
    expect(codeOf(() => decodeAvlPacket(edit(W4, 81, [0x02], false)))).toBe('CRC_MISMATCH');
    expect(codeOf(() => decodeAvlPacket(edit(W4, 81, [0x02], true)))).toBe('COUNT_MISMATCH'); // N2 = 2
    expect(codeOf(() => decodeAvlPacket(edit(W4, 9, [0x02], true)))).toBe('COUNT_MISMATCH'); // N1 = 2
    expect(codeOf(() => decodeAvlPacket(edit(W4, 85, [0x95], false)))).toBe('CRC_MISMATCH'); // CRC 2995
    expect(codeOf(() => decodeAvlPacket(edit(W4, 82, [0x01], false)))).toBe('CRC_MISMATCH'); // non-zero CRC high half
  });

  it('structure errors behind a valid CRC', () => {
    // N8 count 0: records end 9 bytes before N2
    expect(codeOf(() => decodeAvlPacket(edit(W1, 51, [0x00], true)))).toBe('TRAILING_BYTES');
    // N8 count 2 where one element fits: the record runs into N2
    expect(codeOf(() => decodeAvlPacket(edit(W1, 51, [0x02], true)))).toBe('TRUNCATED');
    // N1 count 3: the group swallows the N2 count and the next "count" (0x5E) overruns
    expect(codeOf(() => decodeAvlPacket(edit(W1, 36, [0x03], true)))).toBe('TRUNCATED');
    // N1 = N2 = 0 with a matching CRC
    const zero = hex(W1);
    zero[9] = 0;
    zero[zero.length - 5] = 0;
    new DataView(zero.buffer).setUint32(zero.length - 4, crc16Arc(zero, 8, zero.length - 4));
    expect(codeOf(() => decodeAvlPacket(zero))).toBe('COUNT_MISMATCH');
    // timestamp beyond the Date range (2^53 ms)
    expect(codeOf(() => decodeAvlPacket(edit(W1, 10, [0x00, 0x20], true)))).toBe('BAD_VALUE');
  });

  it('preamble, length and size limits', () => {
    expect(codeOf(() => decodeAvlPacket(hex('01' + W1.slice(2))))).toBe('BAD_PREAMBLE');
    expect(codeOf(() => decodeAvlPacket(hex(W6_UDP8)))).toBe('BAD_PREAMBLE');
    expect(codeOf(() => decodeAvlPacket(hex(W7_UDP8E)))).toBe('BAD_PREAMBLE');
    expect(codeOf(() => decodeAvlPacket(hex('160301')))).toBe('BAD_PREAMBLE'); // TLS ClientHello
    expect(codeOf(() => decodeAvlPacket(hex('000000')))).toBe('TRUNCATED');
    expect(codeOf(() => decodeAvlPacket(hex(W1).subarray(0, 30)))).toBe('TRUNCATED');
    expect(codeOf(() => decodeAvlPacket(hex(W1 + '00')))).toBe('TRAILING_BYTES');
    expect(codeOf(() => decodeAvlPacket(hex('00000000000004F5')))).toBe('LENGTH_OUT_OF_BOUNDS'); // 1269 + 12 > 1280
    expect(codeOf(() => decodeAvlPacket(hex('00000000FFFFFFFF')))).toBe('LENGTH_OUT_OF_BOUNDS');
    expect(codeOf(() => decodeAvlPacket(hex('0000000000000002080108')))).toBe('LENGTH_OUT_OF_BOUNDS');
    expect(codeOf(() => decodeAvlPacket(hex(W1), { maxFrameBytes: 65 }))).toBe('LENGTH_OUT_OF_BOUNDS');
    expect(codeOf(() => decodeAvlPacket(hex(W1), { maxFrameBytes: 66 }))).toBe('none');
    expect(codeOf(() => decodeAvlPacket(hex(W1), { maxFrameBytes: 1.5 }))).toBe('BAD_VALUE');
  });

  it('other codecs with a valid CRC are UNKNOWN_CODEC', () => {
    expect(codeOf(() => decodeAvlPacket(hex(W5_CODEC16)))).toBe('UNKNOWN_CODEC');
    expect(codeOf(() => decodeAvlPacket(hex(C12_GETINFO)))).toBe('UNKNOWN_CODEC');
  });
});
