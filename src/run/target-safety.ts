import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { badInput } from '../core/errors.js';

/** Environment variable with more allowed target hosts, comma- or space-separated (e.g. set once in CI). */
export const ALLOW_TARGETS_ENV = 'FLEETLOAD_ALLOW_TARGETS';

export function isLoopback(address: string): boolean {
  if (isIP(address) === 4) return address.startsWith('127.');
  const a = address.toLowerCase();
  return a === '::1' || a === '0:0:0:0:0:0:0:1' || (a.startsWith('::ffff:') && isIP(a.slice(7)) === 4 && a.slice(7).startsWith('127.'));
}

/** Hosts from --allow-target plus FLEETLOAD_ALLOW_TARGETS, lower-cased, without duplicates. */
export function allowedTargets(fromFlags: readonly string[], env: NodeJS.ProcessEnv = process.env): string[] {
  const fromEnv = (env[ALLOW_TARGETS_ENV] ?? '').split(/[\s,]+/);
  return [...new Set([...fromFlags, ...fromEnv].map((h) => h.trim().replace(/^\[(.*)\]$/, '$1').toLowerCase()).filter(Boolean))];
}

export interface TargetCheck {
  host: string;
  /** every address the name resolved to */
  addresses: string[];
  loopback: boolean;
  /** true when the host is non-loopback and was named by --allow-target / FLEETLOAD_ALLOW_TARGETS */
  allowedExplicitly: boolean;
}

/**
 * Load goes to loopback unless the user names the host explicitly: a typo in a target must not turn
 * into a load test of somebody's production. Resolves the name only; sends the host nothing.
 * `allowTargets` are compared with the host as given (case-insensitive), not with its addresses, so
 * allowing a name never allows whatever else resolves to the same address, and vice versa.
 */
export async function checkTarget(host: string, allowTargets: readonly string[]): Promise<TargetCheck> {
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  let addresses: string[];
  try {
    addresses = isIP(bare) ? [bare] : [...new Set((await lookup(bare, { all: true })).map((a) => a.address))];
  } catch (e) {
    throw badInput(`target host "${host}" does not resolve: ${e instanceof Error ? e.message : String(e)}`);
  }
  const foreign = addresses.filter((a) => !isLoopback(a));
  const allowed = allowTargets.map((h) => h.toLowerCase()).includes(bare.toLowerCase());
  if (foreign.length > 0 && !allowed) {
    throw badInput(
      `refusing to send load to ${host} (${foreign.join(', ')}): only loopback targets are allowed by default; ` +
        `if this host is yours to load, pass --allow-target ${bare} (or add it to ${ALLOW_TARGETS_ENV})`,
    );
  }
  return { host: bare, addresses, loopback: foreign.length === 0, allowedExplicitly: foreign.length > 0 };
}

/** The earlier interface: the resolved addresses, or badInput when the target is not allowed. */
export async function assertTargetAllowed(host: string, allowTargets: readonly string[]): Promise<string[]> {
  return (await checkTarget(host, allowTargets)).addresses;
}

/** The one line that says, loudly, where the load goes (printed before any load is sent). */
export function targetBanner(t: TargetCheck, port: number, what: { embedded: boolean; devices: number; durationSec: number }): string {
  const where = t.host.includes(':') ? `[${t.host}]:${port}` : `${t.host}:${port}`;
  const kind = what.embedded
    ? 'the embedded reference platform on loopback'
    : t.loopback
      ? 'an external platform on loopback'
      : `an EXTERNAL NON-LOOPBACK host, allowed by --allow-target/${ALLOW_TARGETS_ENV}`;
  return `>>> LOAD TARGET: ${where} (resolves to ${t.addresses.join(', ')}) — ${kind}; ${what.devices} devices for ${what.durationSec} s`;
}
