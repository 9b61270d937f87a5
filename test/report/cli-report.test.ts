// `fleetload report <run-dir>` rebuilds a run folder's outputs through the same writer as `fleetload run`
// (writeRunOutputs): a rebuilt report.md keeps its Capacity section, and folder errors map to exit codes.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { registerReport } from '../../src/cli/report.js';
import { ExitCode, FleetloadError } from '../../src/core/errors.js';
import type { RunManifest } from '../../src/core/manifest.js';
import { runFile, writeJsonAtomic } from '../../src/core/run-folder.js';
import { renderMarkdown, writeReports } from '../../src/report/index.js';
import { writeSeries } from '../../src/report/series.js';
import type { Report } from '../../src/verify/report-types.js';
import { syntheticManifest, syntheticSeries } from '../capacity/synthetic.js';

async function fleetloadReport(...args: string[]): Promise<void> {
  const program = new Command('fleetload').exitOverride();
  registerReport(program);
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  try {
    await program.parseAsync(['node', 'fleetload', 'report', ...args]);
  } finally {
    spy.mockRestore();
  }
}

afterEach(() => vi.restoreAllMocks());

/** A stepped run folder as `fleetload verify` leaves it: report.json and a report.md without the capacity section. */
function steppedRunFolder(): { dir: string; report: Report; manifest: RunManifest } {
  const dir = join(mkdtempSync(join(tmpdir(), 'fleetload-cli-report-')), 'run');
  mkdirSync(dir);
  const manifest = syntheticManifest() as RunManifest;
  const report: Report = {
    verdict: 'pass', runId: manifest.runId, profile: manifest.profile,
    window: { start: manifest.startedAt, end: manifest.endedAt, durationSeconds: (Date.parse(manifest.endedAt) - Date.parse(manifest.startedAt)) / 1000 },
    score: 100, reasons: [], objectives: [], versions: {}, slo: { file: 'slo.yaml', total: { pass: 90, warning: 75 } }, generatedAt: manifest.endedAt,
  };
  writeJsonAtomic(runFile(dir, 'manifest'), manifest);
  writeSeries(dir, syntheticSeries());
  writeReports(dir, report, manifest);
  return { dir, report, manifest };
}

describe('fleetload report', () => {
  it('rebuilds report.md with the capacity analysis appended (the same text as capacity.md)', async () => {
    const { dir, report, manifest } = steppedRunFolder();
    const before = readFileSync(runFile(dir, 'reportMarkdown'), 'utf8');
    expect(before).toBe(renderMarkdown(report, manifest));

    await fleetloadReport(dir);

    const capacityMd = readFileSync(runFile(dir, 'capacityMarkdown'), 'utf8');
    const capacity = JSON.parse(readFileSync(runFile(dir, 'capacityJson'), 'utf8')) as { stepped: boolean };
    expect(capacity.stepped).toBe(true);
    const md = readFileSync(runFile(dir, 'reportMarkdown'), 'utf8');
    expect(md.startsWith(renderMarkdown(report, manifest))).toBe(true);
    expect(md.endsWith(capacityMd)).toBe(true);
    expect(md.split('\n')).toContain('## Capacity');
  });

  it('a missing baseline is bad input; a damaged run folder is an invalid run', async () => {
    const { dir } = steppedRunFolder();
    const err = (p: Promise<void>) => p.then(() => undefined, (e: unknown) => e);
    const missing = await err(fleetloadReport(dir, '--baseline', join(dir, 'no-such-folder')));
    expect(missing).toBeInstanceOf(FleetloadError);
    expect((missing as FleetloadError).exitCode).toBe(ExitCode.BadInput);

    writeFileSync(runFile(dir, 'reportJson'), '{ not json');
    const damaged = await err(fleetloadReport(dir));
    expect(damaged).toBeInstanceOf(FleetloadError);
    expect((damaged as FleetloadError).exitCode).toBe(ExitCode.InvalidRun);
  });
});
