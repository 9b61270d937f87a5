import { TeltonikaError } from './errors.js';

/** Server's one-byte answers to the login frame, and the device's one-byte keep-alive. Raw bytes, not ASCII. */
export const LOGIN_ACCEPT = 0x01;
export const LOGIN_REJECT = 0x00;
export const KEEPALIVE = 0xff;

/** Real devices send 15 digits; some decoders (filipkroca) also see 16 (IMEISV), so the server accepts both. */
export const MIN_LOGIN_DIGITS = 15;
export const MAX_LOGIN_DIGITS = 16;

/** Login frame: uint16 BE length + the IMEI as ASCII digits. */
export function encodeLogin(imei: string): Uint8Array {
  if (typeof imei !== 'string' || imei.length < MIN_LOGIN_DIGITS || imei.length > MAX_LOGIN_DIGITS) {
    throw new TeltonikaError('BAD_IMEI', `IMEI must be ${MIN_LOGIN_DIGITS}-${MAX_LOGIN_DIGITS} digits, got ${JSON.stringify(imei)}`);
  }
  const out = new Uint8Array(2 + imei.length);
  out[1] = imei.length;
  for (let i = 0; i < imei.length; i++) {
    const c = imei.charCodeAt(i);
    if (c < 48 || c > 57) throw new TeltonikaError('BAD_IMEI', `IMEI must be decimal digits, got ${JSON.stringify(imei)}`);
    out[2 + i] = c;
  }
  return out;
}

/**
 * IMEI from a complete login frame. Checks shape (length prefix matches, 15-16 ASCII digits) but not the Luhn digit:
 * test fleets (Traccar's 123456789012345) fail Luhn, so strictness is the caller's choice via isValidImei.
 */
export function decodeLogin(frame: Uint8Array): string {
  if (frame.length < 2) throw new TeltonikaError('TRUNCATED', `login frame needs at least 2 bytes, got ${frame.length}`);
  const n = (frame[0] << 8) | frame[1];
  if (n === 0) throw new TeltonikaError('BAD_LOGIN', 'login length is 0 (this looks like an AVL data frame)');
  if (n < MIN_LOGIN_DIGITS || n > MAX_LOGIN_DIGITS) {
    throw new TeltonikaError('BAD_LOGIN', `login length ${n} is not ${MIN_LOGIN_DIGITS}-${MAX_LOGIN_DIGITS}`);
  }
  if (frame.length < n + 2) throw new TeltonikaError('TRUNCATED', `login frame announces ${n} digits but has ${frame.length - 2}`);
  if (frame.length > n + 2) throw new TeltonikaError('TRAILING_BYTES', `login frame has ${frame.length - n - 2} bytes after the IMEI`);
  let imei = '';
  for (let i = 2; i < n + 2; i++) {
    const c = frame[i];
    if (c < 48 || c > 57) throw new TeltonikaError('BAD_IMEI', `IMEI byte ${i - 2} is 0x${c.toString(16).padStart(2, '0')}, not an ASCII digit`);
    imei += String.fromCharCode(c);
  }
  return imei;
}

export function encodeLoginReply(accept: boolean): Uint8Array {
  return Uint8Array.of(accept ? LOGIN_ACCEPT : LOGIN_REJECT);
}
