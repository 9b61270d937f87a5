import { Command } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { registerCodec } from '../../src/cli/codec.js';
import { FleetloadError } from '../../src/core/errors.js';
import { decodeAvlPacket, imeiForIndex } from '../../src/protocol/teltonika/index.js';
import { hex, W0_LOGIN, W1, W4 } from './vectors.js';

async function run(...args: string[]): Promise<string> {
  const program = new Command('fleetload').exitOverride();
  registerCodec(program);
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  try {
    await program.parseAsync(['node', 'fleetload', ...args]);
  } finally {
    spy.mockRestore();
  }
  return out;
}

async function failure(...args: string[]): Promise<FleetloadError> {
  const e = await run(...args).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(FleetloadError);
  return e as FleetloadError;
}

afterEach(() => vi.restoreAllMocks());

describe('fleetload codec decode', () => {
  it('prints a Codec 8 packet as JSON', async () => {
    expect(JSON.parse(await run('codec', 'decode', W1))).toEqual({
      codec: 8,
      crcOk: true,
      records: [
        { timestamp: 1560161086000, priority: 1, longitude: 0, latitude: 0, altitude: 0, angle: 0, satellites: 0, speed: 0, eventId: 1, io: { '21': 3, '1': 1, '66': 24079, '241': 24602, '78': 0 } },
      ],
    });
  });

  it('prints Codec 8E with big 8-byte values as decimal strings and NX as hex', async () => {
    const w4 = JSON.parse(await run('codec', 'decode', `0x${W4.toLowerCase()}`));
    expect(w4.codec).toBe(142);
    expect(w4.records[0].io).toEqual({ '1': 1, '17': 29, '16': 22949000, '11': 893700218, '14': 500686954 });
    const sample = await run('codec', 'sample', '--codec', '8e', '--records', '2', '--seed', '5');
    const json = JSON.parse(await run('codec', 'decode', sample.trim()));
    expect(json.records[0].io['11']).toMatch(/^\d{19}$/); // ICCID > 2^53
    expect(json.records[0].io['256']).toMatch(/^[0-9A-F]{34}$/); // 17-byte VIN
    expect(json.records[0].io['256']).toBe(Array.from(decodeAvlPacket(hex(sample.trim())).records[0].io.find((e) => e.id === 256)!.value as Uint8Array, (b) => b.toString(16).padStart(2, '0').toUpperCase()).join(''));
  });

  it('prints a login frame as {"imei"} and a keep-alive', async () => {
    expect(JSON.parse(await run('codec', 'decode', W0_LOGIN))).toEqual({ imei: '356307042441013' });
    expect(JSON.parse(await run('codec', 'decode', 'ff'))).toEqual({ keepalive: true });
  });

  it('exits 2 with the error code on a bad CRC, malformed frames and bad hex', async () => {
    const crc = await failure('codec', 'decode', W1.slice(0, -1) + 'E');
    expect(crc.exitCode).toBe(2);
    expect(crc.message).toMatch(/^CRC_MISMATCH: /);
    expect((await failure('codec', 'decode', W1.slice(0, 40))).message).toMatch(/^TRUNCATED/);
    expect((await failure('codec', 'decode', '000F3335')).message).toMatch(/^TRUNCATED/);
    expect((await failure('codec', 'decode', '160301')).message).toMatch(/^BAD_LOGIN/);
    expect((await failure('codec', 'decode', 'xyz')).exitCode).toBe(2);
    expect((await failure('codec', 'decode', 'abc')).exitCode).toBe(2);
  });
});

describe('fleetload codec sample', () => {
  it('prints deterministic hex of a valid packet', async () => {
    const a = (await run('codec', 'sample', '--codec', '8', '--records', '5', '--seed', '42')).trim();
    expect(a).toMatch(/^[0-9A-F]+$/);
    expect((await run('codec', 'sample', '--codec', '8', '--records', '5', '--seed', '42')).trim()).toBe(a);
    expect(decodeAvlPacket(hex(a)).records).toHaveLength(5);
    const b = (await run('codec', 'sample', '--codec', '8', '--records', '5', '--seed', '42', '--imei', imeiForIndex(1, 1))).trim();
    expect(b).not.toBe(a);
    expect(decodeAvlPacket(hex((await run('codec', 'sample', '--codec', '8E', '--records', '1', '--seed', '-3')).trim())).codec).toBe(0x8e);
  });

  it('refuses bad options with exit code 2', async () => {
    expect((await failure('codec', 'sample', '--codec', '16', '--records', '1', '--seed', '1')).exitCode).toBe(2);
    expect((await failure('codec', 'sample', '--codec', '8', '--records', '0', '--seed', '1')).message).toMatch(/LENGTH_OUT_OF_BOUNDS/);
    expect((await failure('codec', 'sample', '--codec', '8', '--records', 'x', '--seed', '1')).exitCode).toBe(2);
    expect((await failure('codec', 'sample', '--codec', '8', '--records', '300', '--seed', '1')).exitCode).toBe(2);
    expect((await failure('codec', 'sample', '--codec', '8', '--records', '1', '--seed', '1', '--imei', '123456789012345')).message).toMatch(/BAD_IMEI/);
  });
});
