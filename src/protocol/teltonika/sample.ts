// Deterministic, realistic AVL packets for `fleetload codec sample`, tests and benchmarks. "Realistic" follows the FMB
// default IO set (notes §8.3/8.4): a short track with 10 s (moving) or 300 s (parked) spacing anywhere on the globe
// (so negative coordinates are common), occasional no-fix records, an 8-byte ICCID, and for 8E ids above 255 plus NX
// elements (VIN, fault codes).

import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import type { RandomGenerator } from 'pure-rand/types/RandomGenerator';
import { CODEC_8E, MAX_RECORDS_PER_PACKET, type AvlRecord, type Codec, type IoValue } from './avl-types.js';
import { encodeAvlPacket, type AvlLimits } from './codec8.js';
import { TeltonikaError } from './errors.js';
import { isValidImei } from './imei.js';

export interface SampleOptions extends AvlLimits {
  codec: Codec;
  records: number;
  seed: number;
  /** Mixed into the seed so devices sharing a run seed still get different tracks. */
  imei?: string;
}

const OPERATORS = [24602, 20810, 23415, 310260, 26201, 50501, 72405];
const VIN_CHARS = 'ABCDEFGHJKLMNPRSTUVWXYZ0123456789';
const DTCS = ['P0300', 'P0171', 'P0420', 'P0128', 'C0035', 'U0100', 'B1000'];
const EPOCH_2024 = Date.UTC(2024, 0, 1);
const M_PER_DEG = 111_320;

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

// murmur3's finaliser: xoroshiro128+ seeded with nearby integers starts with nearly equal outputs (seeds 0..19 all put
// the first track at ~34.75°E), so the seed is avalanched first.
function fmix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function ascii(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0x7f;
  return out;
}

// Keeps coordinates on the wire's 1e-7 grid so the returned records equal what decodeAvlPacket gives back.
const grid = (deg: number): number => Math.round(deg * 1e7) / 1e7;

export function sampleAvlPacket(opts: SampleOptions): { packet: Uint8Array; records: AvlRecord[] } {
  const { codec, records: count, seed, imei } = opts;
  if (!Number.isInteger(count) || count < 1 || count > MAX_RECORDS_PER_PACKET) {
    throw new TeltonikaError('LENGTH_OUT_OF_BOUNDS', `records must be an integer in [1, ${MAX_RECORDS_PER_PACKET}], got ${count}`);
  }
  if (!Number.isSafeInteger(seed)) throw new TeltonikaError('BAD_VALUE', `seed must be a safe integer, got ${seed}`);
  if (imei !== undefined && !isValidImei(imei)) throw new TeltonikaError('BAD_IMEI', `not a valid IMEI: ${JSON.stringify(imei)}`);
  const mixed = fmix32(fmix32((seed >>> 0) ^ 0x9e3779b9) ^ Math.floor(seed / 4294967296) ^ (imei === undefined ? 0 : fnv1a(imei))) | 0;

  // Full IO on every record first; when that overflows the frame, keep it only on the first record (like a device with
  // a lean IO profile). Counts that overflow even then are refused by the encoder (LENGTH_OUT_OF_BOUNDS).
  let records = build(codec, count, mixed, true);
  let packet: Uint8Array;
  try {
    packet = encodeAvlPacket(codec, records, opts);
  } catch (e) {
    if (!(e instanceof TeltonikaError) || e.code !== 'LENGTH_OUT_OF_BOUNDS') throw e;
    records = build(codec, count, mixed, false);
    packet = encodeAvlPacket(codec, records, opts);
  }
  return { packet, records };
}

