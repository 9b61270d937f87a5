// The fleet config every scenario module reads (FLEET_CONFIG, JSON; see src/sim/fleet-config.ts).
import type { FleetConfig } from '../../src/sim/fleet-config';

export const config = JSON.parse(__ENV.FLEET_CONFIG ?? '{}') as FleetConfig;

/** Trend samples are taken for one event in this many (bounded Trend memory on long runs). */
export const sampleEvery = Math.max(1, Math.floor(config.trendSampleEvery ?? 1));

let seq = 0;
/** true for one call in `sampleEvery` (per VU). */
export function sampled(): boolean {
  return sampleEvery === 1 || ++seq % sampleEvery === 0;
}
