// Each fault profile as a short real run on the embedded stack (through the CLI, as a user runs it): the fault happens
// when planned and is recorded in run.json, PostgreSQL holds every ACKed record exactly once, and the devices'
// recovery time is measured. A fault profile against an external target is refused before any load.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fleetload } from '../helpers/cli.js';

const reportsDir = mkdtempSync(join(tmpdir(), 'fleetload-fault-runs-'));

interface Objective {
  id: string;
  value: number | null;
  status: string;
}

async function faultRun(profile: string) {
  const runId = `f-${profile}`;
  const res = await fleetload(['run', '--profile', profile, '--duration', '20s', '--run-id', runId, '--reports-dir', reportsDir], { timeoutMs: 150_000 });
  const read = <T,>(f: string): T => {
    try {
      return JSON.parse(readFileSync(join(reportsDir, runId, f), 'utf8')) as T;
    } catch {
      throw new Error(`${profile}: no ${f} (exit ${res.code})\n${res.stderr.slice(-3000)}`);
    }
  };
  const report = read<{ verdict: string; objectives: Objective[] }>('report.json');
  const manifest = read<{ startedAt: string; endedAt: string; faults?: Array<Record<string, unknown>> }>('run.json');
  const value = (id: string) => report.objectives.find((o) => o.id === id)?.value;
  return { res, report, manifest, value };
}

describe('fault runs on the embedded stack', () => {
  it.each([
    ['fault-postgres-restart', 'restart-postgres', /PostgreSQL stopped, down 3s, started again/],
    ['fault-platform-kill', 'kill-platform', /platform SIGKILLed, down 2s, restarted on the same ports/],
    ['fault-link-drop', 'drop-device-links', /^50 device links reset, reconnects refused for 3s$/],
    ['fault-platform-pause', 'pause-platform', /platform SIGSTOPped for 5s, then SIGCONT/],
  ])(
    '%s: zero ACKed records lost, zero duplicates, recovery measured, fault in run.json',
    async (profile, action, detail) => {
      const r = await faultRun(profile);
      expect(r.res.stderr).toMatch(new RegExp(`>>> FAULT 1/1 ${action} at \\+`));
      // the fault really happened, at 40% of the 20 s load, and is recorded with its real start and end
      expect(r.manifest.faults).toHaveLength(1);
      const f = r.manifest.faults![0];
      expect(f).toMatchObject({ action, at: '40%', plannedAtMs: 8000 });
      expect(f.error).toBeUndefined();
      expect(f.detail).toMatch(detail);
      expect(f.startOffsetMs as number).toBeGreaterThanOrEqual(8000);
      expect(f.startOffsetMs as number).toBeLessThan(10_000); // a timer on a loaded 2-core machine may fire late
      expect(Date.parse(f.start as string)).toBeGreaterThan(Date.parse(r.manifest.startedAt));
      expect(Date.parse(f.end as string)).toBeLessThan(Date.parse(r.manifest.endedAt));
      // zero loss, record by record: every ACKed record stored once under its own device, nothing invented
      expect(r.value('records_acked')).toBeGreaterThan(0);
      for (const id of ['records_missing', 'records_duplicated', 'records_extra', 'records_misattributed']) expect(r.value(id), id).toBe(0);
      // every one of these faults breaks device links or stalls their ACKs past the 3 s ACK timeout
      expect(r.value('recovery_time_max')).toBeGreaterThan(0);
      expect(r.value('recovery_time_max')).toBeLessThan(30_000);
      expect(r.value('outages_unrecovered')).toBe(0);
      expect(r.report.verdict).toBe('pass');
      expect(r.res.code).toBe(0);
      console.log(`${profile}: recovery max ${r.value('recovery_time_max')} ms, p50 ${r.value('recovery_time_p50')} ms, acked ${r.value('records_acked')}`);
    },
    150_000,
  );

  it('a fault profile against an external --tcp target is refused with exit 2 before any load', async () => {
    const res = await fleetload(['run', '--profile', 'fault-platform-kill', '--tcp', '127.0.0.1:5999', '--prometheus-url', 'http://127.0.0.1:9999', '--reports-dir', reportsDir]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/has faults: \(kill-platform\).*cannot run against an external --tcp target/);
    expect(res.stderr).not.toMatch(/LOAD TARGET/);
  }, 30_000);
});
