// Every file a person or a CI system reads from a run folder, written in one place so that `run`, `verify`
// and `report` cannot drift apart: report.json/.md + junit.xml, report.html, capacity.json/.md and, with a
// baseline, compare.html/.md/.json. Reads only the folder (no Prometheus, no PostgreSQL needed).
import type { RunManifest } from '../core/manifest.js';
import type { Report } from '../verify/report-types.js';
import { renderCapacityMarkdown } from './capacity-markdown.js';
import type { CapacityAnalysis } from './capacity/index.js';
import { compareWithBaseline, renderCompareMarkdown, type Comparison } from './compare.js';
import { writeHtmlReports } from './html/index.js';
import { writeReports } from './write.js';

export interface RunOutputOptions {
  plannedDevices?: number;
  reportIntervalSec?: number;
  /** An earlier run folder: adds a comparison with deltas beyond the noise band flagged. */
  baselineDir?: string;
  noisePct?: number;
}

export interface RunOutputs {
  htmlFile: string;
  capacity: CapacityAnalysis;
  comparison?: Comparison;
}

export function writeRunOutputs(runDir: string, report: Report, manifest: RunManifest, o: RunOutputOptions = {}): RunOutputs {
  // report.json first: the HTML and capacity analysis read it back from the folder
  writeReports(runDir, report, manifest);
  const html = writeHtmlReports(runDir, { plannedDevices: o.plannedDevices, reportIntervalSec: o.reportIntervalSec });
  const comparison = o.baselineDir ? compareWithBaseline(runDir, o.baselineDir, { noisePct: o.noisePct }) : undefined;
  const sections = [renderCapacityMarkdown(html.capacity), ...(comparison ? [renderCompareMarkdown(comparison)] : [])];
  writeReports(runDir, report, manifest, sections);
  return { htmlFile: html.html, capacity: html.capacity, ...(comparison ? { comparison } : {}) };
}
