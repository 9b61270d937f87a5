// fast-check generators for AVL records. Coordinates are generated as wire integers and divided by 1e7, so an exact
// round trip is expected; IO lists are generated already grouped by width (the only order the wire can carry).
import fc from 'fast-check';
import type { AvlRecord, Codec, IoValue } from '../../src/protocol/teltonika/index.js';

export interface IoOpts {
  /** complete-teltonika-parser throws on a repeated id within one record */
  uniqueIds?: boolean;
  /** complete-teltonika-parser reads a zero-length NX value as NaN */
  nonEmptyNx?: boolean;
  maxPerGroup?: number;
}

const int32 = fc.integer({ min: -0x80000000, max: 0x7fffffff });
const coordinate = fc.oneof(
  int32.map((x) => x / 1e7),
  fc.constantFrom(-180, 180, -90, 90, -0x80000000 / 1e7, 0x7fffffff / 1e7, 0, -1e-7, 1e-7),
);

export function ioList(codec: Codec, o: IoOpts = {}): fc.Arbitrary<IoValue[]> {
  const idMax = codec === 0x8e ? 0xffff : 0xff;
  const id = fc.integer({ min: 0, max: idMax });
  const max = o.maxPerGroup ?? 6;
  const g = <T extends IoValue>(a: fc.Arbitrary<T>) => fc.array(a, { maxLength: max });
  const w1 = g(fc.record({ id, width: fc.constant(1 as const), value: fc.integer({ min: 0, max: 0xff }) }));
  const w2 = g(fc.record({ id, width: fc.constant(2 as const), value: fc.integer({ min: 0, max: 0xffff }) }));
  const w4 = g(fc.record({ id, width: fc.constant(4 as const), value: fc.integer({ min: 0, max: 0xffffffff }) }));
  const w8 = g(fc.record({ id, width: fc.constant(8 as const), value: fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.constantFrom(0n, 2n ** 53n + 1n, 2n ** 64n - 1n)) }));
  const wx = codec === 0x8e
    ? g(fc.record({ id, width: fc.constant('x' as const), value: fc.uint8Array({ minLength: o.nonEmptyNx ? 1 : 0, maxLength: 24 }) }))
    : fc.constant([] as IoValue[]);
  return fc.tuple(w1, w2, w4, w8, wx).map((groups) => {
    const all: IoValue[] = groups.flat();
    if (!o.uniqueIds) return all;
    const seen = new Set<number>();
    return all.filter((e) => (seen.has(e.id) ? false : (seen.add(e.id), true)));
  });
}

export function avlRecord(codec: Codec, o: IoOpts & { nonNegativeAltitude?: boolean } = {}): fc.Arbitrary<AvlRecord> {
  const idMax = codec === 0x8e ? 0xffff : 0xff;
  return fc.record({
    timestamp: fc.oneof(fc.integer({ min: 0, max: 8.64e15 }), fc.integer({ min: 1.0e12, max: 2.0e12 }), fc.constantFrom(0, 8.64e15)),
    priority: fc.integer({ min: 0, max: 2 }),
    longitude: coordinate,
    latitude: coordinate,
    altitude: o.nonNegativeAltitude ? fc.integer({ min: 0, max: 0x7fff }) : fc.oneof(fc.integer({ min: -0x8000, max: 0x7fff }), fc.constantFrom(-0x8000, -1, 0x7fff)),
    angle: fc.oneof(fc.integer({ min: 0, max: 360 }), fc.integer({ min: 0, max: 0xffff })),
    satellites: fc.integer({ min: 0, max: 0xff }),
    speed: fc.integer({ min: 0, max: 0xffff }),
    eventId: fc.integer({ min: 0, max: idMax }),
    io: ioList(codec, o),
  });
}

export const codecArb: fc.Arbitrary<Codec> = fc.constantFrom(0x08 as const, 0x8e as const);
