// Cross-check against an independent decoder, npm complete-teltonika-parser (notes §6.1): it takes a hex string,
// reads altitude unsigned, returns 8-byte/NX values above 2^53 as decimal strings, and throws on repeated IO ids.
import { ProtocolParser } from 'complete-teltonika-parser';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeAvlPacket, sampleAvlPacket, type AvlRecord, type Codec, type IoValue } from '../../src/protocol/teltonika/index.js';
import { avlRecord } from './arbitraries.js';
import { toHex, W1, W4 } from './vectors.js';

interface TheirRecord {
  Timestamp: Date;
  Priority: number;
  GPSelement: { Longitude: number; Latitude: number; Altitude: number; Angle: number; Satellites: number; Speed: number };
  IOelement: { EventID: number; ElementCount: number; Elements: Record<string, number | string> };
}

function theirs(packetHex: string): { codec: number; n: number; records: TheirRecord[] } {
  const p = new ProtocolParser(packetHex, false, (e: Error) => {
    throw e;
  });
  return { codec: p.CodecID, n: p.Quantity1, records: (p.Content as unknown as { AVL_Datas: TheirRecord[] }).AVL_Datas };
}

const bytesToBigInt = (b: Uint8Array): bigint => (b.length === 0 ? 0n : BigInt('0x' + toHex(b)));

function compare(codec: Codec, ours: readonly AvlRecord[], packet: Uint8Array): void {
  const t = theirs(toHex(packet));
  expect(t.codec).toBe(codec);
  expect(t.n).toBe(ours.length);
  expect(t.records).toHaveLength(ours.length);
  ours.forEach((r, i) => {
    const x = t.records[i];
    expect(x.Timestamp.getTime()).toBe(r.timestamp);
    expect(x.Priority).toBe(r.priority);
    expect(x.GPSelement.Longitude).toBe(r.longitude);
    expect(x.GPSelement.Latitude).toBe(r.latitude);
    expect(x.GPSelement.Altitude).toBe(r.altitude & 0xffff);
    expect(x.GPSelement.Angle).toBe(r.angle);
    expect(x.GPSelement.Satellites).toBe(r.satellites);
    expect(x.GPSelement.Speed).toBe(r.speed);
    expect(x.IOelement.EventID).toBe(r.eventId);
    expect(x.IOelement.ElementCount).toBe(r.io.length);
    const expected: Record<string, bigint> = {};
    for (const e of r.io) expected[e.id] = ioBig(e);
    const got: Record<string, bigint> = {};
    for (const [id, v] of Object.entries(x.IOelement.Elements)) got[id] = BigInt(v);
    expect(got).toEqual(expected);
  });
}

function ioBig(e: IoValue): bigint {
  if (e.width === 'x') return bytesToBigInt(e.value);
  return BigInt(e.value);
}

describe('complete-teltonika-parser agrees with our encoder', () => {
  it('sanity: it decodes the wiki examples', () => {
    expect(theirs(W1).records[0].IOelement.Elements).toEqual({ 1: 1, 21: 3, 66: 24079, 241: 24602, 78: 0 });
    expect(theirs(W4).records[0].IOelement.Elements).toEqual({ 1: 1, 17: 29, 16: 22949000, 11: 893700218, 14: 500686954 });
  });

  for (const codec of [0x08, 0x8e] as const) {
    it(`Codec ${codec === 0x08 ? '8' : '8E'}: hundreds of generated packets`, () => {
      let packets = 0;
      fc.assert(
        fc.property(fc.array(avlRecord(codec, { uniqueIds: true, nonEmptyNx: true, maxPerGroup: 4 }), { minLength: 1, maxLength: 6 }), (records) => {
          const packet = encodeAvlPacket(codec, records, { maxFrameBytes: 1 << 16 });
          compare(codec, records, packet);
          packets++;
        }),
        { numRuns: 300 },
      );
      expect(packets).toBeGreaterThanOrEqual(300);
    });

    it(`Codec ${codec === 0x08 ? '8' : '8E'}: sample packets over many seeds`, () => {
      for (let seed = 0; seed < 200; seed++) {
        const { packet, records } = sampleAvlPacket({ codec, records: 1 + (seed % 12), seed });
        compare(codec, records, packet);
      }
    });
  }
});