function build(codec: Codec, count: number, seed: number, richAll: boolean): AvlRecord[] {
  const rng: RandomGenerator = xoroshiro128plus(seed);
  const int = (a: number, b: number): number => uniformInt(rng, a, b);
  const chance = (percent: number): boolean => int(0, 99) < percent;
  const ext = codec === CODEC_8E;

  let lon = int(-1_799_999_999, 1_799_999_999) / 1e7;
  let lat = int(-550_000_000, 700_000_000) / 1e7;
  let alt = int(-40, 1800);
  let heading = int(0, 359);
  let speed = int(20, 110);
  const moving = chance(80);
  const stepS = moving ? 10 : 300;
  const t0 = EPOCH_2024 + int(0, 2 * 365 * 86_400) * 1000;
  const truck = chance(30);
  const operator = OPERATORS[int(0, OPERATORS.length - 1)];
  let odometer = int(0, 400_000_000);
  const iccid = 8_935_000_000_000_000_000n + BigInt(int(0, 99_999)) * 1_000_000_000_000n + BigInt(int(0, 999_999_999)) * 1000n + BigInt(int(0, 999));
  let vin = '';
  for (let i = 0; i < 17; i++) vin += VIN_CHARS[int(0, VIN_CHARS.length - 1)];
  const event = chance(40);

  const out: AvlRecord[] = [];
  for (let i = 0; i < count; i++) {
    const fix = !chance(5);
    let spd = 0;
    if (moving) {
      heading = (heading + int(-25, 25) + 360) % 360;
      speed = Math.max(5, Math.min(130, speed + int(-12, 12)));
      if (fix) {
        spd = speed;
        const d = (speed / 3.6) * stepS;
        const rad = (heading * Math.PI) / 180;
        lat = Math.max(-85, Math.min(85, lat + (d * Math.cos(rad)) / M_PER_DEG));
        lon += (d * Math.sin(rad)) / (M_PER_DEG * Math.max(0.05, Math.cos((lat * Math.PI) / 180)));
        if (lon > 180) lon -= 360;
        if (lon < -180) lon += 360;
        lon = grid(lon);
        lat = grid(lat);
        odometer += Math.round(d);
        alt = Math.max(-400, Math.min(8000, alt + int(-4, 4)));
      }
    }
    const rich = richAll || i === 0;
    const isEvent = i === 0 && event;
    const io: IoValue[] = [
      { id: 239, width: 1, value: moving ? 1 : int(0, 1) },
      { id: 240, width: 1, value: spd > 0 ? 1 : 0 },
    ];
    if (rich) {
      io.push(
        { id: 21, width: 1, value: int(1, 5) },
        { id: 200, width: 1, value: 0 },
        { id: 69, width: 1, value: fix ? 1 : 2 },
        { id: 181, width: 2, value: fix ? int(5, 40) : 0 },
        { id: 182, width: 2, value: fix ? int(5, 30) : 0 },
        { id: 66, width: 2, value: truck ? int(24_000, 28_000) : int(11_800, 14_400) },
        { id: 67, width: 2, value: int(3900, 4200) },
      );
      if (spd > 0) io.push({ id: 24, width: 2, value: spd });
      io.push({ id: 241, width: 4, value: operator }, { id: 16, width: 4, value: odometer });
      if (ext) io.push({ id: 636, width: 4, value: int(1, 268_435_455) });
      if (i === 0) io.push({ id: 11, width: 8, value: iccid });
      if (chance(15)) io.push({ id: 78, width: 8, value: (BigInt(int(0, 0x7fffffff)) << 32n) | BigInt(int(0, 0x7fffffff)) });
      if (ext && i === 0) io.push({ id: 256, width: 'x', value: ascii(vin) });
      if (ext && chance(20)) io.push({ id: 281, width: 'x', value: ascii(DTCS[int(0, DTCS.length - 1)] + ',' + DTCS[int(0, DTCS.length - 1)]) });
    }
    out.push({
      timestamp: t0 + i * stepS * 1000,
      priority: isEvent ? 1 : 0,
      longitude: lon,
      latitude: lat,
      altitude: alt,
      angle: fix && spd > 0 ? heading : 0,
      satellites: fix ? int(4, 20) : 0,
      speed: spd,
      eventId: isEvent ? (moving ? 240 : 239) : 0,
      io,
    });
  }
  return out;
}
