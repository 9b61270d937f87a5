// Shared by the profile end-to-end tests: one short `fleetload run` per profile, scaled down with --devices/--duration,
// read back from its run folder (run.json, report.json and the engine's engine-summary.json).
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ENGINE_SUMMARY_FILE, type EngineSummary } from '../../src/core/engine-summary.js';
import { ledgerFiles, readLedgerFile } from '../../src/core/ledger.js';
import type { RunManifest } from '../../src/core/manifest.js';
import { fleetConfigFor } from '../../src/run/fleet-plan.js';
import { loadProfile } from '../../src/run/profile.js';
import { connectAt, deviceSettings, firstRecordLeadMs } from '../../src/sim/device.js';
import { stepRanges, type FleetConfig } from '../../src/sim/fleet-config.js';
import { expect } from 'vitest';
import { fleetload } from '../helpers/cli.js';

export const reportsDir = mkdtempSync(join(tmpdir(), 'fleetload-profiles-e2e-'));

export interface ProfileRun {
  code: number;
  stderr: string;
  /** the run folder */
  dir: string;
  manifest: RunManifest;
  report: { verdict: string; objectives: Array<{ id: string; value: number | null; status: string }> };
  summary: EngineSummary;
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
  return { code: res.code, stderr: res.stderr, dir, manifest: read('run.json'), report: read('report.json'), summary: read(ENGINE_SUMMARY_FILE) };
}

export const objective = (r: ProfileRun, id: string) => r.report.objectives.find((o) => o.id === id);

/** The fleet config `fleetload run --profile p --devices n --duration d` hands the engine (its seed aside). */
export function configOf(profile: string, devices: number, durationMs: number): FleetConfig {
  const p = loadProfile(profile);
  return fleetConfigFor({ ...p, devices: { ...p.devices, count: devices }, durationMs }, 'plan', { host: '127.0.0.1', port: 1 });
}

/**
 * The engine's plan for a short run: a device connects at its place in its step's connect spread (one interval wide)
 * and takes its first record a lead time later; in a run shorter than an interval only the early ones get there.
 */
export function duePlan(c: FleetConfig): { connect: number[]; send: number[] } {
  const s = deviceSettings(c);
  const deadline = c.durationSec * 1000;
  const out = { connect: [] as number[], send: [] as number[] };
  for (const step of stepRanges(c)) {
    for (let i = step.from; i < step.to; i++) {
      const at = connectAt(s, i, step.startMs);
      if (at < deadline) out.connect.push(i);
      if (at + firstRecordLeadMs(s) < deadline) out.send.push(i);
    }
  }
  return out;
}

/** Devices with at least one ACKed record in the run's ledger. */
export function ledgerDevices(dir: string): number[] {
  const out = new Set<number>();
  for (const f of ledgerFiles(dir)) for (const e of readLedgerFile(f).entries) if (e.flags === 0 && e.timestamps.length > 0) out.add(e.device);
  return [...out].sort((a, b) => a - b);
}

/**
 * What every short profile run shows: the engine ended by itself, exactly the devices its plan lets in logged in once
 * (and those due to send did, every record ACKed and stored), and the run's stage windows are the engine's.
 */
export function expectCleanRun(r: ProfileRun, c: FleetConfig): void {
  const why = `${r.stderr.slice(-2000)}\n${JSON.stringify(r.report.objectives.map((o) => [o.id, o.status, o.value]))}`;
  const plan = duePlan(c);
  expect(plan.send.length).toBeGreaterThan(0); // else the run proves nothing
  expect(r.manifest.engine?.exitCode, why).toBe(0);
  expect(r.manifest.devices).toBe(c.devices);
  expect(r.summary.generator.invalidReasons, why).toEqual([]);
  expect(new Set(r.manifest.imeis).size).toBe(c.devices);
  expect(r.summary.logins, why).toBe(plan.connect.length);
  // the peak is sampled once a second: a device connecting in the last second before the deadline (it then stops at
  // once, having nothing to send) may fall between samples; devices that send stay connected until the deadline
  expect(r.summary.devices.planned).toBe(c.devices);
  expect(r.summary.devices.connectedPeak).toBeGreaterThanOrEqual(plan.send.length);
  expect(r.summary.devices.connectedPeak).toBeLessThanOrEqual(plan.connect.length);
  expect(ledgerDevices(r.dir)).toEqual(plan.send);
  expect(r.summary.records.sent, why).toBeGreaterThan(0);
  expect(r.summary.records.acked).toBe(r.summary.records.sent);
  expect(r.summary.ledger.records).toBe(r.summary.records.acked);
  expect(objective(r, 'records_missing')?.value, why).toBe(0);
  expect(objective(r, 'records_stored')?.value).toBe(r.summary.records.acked);
  // the run's stage windows are the engine's; the last one closes with the run's window, after the final scrapes
  const stages = r.summary.stages.map((s) => ({ name: s.name, start: s.start, end: s.end, devices: s.devices }));
  stages[stages.length - 1].end = r.manifest.endedAt;
  expect(r.manifest.stages).toEqual(stages);
  expect(r.manifest.startedAt).toBe(r.summary.loadStart);
  expect(Date.parse(r.manifest.endedAt)).toBeGreaterThan(Date.parse(r.summary.loadEnd));
}
