// A baseline is an earlier run's report.json (given as the file or as its run folder).
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { badInput } from '../core/errors.js';
import type { Report } from './report-types.js';

export function loadBaseline(pathOrDir: string): { report: Report; file: string } {
  let file = pathOrDir;
  try {
    if (statSync(pathOrDir).isDirectory()) file = join(pathOrDir, 'report.json');
  } catch (e) {
    throw badInput(`baseline ${pathOrDir} does not exist`, e);
  }
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw badInput(`cannot read the baseline report ${file}: ${(e as Error).message}`, e);
  }
  const r = json as Partial<Report> | null;
  if (!r || typeof r !== 'object' || !Array.isArray(r.objectives) || typeof r.runId !== 'string' || typeof r.verdict !== 'string')
    throw badInput(`baseline ${file} is not a fleetload report.json (needs runId, verdict and objectives)`);
  return { report: r as Report, file };
}
