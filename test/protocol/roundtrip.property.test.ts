import { errorCode } from './vectors.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  avlRecordSize,
  decodeAvlPacket,
  DEFAULT_MAX_FRAME_BYTES,
  encodeAvlPacket,
  sampleAvlPacket,
  TeltonikaError,
  type AvlRecord,
  type Codec,
  type IoValue,
} from '../../src/protocol/teltonika/index.js';
import { avlRecord, codecArb } from './arbitraries.js';

const BIG = 1 << 20;

const code = errorCode;

const base: AvlRecord = { timestamp: 1_700_000_000_000, priority: 0, longitude: 24.1, latitude: 56.9, altitude: 12, angle: 90, satellites: 9, speed: 50, eventId: 0, io: [] };

describe('decode(encode(x)) == x', () => {
  for (const codec of [0x08, 0x8e] as const) {
    it(`Codec ${codec === 0x08 ? '8' : '8E'}: random records, extreme coordinates, negative altitude, every IO width`, () => {
      fc.assert(
        fc.property(fc.array(avlRecord(codec), { minLength: 1, maxLength: 12 }), (records) => {
          const bytes = encodeAvlPacket(codec, records, { maxFrameBytes: BIG });
          expect(bytes.length).toBe(15 + records.reduce((s, r) => s + avlRecordSize(codec, r), 0));
          expect(decodeAvlPacket(bytes, { maxFrameBytes: BIG })).toEqual({ codec, records });
        }),
        { numRuns: 400 },
      );
    });
  }

  it('packets within the default 1280-byte limit decode with default options', () => {
    fc.assert(
      fc.property(codecArb, fc.array(avlRecord(0x08, { maxPerGroup: 2 }), { minLength: 1, maxLength: 10 }), (codec: Codec, records) => {
        const size = 15 + records.reduce((s, r) => s + avlRecordSize(codec, r), 0);
        if (size > DEFAULT_MAX_FRAME_BYTES) {
          expect(code(() => encodeAvlPacket(codec, records))).toBe('LENGTH_OUT_OF_BOUNDS');
        } else {
          expect(decodeAvlPacket(encodeAvlPacket(codec, records)).records).toEqual(records);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('max counts: 255 records; 255 IO elements in a Codec 8 record; 8E counts above 255', () => {
    const many = Array.from({ length: 255 }, (_, i) => ({ ...base, timestamp: base.timestamp + i * 1000, io: [{ id: i, width: 1 as const, value: i }] }));
    for (const codec of [0x08, 0x8e] as const) expect(decodeAvlPacket(encodeAvlPacket(codec, many, { maxFrameBytes: BIG }), { maxFrameBytes: BIG }).records).toEqual(many);
    const io255: IoValue[] = Array.from({ length: 255 }, (_, i) => ({ id: i, width: 2, value: 65535 - i }));
    const r8 = [{ ...base, io: io255 }];
    expect(decodeAvlPacket(encodeAvlPacket(0x08, r8, { maxFrameBytes: BIG }), { maxFrameBytes: BIG }).records).toEqual(r8);
    expect(code(() => encodeAvlPacket(0x08, [{ ...base, io: [...io255, { id: 1, width: 1, value: 1 }] }], { maxFrameBytes: BIG }))).toBe('BAD_VALUE');
    const io300: IoValue[] = Array.from({ length: 300 }, (_, i) => ({ id: 1000 + i, width: 1, value: i & 0xff }));
    const r8e = [{ ...base, eventId: 0xffff, io: io300 }];
    expect(decodeAvlPacket(encodeAvlPacket(0x8e, r8e, { maxFrameBytes: BIG }), { maxFrameBytes: BIG }).records).toEqual(r8e);
  });

  it('fills a packet to exactly 1280 bytes and refuses one byte more', () => {
    // Codec 8E record with one NX element: 38 + 4 + len bytes. 15 + 38 + 4 + len = 1280 → len = 1223.
    const fit = [{ ...base, io: [{ id: 385, width: 'x' as const, value: new Uint8Array(1223).fill(7) }] }];
    const bytes = encodeAvlPacket(0x8e, fit);
    expect(bytes.length).toBe(1280);
    expect(decodeAvlPacket(bytes).records).toEqual(fit);
    const over = [{ ...base, io: [{ id: 385, width: 'x' as const, value: new Uint8Array(1224) }] }];
    expect(code(() => encodeAvlPacket(0x8e, over))).toBe('LENGTH_OUT_OF_BOUNDS');
    expect(encodeAvlPacket(0x8e, over, { maxFrameBytes: 1281 }).length).toBe(1281);
  });

  it('groups IO by width, keeping order within a width', () => {
    const io: IoValue[] = [
      { id: 5, width: 8, value: 5n },
      { id: 4, width: 1, value: 4 },
      { id: 3, width: 'x', value: Uint8Array.of(3) },
      { id: 2, width: 4, value: 2 },
      { id: 1, width: 1, value: 1 },
      { id: 0, width: 2, value: 0 },
    ];
    const got = decodeAvlPacket(encodeAvlPacket(0x8e, [{ ...base, io }])).records[0].io.map((e) => e.id);
    expect(got).toEqual([4, 1, 0, 2, 5, 3]);
  });
});

describe('encoder input validation', () => {
  const bad: Array<[string, Partial<AvlRecord>]> = [
    ['priority 3', { priority: 3 }],
    ['negative timestamp', { timestamp: -1 }],
    ['fractional timestamp', { timestamp: 1.5 }],
    ['timestamp beyond the Date range', { timestamp: 8.64e15 + 1 }],
    ['NaN longitude', { longitude: Number.NaN }],
    ['longitude beyond int32', { longitude: 214.7483648 }],
    ['latitude beyond int32', { latitude: -214.7483649 }],
    ['altitude 32768', { altitude: 32768 }],
    ['altitude -32769', { altitude: -32769 }],
    ['fractional altitude', { altitude: 1.5 }],
    ['angle 65536', { angle: 65536 }],
    ['satellites 256', { satellites: 256 }],
    ['negative speed', { speed: -1 }],
    ['eventId 256 in Codec 8', { eventId: 256 }],
    ['1-byte value 256', { io: [{ id: 1, width: 1, value: 256 }] }],
    ['2-byte value -1', { io: [{ id: 1, width: 2, value: -1 }] }],
    ['4-byte value 2^32', { io: [{ id: 1, width: 4, value: 2 ** 32 }] }],
    ['8-byte value 2^64', { io: [{ id: 1, width: 8, value: 2n ** 64n }] }],
    ['8-byte value as number', { io: [{ id: 1, width: 8, value: 5 as unknown as bigint }] }],
    ['id 256 in Codec 8', { io: [{ id: 256, width: 1, value: 1 }] }],
    ['NX in Codec 8', { io: [{ id: 256, width: 'x', value: new Uint8Array(1) }] }],
    ['unknown width', { io: [{ id: 1, width: 3, value: 1 } as unknown as IoValue] }],
  ];
  for (const [name, patch] of bad) {
    it(`refuses ${name} with BAD_VALUE`, () => {
      expect(code(() => encodeAvlPacket(0x08, [{ ...base, ...patch }]))).toBe('BAD_VALUE');
    });
  }

  it('refuses bad codecs and record counts', () => {
    expect(code(() => encodeAvlPacket(0x10 as Codec, [base]))).toBe('UNKNOWN_CODEC');
    expect(code(() => encodeAvlPacket(0x08, []))).toBe('LENGTH_OUT_OF_BOUNDS');
    expect(code(() => encodeAvlPacket(0x08, Array(256).fill(base), { maxFrameBytes: BIG }))).toBe('LENGTH_OUT_OF_BOUNDS');
    expect(code(() => encodeAvlPacket(0x8e, [{ ...base, eventId: 65536 }]))).toBe('BAD_VALUE');
    expect(code(() => encodeAvlPacket(0x8e, [{ ...base, io: [{ id: 1, width: 'x', value: new Uint8Array(65536) }] }], { maxFrameBytes: BIG }))).toBe('BAD_VALUE');
  });
});

describe('sampleAvlPacket', () => {
  it('is deterministic, decodes to the records it returns, and varies with seed and IMEI', () => {
    for (const codec of [0x08, 0x8e] as const) {
      for (let seed = 0; seed < 50; seed++) {
        const a = sampleAvlPacket({ codec, records: 1 + (seed % 15), seed });
        expect(sampleAvlPacket({ codec, records: 1 + (seed % 15), seed })).toEqual(a);
        expect(decodeAvlPacket(a.packet)).toEqual({ codec, records: a.records });
        expect(a.packet.length).toBeLessThanOrEqual(1280);
      }
    }
    const x = sampleAvlPacket({ codec: 0x08, records: 3, seed: 1 });
    expect(sampleAvlPacket({ codec: 0x08, records: 3, seed: 2 }).packet).not.toEqual(x.packet);
    expect(sampleAvlPacket({ codec: 0x08, records: 3, seed: 1, imei: '356307042441013' }).packet).not.toEqual(x.packet);
  });

  it('covers negative coordinates, negative altitude, values beyond 2^53, ids above 255 and NX across seeds', () => {
    let negLon = 0, negLat = 0, negAlt = 0, big8 = 0, nx = 0, id256 = 0, noFix = 0, events = 0;
    for (let seed = 0; seed < 200; seed++) {
      for (const codec of [0x08, 0x8e] as const) {
        for (const r of sampleAvlPacket({ codec, records: 8, seed }).records) {
          if (r.longitude < 0) negLon++;
          if (r.latitude < 0) negLat++;
          if (r.altitude < 0) negAlt++;
          if (r.satellites === 0) noFix++;
          if (r.eventId !== 0) events++;
          for (const e of r.io) {
            if (e.width === 8 && e.value > BigInt(Number.MAX_SAFE_INTEGER)) big8++;
            if (e.width === 'x') nx++;
            if (e.id > 255) id256++;
          }
        }
      }
    }
    for (const n of [negLon, negLat, negAlt, big8, nx, id256, noFix, events]) expect(n).toBeGreaterThan(0);
  });

  it('falls back to lean IO when rich records do not fit, and refuses what cannot fit at all', () => {
    expect(decodeAvlPacket(sampleAvlPacket({ codec: 0x08, records: 30, seed: 3 }).packet).records).toHaveLength(30);
    expect(code(() => sampleAvlPacket({ codec: 0x08, records: 255, seed: 3 }))).toBe('LENGTH_OUT_OF_BOUNDS');
    expect(sampleAvlPacket({ codec: 0x08, records: 255, seed: 3, maxFrameBytes: 65536 }).records).toHaveLength(255);
    expect(code(() => sampleAvlPacket({ codec: 0x08, records: 0, seed: 3 }))).toBe('LENGTH_OUT_OF_BOUNDS');
    expect(code(() => sampleAvlPacket({ codec: 0x08, records: 1, seed: 3, imei: '123456789012345' }))).toBe('BAD_IMEI');
  });
});
