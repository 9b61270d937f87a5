// Reads everything a report is rebuilt from out of one run folder. Tolerant: a missing report.json or
// series.json yields a thinner report, not an error; only the manifest is required.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { RunManifest } from '../../core/manifest.js';
import type { Report } from '../../verify/report-types.js';
import { readSeries, type SeriesFile } from '../series.js';
import { readDbStats, type DbStats } from './db-stats.js';

import { MANIFEST_FILE } from '../../core/manifest.js';

export interface K6Summary {
  metrics?: Record<string, { type?: string; contains?: string; values?: Record<string, number> }>;
}

export interface RunFolder {
  dir: string;
  manifest: RunManifest;
  report?: Report;
  series?: SeriesFile;
  dbStats?: DbStats;
  k6Summary?: K6Summary;
}

export class RunFolderError extends Error {}

function readJson<T>(file: string): T | undefined {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch (e) {
    throw new RunFolderError(`${file} is not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
}

export function loadRunFolder(dir: string): RunFolder {
  const abs = resolve(dir);
  if (!existsSync(abs)) throw new RunFolderError(`${dir}: no such run folder`);
  const manifest = readJson<RunManifest>(join(abs, MANIFEST_FILE));
  if (!manifest || typeof manifest.runId !== 'string' || !Array.isArray(manifest.stages)) {
    throw new RunFolderError(`${dir} is not a run folder: it has no ${MANIFEST_FILE} with runId and stages`);
  }
  const report = readJson<Report>(join(abs, 'report.json'));
  const summaryName = manifest.k6?.summaryFile ?? 'k6-summary.json';
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
    k6Summary: readJson<K6Summary>(join(abs, summaryName)),
  };
}
