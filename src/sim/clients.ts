// What the REST API and WebSocket clients of a fleet do, independent of the runtime: which endpoint an arrival picks,
// how a request template is filled, which devices exist at a moment of a stepped run, and which devices a live-map
// client subscribes to. The engine (src/engine) and the k6 bundle (scenarios/k6) both run it, so no Node APIs here.
import { imeiForIndex } from '../protocol/teltonika/index.js';
import { fleetSteps, type ApiEndpoint, type FleetConfig } from './fleet-config.js';

/** The endpoint a uniform draw u ∈ [0, 1) lands on, by weight. */
export function pickEndpoint(endpoints: ApiEndpoint[], u: number): ApiEndpoint {
  const total = endpoints.reduce((s, e) => s + Math.max(0, e.weight), 0);
  let r = u * total;
  for (const e of endpoints) {
    r -= Math.max(0, e.weight);
    if (r < 0) return e;
  }
  return endpoints[endpoints.length - 1];
}

/** Devices that exist `elapsedMs` after the test start of a stepped run (at least 1). */
export function activeDevices(config: Pick<FleetConfig, 'devices' | 'steps'>, elapsedMs: number): number {
  const steps = fleetSteps(config);
  let n = steps[0].devices;
  for (const s of steps) if (s.startMs <= elapsedMs) n = s.devices;
  return Math.max(1, n);
}

/**
 * Fills an API config's path or body template: {imei} (a device that exists now), {apiImei} (the caller's write
 * IMEI, never a simulated device), {from}/{to} (the last ten minutes), {nowMs}, {lat}/{lon} (near the centre).
 * Unknown placeholders stay as written. `random` draws from [0, 1).
 */
export function fillTemplate(template: string, config: Pick<FleetConfig, 'seed' | 'centre'>, random: () => number, apiImei: string, now: number, devices: number): string {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) => {
    switch (key) {
      case 'imei':
        return imeiForIndex(config.seed, Math.floor(random() * devices));
      case 'apiImei':
        return apiImei;
      case 'from':
        return new Date(now - 10 * 60_000).toISOString();
      case 'to':
        return new Date(now).toISOString();
      case 'nowMs':
        return String(now);
      case 'lat':
        return (config.centre.latitude + (random() - 0.5) * 0.05).toFixed(6);
      case 'lon':
        return (config.centre.longitude + (random() - 0.5) * 0.05).toFixed(6);
      default:
        return whole;
    }
  });
}

/** Device indices WebSocket client `client` subscribes to ('all' = every device of the fleet); blocks are disjoint where the fleet allows. */
export function subscription(config: Pick<FleetConfig, 'devices' | 'ws'>, client: number): number[] | 'all' {
  const ws = config.ws;
  if (!ws || ws.subscribe === 'all') return 'all';
  const k = Math.min(ws.subscribe, config.devices);
  const out: number[] = [];
  for (let j = 0; j < k; j++) out.push((client * k + j) % config.devices);
  return out;
}
