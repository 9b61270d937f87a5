// The settings `fleetload k6 bundle` embedded (esbuild defines FLEETLOAD_K6_SETTINGS as a JSON literal, referenced
// here only, so the config appears once in the bundle), with the target given at k6 run time laid over them.
import { resolveTarget, type BundleSettings } from './settings';

declare const FLEETLOAD_K6_SETTINGS: BundleSettings;

export const settings: BundleSettings = FLEETLOAD_K6_SETTINGS;
export const config = resolveTarget(settings.config, __ENV);

/** Trend samples are taken for one event in this many (per VU). */
export const sampleEvery = Math.max(1, Math.floor(settings.trendSampleEvery));

let seq = 0;
/** true for one call in `sampleEvery` (per VU). */
export function sampled(): boolean {
  return sampleEvery === 1 || ++seq % sampleEvery === 0;
}
