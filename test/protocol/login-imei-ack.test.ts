import { describe, expect, it } from 'vitest';
import {
  ByteQueue,
  decodeAck,
  decodeLogin,
  encodeAck,
  encodeLogin,
  encodeLoginReply,
  imeiForIndex,
  isValidImei,
  KEEPALIVE,
  LOGIN_ACCEPT,
  LOGIN_REJECT,
  TeltonikaError,
} from '../../src/protocol/teltonika/index.js';
import { hex, REAL_IMEIS, toHex, W0_LOGIN, errorCode } from './vectors.js';

const code = errorCode;

describe('IMEI', () => {
  it('real IMEIs from public test data pass Luhn; Traccar test IMEI and malformed strings do not', () => {
    for (const i of REAL_IMEIS) expect(isValidImei(i)).toBe(true);
    expect(isValidImei('123456789012345')).toBe(false);
    expect(isValidImei('356307042441014')).toBe(false);
    expect(isValidImei('35630704244101')).toBe(false);
    expect(isValidImei('3563070424410130')).toBe(false);
    expect(isValidImei('35630704244101a')).toBe(false);
    expect(isValidImei(' 35630704244101')).toBe(false);
  });

  it('imeiForIndex is valid and unique over 100k indices, deterministic, and disjoint between seeds', () => {
    const seen = new Set<string>();
    let invalid = 0;
    for (let i = 0; i < 100_000; i++) {
      const imei = imeiForIndex(42, i);
      if (!isValidImei(imei)) invalid++;
      seen.add(imei);
    }
    expect(invalid).toBe(0);
    expect(seen.size).toBe(100_000);
    expect(imeiForIndex(42, 7)).toBe(imeiForIndex(42, 7));
    for (const s of [0, 1, 2, 43, -1, 2 ** 40, 999_999]) {
      for (const i of [0, 1, 7, 99_999, 999_999]) {
        const imei = imeiForIndex(s, i);
        expect(isValidImei(imei)).toBe(true);
        if (s !== 42) expect(seen.has(imei)).toBe(false);
      }
    }
    const prefixes = new Set(Array.from({ length: 1000 }, (_, s) => imeiForIndex(s, 0).slice(0, 8)));
    expect(prefixes.size).toBe(1000);
  });

  it('rejects out-of-range index and seed', () => {
    expect(code(() => imeiForIndex(1, 1_000_000))).toBe('BAD_VALUE');
    expect(code(() => imeiForIndex(1, -1))).toBe('BAD_VALUE');
    expect(code(() => imeiForIndex(1, 0.5))).toBe('BAD_VALUE');
    expect(code(() => imeiForIndex(Number.NaN, 0))).toBe('BAD_VALUE');
  });
});

describe('login', () => {
  it('W0 decodes and re-encodes', () => {
    expect(decodeLogin(hex(W0_LOGIN))).toBe('356307042441013');
    expect(toHex(encodeLogin('356307042441013'))).toBe(W0_LOGIN);
    expect(decodeLogin(encodeLogin('3563070424410131'))).toBe('3563070424410131');
  });

  it('replies and keep-alive are raw bytes', () => {
    expect(Array.from(encodeLoginReply(true))).toEqual([LOGIN_ACCEPT]);
    expect(Array.from(encodeLoginReply(false))).toEqual([LOGIN_REJECT]);
    expect([LOGIN_ACCEPT, LOGIN_REJECT, KEEPALIVE]).toEqual([1, 0, 0xff]);
  });

  it('rejects malformed login frames', () => {
    expect(code(() => decodeLogin(hex('00')))).toBe('TRUNCATED');
    expect(code(() => decodeLogin(hex(W0_LOGIN).subarray(0, 10)))).toBe('TRUNCATED');
    expect(code(() => decodeLogin(hex(W0_LOGIN + '00')))).toBe('TRAILING_BYTES');
    expect(code(() => decodeLogin(hex('0000')))).toBe('BAD_LOGIN');
    expect(code(() => decodeLogin(hex('000E3335363330373034323434313031')))).toBe('BAD_LOGIN');
    expect(code(() => decodeLogin(hex('1603' + '00'.repeat(0x1603))))).toBe('BAD_LOGIN');
    expect(code(() => decodeLogin(hex('000F3335363330373034323434313031FF')))).toBe('BAD_IMEI');
    expect(code(() => encodeLogin('35630704244101x'))).toBe('BAD_IMEI');
    expect(code(() => encodeLogin('1234'))).toBe('BAD_IMEI');
  });
});

describe('ACK', () => {
  it('is a 4-byte big-endian count', () => {
    expect(toHex(encodeAck(2))).toBe('00000002');
    expect(toHex(encodeAck(255))).toBe('000000FF');
    expect(toHex(encodeAck(0xffffffff))).toBe('FFFFFFFF');
    expect(decodeAck(hex('00000002'))).toBe(2);
    expect(decodeAck(hex('FFFFFFFF'))).toBe(0xffffffff);
    expect(decodeAck(encodeAck(0x01020304))).toBe(0x01020304);
  });

  it('rejects anything but exactly 4 bytes and out-of-range counts', () => {
    expect(code(() => decodeAck(hex('01')))).toBe('BAD_ACK');
    expect(code(() => decodeAck(hex('0000000100')))).toBe('BAD_ACK');
    expect(code(() => encodeAck(-1))).toBe('BAD_VALUE');
    expect(code(() => encodeAck(2 ** 32))).toBe('BAD_VALUE');
    expect(code(() => encodeAck(1.5))).toBe('BAD_VALUE');
  });
});

describe('ByteQueue', () => {
  it('returns replies split or merged across pushes', () => {
    const q = new ByteQueue(2);
    q.push([1]);
    expect(q.take(1)).toEqual(Uint8Array.of(1));
    q.push(Uint8Array.of(0, 0));
    expect(q.take(4)).toBeUndefined();
    expect(q.length).toBe(2);
    q.push({ length: 3, 0: 0, 1: 2, 2: 0 } as ArrayLike<number>);
    expect(q.take(4)).toEqual(Uint8Array.of(0, 0, 0, 2));
    expect(q.length).toBe(1);
    q.push(new Uint8Array([0, 0, 1, 0xff, 0x1ff]).buffer);
    expect(q.take(5)).toEqual(Uint8Array.of(0, 0, 0, 1, 0xff));
    expect(q.take(0)).toEqual(new Uint8Array(0));
    q.push([1, 2, 3]);
    q.clear();
    expect(q.length).toBe(0);
    expect(q.take(1)).toBeUndefined();
    expect(code(() => q.take(-1))).toBe('BAD_VALUE');
  });

  it('keeps FIFO order through growth and compaction', () => {
    const q = new ByteQueue(4);
    let next = 0;
    let expected = 0;
    for (let round = 0; round < 500; round++) {
      const n = (round * 7) % 13;
      q.push(Array.from({ length: n }, () => next++ & 0xff));
      const k = (round * 5) % 11;
      const got = q.take(Math.min(k, q.length));
      for (const b of got ?? []) expect(b).toBe(expected++ & 0xff);
    }
    expect(q.length).toBe(next - expected);
  });
});
