// `fleetload report <run-dir>`: rebuilds report.html, capacity.json/.md (and report.md, junit.xml from
// report.json) from what the run folder stores; needs neither Prometheus nor PostgreSQL. Wiring only.
import type { Command } from 'commander';
import { loadRunFolder, RunFolderError } from '../report/capacity/run-folder.js';
import { DEFAULT_NOISE_PCT } from '../report/compare.js';
import { writeRunOutputs, type RunOutputOptions, type RunOutputs } from '../report/run-outputs.js';
import { parseDurationMs } from '../run/duration.js';
import { badInput, invalidRun } from '../core/errors.js';

function parsePositiveInt(flag: string, v: string): number {
  if (!/^\d+$/.test(v.trim()) || Number(v) < 1) throw badInput(`${flag}: expected a whole number ≥ 1, got "${v}"`);
  return Number(v);
}

export function parseNoise(v: string): number {
  const n = Number(v.replace(/%$/, ''));
  if (!Number.isFinite(n) || n < 0 || n > 1000) throw badInput(`--noise: expected a percentage such as 10, got "${v}"`);
  return n;
}

function parseInterval(v: string): number {
  const ms = /^\d+(\.\d+)?$/.test(v) ? Number(v) * 1000 : parseDurationMs(v);
  if (ms === undefined || !(ms > 0)) throw badInput(`--report-interval: expected a duration such as 10s or 1m, got "${v}"`);
  return ms / 1000;
}

export function registerReport(program: Command): void {
  program
    .command('report')
    .description('rebuild report.html, capacity.json/.md, report.md and junit.xml from a stored run folder (no stack needed)')
    .argument('<run-dir>', 'run folder, e.g. reports/<run-id>')
    .option('--planned-devices <n>', 'planned fleet size: headroom and database growth are computed for it')
    .option('--report-interval <duration>', 'seconds between two records of one device for growth (default: measured, else 10s)')
    .option('--baseline <dir>', 'also compare with this run folder (writes compare.html/.md/.json)')
    .option('--noise <pct>', 'noise band for --baseline in percent', String(DEFAULT_NOISE_PCT))
    .action((dir: string, opts: { plannedDevices?: string; reportInterval?: string; baseline?: string; noise: string }) => {
      const options: RunOutputOptions = {
        plannedDevices: opts.plannedDevices === undefined ? undefined : parsePositiveInt('--planned-devices', opts.plannedDevices),
        reportIntervalSec: opts.reportInterval === undefined ? undefined : parseInterval(opts.reportInterval),
        baselineDir: opts.baseline,
        noisePct: parseNoise(opts.noise),
      };
      process.stdout.write(`${summaryLines(rebuild(dir, options), options).join('\n')}\n`);
    });
}

/** The same writer as `fleetload run` (report.md keeps its Capacity and Comparison sections); folder errors → exit codes. */
function rebuild(dir: string, options: RunOutputOptions): RunOutputs {
  try {
    const run = loadRunFolder(dir);
    return writeRunOutputs(run.dir, run.report, run.manifest, options);
  } catch (e) {
    if (!(e instanceof RunFolderError)) throw e;
    const message = e.folder === 'baseline' ? `--baseline: ${e.message}` : e.message;
    throw e.malformed && e.folder === 'run' ? invalidRun(message, e) : badInput(message, e);
  }
}

function summaryLines(out: RunOutputs, options: RunOutputOptions): string[] {
  const c = out.capacity;
  const lines = [`report: ${out.htmlFile}`, `capacity: ${out.capacityJsonFile}`];
  if (c.stepped) lines.push(`capacity: ${c.capacity.devices ?? 'none'} devices — ${c.capacity.explanation}`);
  if (c.headroom) lines.push(`headroom: ${c.headroom.explanation}`);
  if (c.growth) lines.push(`growth: ${c.growth.rowsPerDay.toFixed(0)} rows/day, ${c.growth.gbPerMonth.toFixed(2)} GB/month at ${c.growth.plannedDevices} devices`);
  if (!out.run.series) lines.push('note: no series.json in this folder, so the charts say "no data"');
  const cmp = out.comparison;
  if (cmp) lines.push(`compare: ${cmp.regressions} regressions, ${cmp.improvements} improvements vs ${cmp.a.runId} (±${options.noisePct} %)`);
  return lines;
}
