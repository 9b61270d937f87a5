// `fleetload codec decode|sample`: wiring only; the protocol work lives in src/protocol/teltonika. The JSON and hex
// printed here are parsed by other tools, so their shape is a contract.
import type { Command } from 'commander';
import {
  CODEC_8,
  CODEC_8E,
  decodeAvlPacket,
  decodeLogin,
  sampleAvlPacket,
  TeltonikaError,
  type AvlRecord,
  type Codec,
  type IoValue,
} from '../protocol/teltonika/index.js';
import { badInput } from '../core/errors.js';

export function registerCodec(program: Command): void {
  const codec = program.command('codec').description('encode and decode Teltonika Codec 8 / 8E frames');

  codec
    .command('decode')
    .description('decode one login frame or TCP AVL packet given as hex; prints JSON (exit 2 if malformed or CRC is wrong)')
    .argument('<hex>', 'frame bytes as hex (whitespace and a 0x prefix are ignored)')
    .action((hex: string) => {
      process.stdout.write(JSON.stringify(decodeFrameJson(parseHex(hex))) + '\n');
    });

  codec
    .command('sample')
    .description('print a valid, deterministic AVL packet as hex')
    .requiredOption('--codec <codec>', 'codec: 8 or 8e')
    .requiredOption('--records <n>', 'records in the packet (1-255, as long as the packet fits 1280 bytes)')
    .requiredOption('--seed <seed>', 'integer seed; the same arguments always give the same packet')
    .option('--imei <imei>', 'device IMEI (15 digits, Luhn-valid), mixed into the seed')
    .action((opts: { codec: string; records: string; seed: string; imei?: string }) => {
      const { packet } = guard(() =>
        sampleAvlPacket({ codec: parseCodec(opts.codec), records: parseInt10('--records', opts.records), seed: parseInt10('--seed', opts.seed), imei: opts.imei }),
      );
      process.stdout.write(toHex(packet) + '\n');
    });
}

/** JSON for one frame, as printed by `codec decode`. Exported for tests and for tools that want the same view. */
function decodeFrameJson(bytes: Uint8Array): Record<string, unknown> {
  if (bytes.length === 1 && bytes[0] === 0xff) return { keepalive: true };
  // A data frame starts 00 00; a login frame starts with its non-zero uint16 length (Traccar's rule).
  if (bytes.length >= 2 && (bytes[0] !== 0 || bytes[1] !== 0)) return { imei: guard(() => decodeLogin(bytes)) };
  const packet = guard(() => decodeAvlPacket(bytes));
  // A CRC mismatch never gets here (exit 2), so crcOk is always true; it is part of the published shape.
  return { codec: packet.codec, crcOk: true, records: packet.records.map(recordJson) };
}

function recordJson(r: AvlRecord): Record<string, unknown> {
  const io: Record<string, number | string> = {};
  for (const e of r.io) io[String(e.id)] = ioJson(e);
  return {
    timestamp: r.timestamp,
    priority: r.priority,
    longitude: r.longitude,
    latitude: r.latitude,
    altitude: r.altitude,
    angle: r.angle,
    satellites: r.satellites,
    speed: r.speed,
    eventId: r.eventId,
    io,
  };
}

function ioJson(e: IoValue): number | string {
  if (e.width === 'x') return toHex(e.value);
  if (e.width === 8) return e.value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(e.value) : e.value.toString();
  return e.value;
}

function guard<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof TeltonikaError) throw badInput(`${e.code}: ${e.message}`, e);
    throw e;
  }
}

function parseHex(input: string): Uint8Array {
  let s = input.replace(/\s+/g, '');
  if (/^0x/i.test(s)) s = s.slice(2);
  if (s.length === 0 || s.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(s)) {
    throw badInput(`not an even-length hex string: ${JSON.stringify(input.length > 80 ? input.slice(0, 80) + '…' : input)}`);
  }
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(i * 2, i * 2 + 2), 16);
  return out;
}

function toHex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += (b[i] < 16 ? '0' : '') + b[i].toString(16);
  return s.toUpperCase();
}

function parseCodec(v: string): Codec {
  const c = v.trim().toLowerCase();
  if (c === '8' || c === '08' || c === '0x08') return CODEC_8;
  if (c === '8e' || c === '0x8e' || c === '142') return CODEC_8E;
  throw badInput(`--codec must be 8 or 8e, got ${JSON.stringify(v)}`);
}

function parseInt10(flag: string, v: string): number {
  if (!/^-?\d+$/.test(v.trim())) throw badInput(`${flag} must be an integer, got ${JSON.stringify(v)}`);
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw badInput(`${flag} is out of range: ${v}`);
  return n;
}
