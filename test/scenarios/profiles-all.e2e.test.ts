// A short run of the remaining profiles (scaled down) finishes with a manifest; smoke runs in test/e2e.
import { describe, expect, it } from 'vitest';
import { runProfile } from './profile-runs.js';

describe('profiles end to end (2/2)', () => {
  it.each([['fleet-1000'], ['fleet-10000'], ['soak'], ['monthly-peak']])('%s finishes a short run with a manifest', async (profile) => {
    const r = await runProfile(profile, 8, '4s', `p-${profile}`);
    expect(r.manifest.k6.exitCode).toBe(0);
    expect(r.manifest.devices).toBe(8);
    expect(r.manifest.stages).toHaveLength(1);
    expect(r.summary.metrics.fleet_logins.values.count).toBe(8);
  }, 150_000);
});
