import { TeltonikaError } from './errors.js';

/** Luhn check digit for a string of decimal digits (the IMEI's first 14). */
export function luhnCheckDigit(payload: string): number {
  let sum = 0;
  // The digit next to the check digit is doubled, so doubling alternates starting from the right end of the payload.
  for (let i = payload.length - 1, double = true; i >= 0; i--, double = !double) {
    let d = payload.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return (10 - (sum % 10)) % 10;
}

function allDigits(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** 15 decimal digits whose last one is the Luhn check digit, as strict decoders (filipkroca) require. */
export function isValidImei(imei: string): boolean {
  if (typeof imei !== 'string' || imei.length !== 15 || !allDigits(imei)) return false;
  return luhnCheckDigit(imei.slice(0, 14)) === imei.charCodeAt(14) - 48;
}

export const IMEI_INDEX_LIMIT = 1_000_000;
const PREFIX_SPACE = 1_000_000;
// A multiplier coprime with 10^6, so seed -> prefix is a bijection on [0, 10^6):
// runs with different seeds (mod 10^6) can never hand out the same IMEI.
const PREFIX_MUL = 7_919;
const PREFIX_ADD = 271_828;

/**
 * A Luhn-valid IMEI for simulated device `index` of a run seeded with `seed`: "35" (a real reporting-body prefix)
 * + 6 digits derived from the seed + the index as 6-digit serial + check digit. Unique per index within a seed, and
 * disjoint between seeds that differ modulo 10^6.
 */
export function imeiForIndex(seed: number, index: number): string {
  if (!Number.isSafeInteger(index) || index < 0 || index >= IMEI_INDEX_LIMIT) {
    throw new TeltonikaError('BAD_VALUE', `IMEI index must be an integer in [0, ${IMEI_INDEX_LIMIT - 1}], got ${index}`);
  }
  if (!Number.isSafeInteger(seed)) throw new TeltonikaError('BAD_VALUE', `IMEI seed must be a safe integer, got ${seed}`);
  const s = ((seed % PREFIX_SPACE) + PREFIX_SPACE) % PREFIX_SPACE;
  const prefix = (s * PREFIX_MUL + PREFIX_ADD) % PREFIX_SPACE; // < 8e9: exact in a double
  const payload = '35' + pad6(prefix) + pad6(index);
  return payload + String(luhnCheckDigit(payload));
}

function pad6(n: number): string {
  const s = String(n);
  return '000000'.slice(s.length) + s;
}
