// In-k6 codec benchmark: encode (and decode) packets/s inside one VU, to size how many simulated devices one k6
// process can feed. Not a load test: no network. Run after `node build.mjs`:
//   K6_AUTO_EXTENSION_RESOLUTION=false k6 run dist/scenarios/bench-codec.js
import { Counter } from 'k6/metrics';
import { decodeAvlPacket, encodeAvlPacket, sampleAvlPacket, type AvlRecord, type Codec } from '../src/protocol/teltonika/index';

// k6 provides console at runtime, but @types/k6 does not declare it and this project has no DOM lib.
declare const console: { log(...args: unknown[]): void };

const SECONDS = Number(__ENV.BENCH_SECONDS ?? '5');

export const options = {
  scenarios: { encode: { executor: 'per-vu-iterations', vus: 1, iterations: 1, maxDuration: `${SECONDS * 4 + 30}s` } },
};

const encoded = new Counter('codec_packets_encoded');

function run(codec: Codec): void {
  const records: AvlRecord[][] = [];
  const packets: Uint8Array[] = [];
  for (let seed = 0; seed < 64; seed++) {
    const s = sampleAvlPacket({ codec, records: 10, seed });
    records.push(s.records);
    packets.push(s.packet);
  }
  // The encoder must reproduce the sample bytes exactly inside Sobek too (BigInt / setBigUint64 included).
  for (let i = 0; i < 64; i++) {
    const again = encodeAvlPacket(codec, records[i]);
    if (again.length !== packets[i].length || again.some((b, k) => b !== packets[i][k])) throw new Error(`codec 0x${codec.toString(16)}: encoder output differs in k6 for seed ${i}`);
    if (JSON.stringify(decodeAvlPacket(again).records, (_, v) => (typeof v === 'bigint' ? v.toString() : v)) !== JSON.stringify(records[i], (_, v) => (typeof v === 'bigint' ? v.toString() : v))) {
      throw new Error(`codec 0x${codec.toString(16)}: decode differs in k6 for seed ${i}`);
    }
  }
  let n = 0;
  let start = Date.now();
  while (Date.now() - start < SECONDS * 1000) {
    for (let k = 0; k < 100; k++) encodeAvlPacket(codec, records[n++ & 63]);
  }
  const encRate = n / ((Date.now() - start) / 1000);
  encoded.add(n);
  let m = 0;
  start = Date.now();
  while (Date.now() - start < SECONDS * 1000) {
    for (let k = 0; k < 100; k++) decodeAvlPacket(packets[m++ & 63]);
  }
  const decRate = (m * 10) / ((Date.now() - start) / 1000);
  console.log(`k6 ${codec === 0x08 ? 'Codec 8' : 'Codec 8E'}: encode ${Math.round(encRate)} packets/s (10 records each), decode ${Math.round(decRate)} records/s`);
}

export default function (): void {
  run(0x08);
  run(0x8e);
}
