// A short run of the remaining profiles (scaled down) on the engine finishes cleanly with a manifest; smoke runs in
// test/e2e.
import { describe, expect, it } from 'vitest';
import { configOf, expectCleanRun, runProfile } from './profile-runs.js';

describe('profiles end to end (2/2)', () => {
  it.each([['fleet-1000'], ['fleet-10000'], ['soak'], ['monthly-peak']])('%s finishes a short run with a manifest', async (profile) => {
    const r = await runProfile(profile, 8, '4s', `p-${profile}`);
    expectCleanRun(r, configOf(profile, 8, 4000));
    expect(r.manifest.stages).toHaveLength(1);
    expect(r.summary.stages.map((s) => [s.name, s.devices])).toEqual([['steady', 8]]);
  }, 150_000);
});
