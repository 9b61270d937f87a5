// reconnect-storm end to end against the reference platform: every device drops at once, buffers, reconnects and
// flushes, and not one ACKed record is missing from PostgreSQL. Plus the stepped capacity profile's stages.
import { describe, expect, it } from 'vitest';
import { ledgerFiles, readLedgerFile } from '../../src/core/ledger.js';
import { stepRanges } from '../../src/sim/fleet-config.js';
import { configOf, expectCleanRun, objective, runProfile } from './profile-runs.js';

/** Per device: ACKed records acquired inside [from, to) and ACKed only at or after `to` (buffered through it). */
function bufferedThrough(dir: string, from: number, to: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const f of ledgerFiles(dir)) {
    for (const e of readLedgerFile(f).entries) {
      if (e.flags !== 0 || e.atMs < to) continue;
      const n = e.timestamps.filter((t) => t >= from && t < to).length;
      if (n > 0) out.set(e.device, (out.get(e.device) ?? 0) + n);
    }
  }
  return out;
}

/** Per device: the timestamp of its oldest ACKed record. */
function firstRecordOf(dir: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const f of ledgerFiles(dir)) for (const e of readLedgerFile(f).entries) for (const t of e.timestamps) out.set(e.device, Math.min(out.get(e.device) ?? t, t));
  return out;
}

describe('profiles end to end (1/2)', () => {
  it('reconnect-storm: all devices drop, buffer, reconnect and flush with zero records lost', async () => {
    const r = await runProfile('reconnect-storm', 200, '20s', 'p-storm');
    const s = r.summary;
    const why = `${r.stderr.slice(-2000)}\n${JSON.stringify(s, null, 1).slice(0, 3000)}`;
    expect(r.manifest.engine?.exitCode, why).toBe(0);
    expect(s.linkOutages, why).toEqual({ drop: 0, storm: 200 }); // every device dropped, once
    expect(s.reconnects).toBeGreaterThanOrEqual(200);
    expect(s.outagesUnrecovered).toBe(0);
    expect(s.records.unsent).toBe(0);
    expect(s.records.lost).toBe(0);
    // every device buffered ≥ 4 records (2 s interval) through its outage and delivered them after reconnecting
    const storm = configOf('reconnect-storm', 200, 20_000).storm!;
    const t0 = Date.parse(s.loadStart);
    const buffered = bufferedThrough(r.dir, t0 + storm.atMs, t0 + storm.atMs + storm.offlineMs);
    expect(buffered.size, why).toBe(200);
    expect(Math.min(...buffered.values())).toBeGreaterThanOrEqual(4);
    // a buffered record's latency is its time in the device's flash: at least most of the outage
    expect(s.recordLatencyMs!.max).toBeGreaterThan(storm.offlineMs - 2000);
    expect(objective(r, 'records_missing')?.value).toBe(0);
    expect(objective(r, 'records_duplicated')?.value).toBe(0);
    expect(objective(r, 'records_stored')?.value).toBe(s.records.acked);
    expect(s.records.acked).toBe(s.records.sent - s.records.resent);
    expect(r.report.verdict, why).toBe('pass'); // judged by slo/faults.yaml, which the profile names
  }, 150_000);

  it('capacity: six steps become six manifest stages with their device counts', async () => {
    const r = await runProfile('capacity', 12, '6s', 'p-capacity');
    expect(r.code).not.toBe(2);
    expect(r.manifest.stages.map((s) => s.devices)).toEqual([1, 2, 3, 6, 9, 12]);
    expect(r.manifest.stages.map((s) => s.name)).toEqual(['step-1', 'step-2', 'step-3', 'step-4', 'step-5', 'step-6']);
    for (let i = 1; i < 6; i++) expect(r.manifest.stages[i].start).toBe(r.manifest.stages[i - 1].end);
    // each step's devices really waited for their step: no record of theirs is older than the step's start
    const c = configOf('capacity', 12, 6000);
    const t0 = Date.parse(r.summary.loadStart);
    expect(r.manifest.stages.map((s) => Date.parse(s.start) - t0)).toEqual(c.steps!.map((s) => s.startMs));
    const firstRecord = firstRecordOf(r.dir);
    for (const step of stepRanges(c)) {
      for (let d = step.from; d < step.to; d++) if (firstRecord.has(d)) expect(firstRecord.get(d)! - t0, `device ${d} of step ${step.step}`).toBeGreaterThanOrEqual(step.startMs);
    }
    expectCleanRun(r, c);
  }, 150_000);

  it.each([['fleet-100'], ['fleet-500']])('%s finishes a short run with a manifest', async (profile) => {
    const r = await runProfile(profile, 8, '4s', `p-${profile}`);
    expectCleanRun(r, configOf(profile, 8, 4000));
  }, 150_000);
});
