// reconnect-storm end to end against the reference platform: every device drops at once, buffers, reconnects and
// flushes, and not one ACKed record is missing from PostgreSQL. Plus the stepped capacity profile's stages.
import { describe, expect, it } from 'vitest';
import { objective, runProfile } from './profile-runs.js';

describe('profiles end to end (1/2)', () => {
  it('reconnect-storm: all devices drop, buffer, reconnect and flush with zero records lost', async () => {
    const r = await runProfile('reconnect-storm', 200, '20s', 'p-storm');
    expect(r.manifest.k6.exitCode).toBe(0);
    const m = r.summary.metrics;
    expect(m.fleet_link_outages.values.count).toBe(200); // every device dropped, once
    expect(m.fleet_reconnects.values.count).toBeGreaterThanOrEqual(200);
    expect(m.fleet_records_buffered.values.max).toBeGreaterThan(200 * 3); // ≥ 4 records of backlog per device at the peak
    expect(m.fleet_records_unsent?.values.count ?? 0).toBe(0);
    expect(objective(r, 'missing_records')?.value).toBe(0);
    expect(objective(r, 'duplicate_rows')?.value).toBe(0);
    expect(objective(r, 'records_stored')?.value).toBe(m.fleet_records_acked.values.count);
    expect(r.report.verdict).toBe('pass'); // judged by slo/faults.yaml, which the profile names
  }, 150_000);

  it('capacity: six steps become six manifest stages with their device counts', async () => {
    const r = await runProfile('capacity', 12, '6s', 'p-capacity');
    expect(r.code).not.toBe(2);
    expect(r.manifest.stages.map((s) => s.devices)).toEqual([1, 2, 3, 6, 9, 12]);
    expect(r.manifest.stages.map((s) => s.name)).toEqual(['step-1', 'step-2', 'step-3', 'step-4', 'step-5', 'step-6']);
    for (let i = 1; i < 6; i++) expect(r.manifest.stages[i].start).toBe(r.manifest.stages[i - 1].end);
    expect(r.summary.metrics.fleet_logins.values.count).toBe(12);
    expect(objective(r, 'missing_records')?.value).toBe(0);
  }, 150_000);

  it.each([['fleet-100'], ['fleet-500']])('%s finishes a short run with a manifest', async (profile) => {
    const r = await runProfile(profile, 8, '4s', `p-${profile}`);
    expect(r.manifest.k6.exitCode).toBe(0);
    expect(new Set(r.manifest.imeis).size).toBe(8);
    expect(r.summary.metrics.fleet_logins.values.count).toBe(8);
  }, 150_000);
});
