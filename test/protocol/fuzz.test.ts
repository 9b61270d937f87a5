// Bounded fuzz: arbitrary and mutated bytes must only ever produce TeltonikaError, and the framer's buffer must stay
// below maxFrameBytes. (bench/codec.ts runs the same idea for ≥ 1,000,000 frames.)
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  crc16Arc,
  decodeAck,
  decodeAvlPacket,
  decodeLogin,
  encodeAvlPacket,
  sampleAvlPacket,
  TeltonikaError,
  TeltonikaFramer,
} from '../../src/protocol/teltonika/index.js';
import { hex, W0_LOGIN, W1, W2, W3, W4 } from './vectors.js';

const seeds: Uint8Array[] = [
  hex(W1), hex(W2), hex(W3), hex(W4), hex(W0_LOGIN),
  ...Array.from({ length: 20 }, (_, i) => sampleAvlPacket({ codec: i % 2 ? 0x8e : 0x08, records: 1 + (i % 9), seed: i }).packet),
];

function onlyTeltonikaErrors(f: () => unknown): void {
  try {
    f();
  } catch (e) {
    if (!(e instanceof TeltonikaError)) throw e;
  }
}

const mutation = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ maxLength: 8 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 8 }) }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function mutate(src: Uint8Array, ms: Mutation[], fixLengthAndCrc: boolean): Uint8Array {
  let b = Uint8Array.from(src);
  for (const m of ms) {
    const at = b.length === 0 ? 0 : m.at % b.length;
    if (m.kind === 'set') b[at] = m.byte;
    else if (m.kind === 'cut') b = b.slice(0, at);
    else if (m.kind === 'insert') b = Uint8Array.from([...b.slice(0, at), ...m.bytes, ...b.slice(at)]);
    else b = Uint8Array.from([...b.slice(0, at), ...b.slice(at + m.n)]);
  }
  // Make the outer checks pass so the mutation reaches the record parser.
  if (fixLengthAndCrc && b.length >= 15) {
    const dv = new DataView(b.buffer);
    dv.setUint32(0, 0);
    dv.setUint32(4, b.length - 12);
    dv.setUint32(b.length - 4, crc16Arc(b, 8, b.length - 4));
  }
  return b;
}

describe('fuzz', () => {
  it('random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
        onlyTeltonikaErrors(() => decodeAvlPacket(b));
        onlyTeltonikaErrors(() => decodeLogin(b));
        onlyTeltonikaErrors(() => decodeAck(b));
        onlyTeltonikaErrors(() => new TeltonikaFramer().push(b));
      }),
      { numRuns: 5000 },
    );
  });

  it('mutated valid frames, with and without repaired length/CRC', () => {
    let reachedRecords = 0;
    fc.assert(
      fc.property(fc.constantFrom(...seeds), fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.boolean(), (src, ms, fix) => {
        const b = mutate(src, ms, fix);
        try {
          const p = decodeAvlPacket(b, { maxFrameBytes: 1 << 16 });
          // Whatever decodes must re-encode to the same bytes (ignoring the untrusted total IO count).
          const again = encodeAvlPacket(p.codec, p.records, { maxFrameBytes: 1 << 16 });
          expect(decodeAvlPacket(again, { maxFrameBytes: 1 << 16 })).toEqual(p);
        } catch (e) {
          if (!(e instanceof TeltonikaError)) throw e;
          if (!['BAD_PREAMBLE', 'LENGTH_OUT_OF_BOUNDS', 'CRC_MISMATCH', 'TRUNCATED', 'TRAILING_BYTES'].includes(e.code) || fix) reachedRecords++;
        }
        onlyTeltonikaErrors(() => decodeLogin(b));
      }),
      { numRuns: 15_000 },
    );
    expect(reachedRecords).toBeGreaterThan(1000);
  });

  it('framer over a mutated stream in random chunks: only TeltonikaError, buffer bounded', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...seeds, Uint8Array.of(0xff)), { minLength: 1, maxLength: 10 }),
        fc.array(mutation, { maxLength: 3 }),
        fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 20 }),
        (frames, ms, chunkSizes) => {
          const stream = mutate(Uint8Array.from(frames.flatMap((f) => [...f])), ms, false);
          const f = new TeltonikaFramer();
          let pos = 0;
          let i = 0;
          try {
            while (pos < stream.length) {
              const n = chunkSizes[i++ % chunkSizes.length];
              for (const fr of f.push(stream.subarray(pos, pos + n))) if (fr.type === 'avl') onlyTeltonikaErrors(() => decodeAvlPacket(fr.bytes));
              expect(f.buffered).toBeLessThan(1280);
              pos += n;
            }
          } catch (e) {
            if (!(e instanceof TeltonikaError)) throw e;
            expect(f.buffered).toBe(0);
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});
