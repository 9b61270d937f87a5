// Shared by the profile end-to-end tests: one short `fleetload run` per profile, scaled down with --devices/--duration.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fleetload } from '../helpers/cli.js';

export const reportsDir = mkdtempSync(join(tmpdir(), 'fleetload-profiles-e2e-'));

export interface ProfileRun {
  code: number;
  stderr: string;
  manifest: { stages: Array<{ name: string; devices: number; start: string; end: string }>; imeis: string[]; devices: number; k6: { exitCode: number } };
  report: { verdict: string; objectives: Array<{ id: string; value: number | null; status: string }> };
  summary: { metrics: Record<string, { values: Record<string, number> }> };
}

export async function runProfile(profile: string, devices: number, duration: string, runId: string): Promise<ProfileRun> {
  const res = await fleetload(['run', '--profile', profile, '--devices', String(devices), '--duration', duration, '--run-id', runId, '--reports-dir', reportsDir], {
    timeoutMs: 150_000,
  });
  const dir = join(reportsDir, runId);
  const read = (f: string) => {
    try {
      return JSON.parse(readFileSync(join(dir, f), 'utf8')) as never;
    } catch {
      throw new Error(`${profile}: no ${f} (exit ${res.code})\n${res.stderr.slice(-3000)}`);
    }
  };
  return { code: res.code, stderr: res.stderr, manifest: read('run.json'), report: read('report.json'), summary: read('k6-summary.json') };
}

export const objective = (r: ProfileRun, id: string) => r.report.objectives.find((o) => o.id === id);
