// Reads everything a report is rebuilt from out of one run folder. Tolerant: a missing report.json or
// series.json yields a thinner report, not an error; only the manifest is required.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ENGINE_SUMMARY_FILE, ENGINE_SUMMARY_FORMAT, type EngineSummary } from '../../core/engine-summary.js';
import type { RunManifest } from '../../core/manifest.js';
import type { Report } from '../../verify/report-types.js';
import { readSeries, type SeriesFile } from '../series.js';
import { readDbStats, type DbStats } from './db-stats.js';
import { MANIFEST_FILE, runFile } from '../../core/run-folder.js';
import { SEARCH_FILE, SEARCH_FORMAT, type SearchRecord } from './search.js';

/** End-of-test summary of a run folder written by the k6 generator before the engine (read only, for compare). */
export interface OldK6Summary {
  metrics?: Record<string, { type?: string; contains?: string; values?: Record<string, number> }>;
}

export interface RunFolder {
  dir: string;
  manifest: RunManifest;
  report?: Report;
  series?: SeriesFile;
  dbStats?: DbStats;
  /** engine-summary.json (run.json engine.summaryFile) */
  engineSummary?: EngineSummary;
  /** an old run folder's k6 summary, only when it has no engine summary */
  oldK6Summary?: OldK6Summary;
  /** capacity-search.json of an adaptive capacity search (fleetload capacity) */
  search?: SearchRecord;
}

/**
 * A run folder that cannot be read. `malformed`: a file is there but is not what fleetload wrote (an invalid run,
 * not a wrong argument). `folder`: which folder, when a command reads two (the run, or the baseline it is compared with).
 */
export class RunFolderError extends Error {
  constructor(
    message: string,
    readonly malformed = false,
    readonly folder: 'run' | 'baseline' = 'run',
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

function readJson<T>(file: string): T | undefined {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch (e) {
    throw new RunFolderError(`${file} is not valid JSON: ${e instanceof Error ? e.message : String(e)}`, true);
  }
}

export function loadRunFolder(dir: string): RunFolder {
  const abs = resolve(dir);
  if (!existsSync(abs)) throw new RunFolderError(`${dir}: no such run folder`);
  const manifest = readJson<RunManifest>(join(abs, MANIFEST_FILE));
  if (!manifest || typeof manifest.runId !== 'string' || !Array.isArray(manifest.stages)) {
    throw new RunFolderError(`${dir} is not a run folder: it has no ${MANIFEST_FILE} with runId and stages`);
  }
  const report = readJson<Report>(runFile(abs, 'reportJson'));
  let series: SeriesFile | undefined;
  try {
    series = readSeries(abs);
  } catch (e) {
    throw new RunFolderError(e instanceof Error ? e.message : String(e));
  }
  return {
    dir: abs,
    manifest,
    report,
    series,
    dbStats: readDbStats(abs),
    ...summaries(abs, manifest),
    ...searchRecord(abs),
  };
}

function searchRecord(dir: string): Pick<RunFolder, 'search'> {
  const file = join(dir, SEARCH_FILE);
  const search = readJson<SearchRecord>(file);
  if (!search) return {};
  if (search.format !== SEARCH_FORMAT) throw new RunFolderError(`${file}: unknown format ${String(search.format)} (expected ${SEARCH_FORMAT})`, true);
  return { search };
}

function summaries(dir: string, manifest: RunManifest): Pick<RunFolder, 'engineSummary' | 'oldK6Summary'> {
  if (manifest.engine || !manifest.k6) {
    const file = join(dir, manifest.engine?.summaryFile ?? ENGINE_SUMMARY_FILE);
    const engineSummary = readJson<EngineSummary>(file);
    if (engineSummary && engineSummary.format !== ENGINE_SUMMARY_FORMAT) {
      throw new RunFolderError(`${file}: unknown format ${String(engineSummary.format)} (expected ${ENGINE_SUMMARY_FORMAT})`, true);
    }
    return engineSummary ? { engineSummary } : {};
  }
  const oldK6Summary = readJson<OldK6Summary>(join(dir, manifest.k6.summaryFile ?? 'k6-summary.json'));
  return oldK6Summary ? { oldK6Summary } : {};
}
