import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeAvlPacket, encodeLogin, imeiForIndex, sampleAvlPacket, TeltonikaError, TeltonikaFramer, type Frame } from '../../src/protocol/teltonika/index.js';
import { hex, W0_LOGIN, W1, W2, W3, errorCode } from './vectors.js';

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function feed(framer: TeltonikaFramer, stream: Uint8Array, cuts: number[], max = 1280): Frame[] {
  const frames: Frame[] = [];
  let prev = 0;
  for (const c of [...cuts, stream.length]) {
    frames.push(...framer.push(stream.subarray(prev, c)));
    expect(framer.buffered).toBeLessThan(max);
    prev = c;
  }
  return frames;
}

const code = errorCode;

describe('TeltonikaFramer', () => {
  it('cuts a session: FF glued before login, then packets in one chunk and byte by byte', () => {
    const stream = hex('FF' + W0_LOGIN + W1 + 'FF' + W2 + W3);
    const expected: Frame[] = [
      { type: 'keepalive' },
      { type: 'login', imei: '356307042441013' },
      { type: 'avl', bytes: hex(W1) },
      { type: 'keepalive' },
      { type: 'avl', bytes: hex(W2) },
      { type: 'avl', bytes: hex(W3) },
    ];
    expect(new TeltonikaFramer().push(stream)).toEqual(expected);
    const f = new TeltonikaFramer();
    expect(feed(f, stream, Array.from({ length: stream.length - 1 }, (_, i) => i + 1))).toEqual(expected);
    expect(f.buffered).toBe(0);
  });

  it('Traccar test: FF + login with a 12345… IMEI', () => {
    expect(new TeltonikaFramer().push(hex('FF000F313233343536373839303132333435'))).toEqual([{ type: 'keepalive' }, { type: 'login', imei: '123456789012345' }]);
  });

  it('returned bytes are copies, independent of the pushed chunk', () => {
    const chunk = hex(W1);
    const [frame] = new TeltonikaFramer().push(chunk);
    chunk.fill(0xee);
    expect(frame).toEqual({ type: 'avl', bytes: hex(W1) });
  });

  it('copies out of Node Buffers too (Buffer.slice would be a view into socket memory)', () => {
    const { packet } = sampleAvlPacket({ codec: 0x8e, records: 2, seed: 11 });
    const chunk = Buffer.from(packet);
    const [frame] = new TeltonikaFramer().push(chunk);
    if (frame.type !== 'avl') throw new Error('expected an AVL frame');
    expect(frame.bytes.constructor).toBe(Uint8Array);
    const nx = decodeAvlPacket(chunk).records[0].io.find((e) => e.width === 'x');
    chunk.fill(0);
    expect(frame.bytes).toEqual(packet);
    expect(nx?.value).toEqual(decodeAvlPacket(packet).records[0].io.find((e) => e.width === 'x')?.value);
  });

  it('random splits of a stream of many frames yield exactly the original frames', () => {
    const frameArb = fc.oneof(
      fc.integer({ min: 0, max: 999_999 }).map((i): [Frame, Uint8Array] => {
        const imei = imeiForIndex(7, i);
        return [{ type: 'login', imei }, encodeLogin(imei)];
      }),
      fc.constant<[Frame, Uint8Array]>([{ type: 'keepalive' }, Uint8Array.of(0xff)]),
      fc.tuple(fc.constantFrom(0x08 as const, 0x8e as const), fc.integer({ min: 1, max: 20 }), fc.integer({ min: 0, max: 1e6 })).map(([codec, records, seed]): [Frame, Uint8Array] => {
        const { packet } = sampleAvlPacket({ codec, records, seed });
        return [{ type: 'avl', bytes: packet }, packet];
      }),
    );
    fc.assert(
      fc.property(fc.array(frameArb, { minLength: 1, maxLength: 40 }), fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 60 }), (frames, cutFractions) => {
        const stream = concat(frames.map((f) => f[1]));
        const cuts = [...new Set(cutFractions.map((x) => Math.floor(x * stream.length)))].sort((a, b) => a - b);
        const f = new TeltonikaFramer();
        expect(feed(f, stream, cuts)).toEqual(frames.map((x) => x[0]));
        expect(f.buffered).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it('throws at the first byte of garbage instead of buffering it', () => {
    expect(code(() => new TeltonikaFramer().push(hex('16')))).toBe('BAD_PREAMBLE'); // TLS ClientHello
    expect(code(() => new TeltonikaFramer().push(hex('003DCAFE')))).toBe('BAD_LOGIN'); // UDP datagram on TCP
    expect(code(() => new TeltonikaFramer().push(hex('000001')))).toBe('BAD_PREAMBLE');
    expect(code(() => new TeltonikaFramer().push(hex('0011')))).toBe('BAD_LOGIN');
    expect(code(() => new TeltonikaFramer().push(hex('000E')))).toBe('BAD_LOGIN');
    expect(code(() => new TeltonikaFramer().push(hex('000F3335363330373034323434313031FF')))).toBe('BAD_IMEI');
    // garbage after a valid frame in a later chunk
    const f = new TeltonikaFramer();
    expect(f.push(hex(W1))).toHaveLength(1);
    expect(code(() => f.push(hex('42')))).toBe('BAD_PREAMBLE');
    expect(f.buffered).toBe(0);
  });

  it('refuses an oversize or undersize length as soon as the 8-byte header is in, byte by byte too', () => {
    for (const h of ['00000000000004F5', '00000000FFFFFFFF', '0000000000000002']) {
      const f = new TeltonikaFramer();
      const b = hex(h);
      for (let i = 0; i < 7; i++) expect(f.push(b.subarray(i, i + 1))).toEqual([]);
      expect(code(() => f.push(b.subarray(7)))).toBe('LENGTH_OUT_OF_BOUNDS');
      expect(f.buffered).toBe(0);
    }
    expect(new TeltonikaFramer().push(hex('00000000000004F4'))).toEqual([]); // exactly 1280: waits for the rest
    expect(code(() => new TeltonikaFramer({ maxFrameBytes: 65 }).push(hex(W1)))).toBe('LENGTH_OUT_OF_BOUNDS');
    expect(code(() => new TeltonikaFramer({ maxFrameBytes: 10 }))).toBe('BAD_VALUE');
  });

  it('buffer stays below maxFrameBytes while a 1280-byte frame trickles in', () => {
    const f = new TeltonikaFramer();
    const packet = new Uint8Array(1280);
    new DataView(packet.buffer).setUint32(4, 1268);
    for (let i = 0; i < 1279; i += 3) {
      expect(f.push(packet.subarray(i, Math.min(i + 3, 1279)))).toEqual([]);
      expect(f.buffered).toBeLessThan(1280);
    }
    expect(f.push(packet.subarray(1279))).toEqual([{ type: 'avl', bytes: packet }]);
    expect(f.buffered).toBe(0);
  });
});
