// Codec benchmark (Node, one core): decode records/s, encode packets/s, and a fuzz run of ≥ 1,000,000 frames that must
// raise nothing but TeltonikaError. Run: npm run bench:codec  (options: --seconds S, --fuzz N)
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import {
  crc16Arc,
  decodeAvlPacket,
  decodeLogin,
  encodeAvlPacket,
  encodeLogin,
  imeiForIndex,
  sampleAvlPacket,
  TeltonikaError,
  TeltonikaFramer,
  type AvlRecord,
  type Codec,
} from '../src/protocol/teltonika/index.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}
const SECONDS = arg('--seconds', 2);
const FUZZ_FRAMES = arg('--fuzz', 1_000_000);

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

/** Runs `step` in batches until `seconds` pass (after a short warm-up); returns units per second. */
function rate(seconds: number, step: () => number): number {
  const warmUntil = performance.now() + 300;
  while (performance.now() < warmUntil) step();
  let units = 0;
  const start = performance.now();
  const until = start + seconds * 1000;
  let now = start;
  while (now < until) {
    for (let i = 0; i < 50; i++) units += step();
    now = performance.now();
  }
  return units / ((now - start) / 1000);
}

interface Corpus {
  codec: Codec;
  packets: Uint8Array[];
  records: AvlRecord[][];
}

function corpus(codec: Codec, recordsPerPacket: number): Corpus {
  const packets: Uint8Array[] = [];
  const records: AvlRecord[][] = [];
  for (let seed = 0; seed < 128; seed++) {
    const s = sampleAvlPacket({ codec, records: recordsPerPacket, seed });
    packets.push(s.packet);
    records.push(s.records);
  }
  return { codec, packets, records };
}

function benchCodec(c: Corpus): void {
  const name = c.codec === 0x08 ? 'Codec 8 ' : 'Codec 8E';
  const n = c.records[0].length;
  const bytes = c.packets.reduce((s, p) => s + p.length, 0) / c.packets.length;
  let i = 0;
  const decRecords = rate(SECONDS, () => decodeAvlPacket(c.packets[i++ & 127]).records.length);
  let j = 0;
  const encPackets = rate(SECONDS, () => (encodeAvlPacket(c.codec, c.records[j++ & 127]), 1));
  console.log(`${name} (${n} records/packet, ~${Math.round(bytes)} B, ~${c.records[0][1]?.io.length ?? c.records[0][0].io.length} IO/record)`);
  console.log(`  decode: ${fmt(decRecords)} records/s  (${fmt(decRecords / n)} packets/s)`);
  console.log(`  encode: ${fmt(encPackets)} packets/s  (${fmt(encPackets * n)} records/s)`);
}

function fuzz(total: number): void {
  const rng = xoroshiro128plus(20240601);
  const int = (a: number, b: number): number => uniformInt(rng, a, b);
  const seeds: Uint8Array[] = [];
  for (let s = 0; s < 64; s++) seeds.push(sampleAvlPacket({ codec: s & 1 ? 0x8e : 0x08, records: 1 + (s % 12), seed: s }).packet);
  for (let s = 0; s < 8; s++) seeds.push(encodeLogin(imeiForIndex(s, s)));
  const codes = new Map<string, number>();
  let decoded = 0;
  let framerFrames = 0;
  const framer = new TeltonikaFramer();
  let framerMax = 0;
  const start = performance.now();
  for (let k = 0; k < total; k++) {
    let b: Uint8Array;
    const mode = int(0, 9);
    if (mode === 0) {
      // Pure noise, sometimes behind a valid-looking header so the length/CRC paths are exercised.
      b = new Uint8Array(int(0, 96));
      for (let i = 0; i < b.length; i++) b[i] = int(0, 255);
      if (b.length >= 8 && int(0, 1) === 0) b.fill(0, 0, 4);
    } else {
      const src = seeds[int(0, seeds.length - 1)];
      b = src.slice();
      const muts = int(1, 3);
      for (let m = 0; m < muts; m++) {
        const at = b.length === 0 ? 0 : int(0, b.length - 1);
        switch (int(0, 3)) {
          case 0:
          case 1:
            b[at] = int(0, 255);
            break;
          case 2:
            b = b.slice(0, at);
            break;
          default: {
            const grown = new Uint8Array(b.length + int(1, 8));
            grown.set(b.subarray(0, at), 0);
            for (let i = at; i < at + grown.length - b.length; i++) grown[i] = int(0, 255);
            grown.set(b.subarray(at), at + grown.length - b.length);
            b = grown;
          }
        }
      }
      // Repair length and CRC on most mutants so they reach the record parser instead of failing the CRC.
      if (mode >= 4 && b.length >= 15 && b[1] === 0) {
        const dv = new DataView(b.buffer, b.byteOffset, b.length);
        dv.setUint32(0, 0);
        dv.setUint32(4, b.length - 12);
        dv.setUint32(b.length - 4, crc16Arc(b, 8, b.length - 4));
      }
    }
    try {
      if (b.length >= 2 && (b[0] !== 0 || b[1] !== 0)) decodeLogin(b);
      else decodeAvlPacket(b);
      decoded++;
    } catch (e) {
      if (!(e instanceof TeltonikaError)) throw new Error(`fuzz frame ${k} raised a non-TeltonikaError: ${String(e)}`, { cause: e });
      codes.set(e.code, (codes.get(e.code) ?? 0) + 1);
    }
    // Every 8th frame also goes through the stream framer in two pieces.
    if ((k & 7) === 0) {
      try {
        const cut = int(0, b.length);
        framerFrames += framer.push(b.subarray(0, cut)).length;
        framerMax = Math.max(framerMax, framer.buffered);
        framerFrames += framer.push(b.subarray(cut)).length;
        framerMax = Math.max(framerMax, framer.buffered);
      } catch (e) {
        if (!(e instanceof TeltonikaError)) throw new Error(`framer on fuzz frame ${k} raised a non-TeltonikaError: ${String(e)}`, { cause: e });
      }
      framer.reset();
    }
  }
  const secs = (performance.now() - start) / 1000;
  const rejected = [...codes.entries()].sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ${fmt(n)}`).join(', ');
  console.log(`fuzz: ${fmt(total)} frames in ${secs.toFixed(1)} s, only TeltonikaError raised`);
  console.log(`  accepted ${fmt(decoded)}; rejected: ${rejected}`);
  console.log(`  framer: ${fmt(total / 8)} frames streamed, ${fmt(framerFrames)} cut, max buffered ${framerMax} B (limit 1280)`);
}

console.log(`fleetload codec benchmark — Node ${process.version}, one core, ${SECONDS} s per figure`);
benchCodec(corpus(0x08, 10));
benchCodec(corpus(0x8e, 10));
fuzz(FUZZ_FRAMES);
