// Every file a person or a CI system reads from a run folder, written in one place so that `run` and `report`
// cannot drift apart: report.json/.md + junit.xml, report.html, capacity.json/.md and, with a baseline,
// compare.html/.md/.json. Reads only the folder (no Prometheus, no PostgreSQL needed).
import type { RunManifest } from '../core/manifest.js';
import type { Report } from '../verify/report-types.js';
import { renderCapacityMarkdown } from './capacity-markdown.js';
import type { CapacityAnalysis } from './capacity/index.js';
import { RunFolderError, type RunFolder } from './capacity/run-folder.js';
import { compareWithBaseline, renderCompareMarkdown, type Comparison } from './compare.js';
import { writeHtmlReports } from './html/index.js';
import { writeReportJson, writeReports } from './write.js';

export interface RunOutputOptions {
  plannedDevices?: number;
  reportIntervalSec?: number;
  /** An earlier run folder: adds a comparison with deltas beyond the noise band flagged. */
  baselineDir?: string;
  noisePct?: number;
}

export interface RunOutputs {
  htmlFile: string;
  capacityJsonFile: string;
  capacity: CapacityAnalysis;
  /** the folder as the HTML report read it (manifest, report, series, …) */
  run: RunFolder;
  comparison?: Comparison;
}

/**
 * Writes the run folder's reports. `report` undefined (a folder whose verification never finished): the HTML and
 * capacity files only, no report.md/junit.xml. A baseline that cannot be read throws RunFolderError with folder 'baseline'.
 */
export function writeRunOutputs(runDir: string, report: Report | undefined, manifest: RunManifest, o: RunOutputOptions = {}): RunOutputs {
  // report.json first: the HTML and capacity analysis read it back from the folder
  if (report) writeReportJson(runDir, report);
  const html = writeHtmlReports(runDir, { plannedDevices: o.plannedDevices, reportIntervalSec: o.reportIntervalSec });
  const comparison = o.baselineDir ? compareWith(runDir, o.baselineDir, o.noisePct) : undefined;
  const sections = [renderCapacityMarkdown(html.capacity), ...(comparison ? [renderCompareMarkdown(comparison)] : [])];
  if (report) writeReports(runDir, report, manifest, sections);
  return { htmlFile: html.html, capacityJsonFile: html.capacityJson, capacity: html.capacity, run: html.run, ...(comparison ? { comparison } : {}) };
}

function compareWith(runDir: string, baselineDir: string, noisePct: number | undefined): Comparison {
  try {
    return compareWithBaseline(runDir, baselineDir, { noisePct });
  } catch (e) {
    if (e instanceof RunFolderError) throw new RunFolderError(e.message, e.malformed, 'baseline', { cause: e });
    throw e;
  }
}
