// Rebuilds every derived output of a run folder from what it stores (manifest, report.json, series.json,
// db-stats.json): report.html, capacity.json, capacity.md. Needs no Prometheus and no PostgreSQL.
import { renderCapacityMarkdown } from '../capacity-markdown.js';
import { analyzeCapacity, writeCapacity, type CapacityAnalysis, type CapacityOptions } from '../capacity/index.js';
import { loadRunFolder, type RunFolder } from '../capacity/run-folder.js';
import { renderHtml } from './page.js';
import { runFile, writeFileAtomic } from '../../core/run-folder.js';

export { renderHtml, HTML_FILE, histogramSvg } from './page.js';

export interface WrittenOutputs {
  html: string;
  capacityJson: string;
  capacityMd: string;
  capacity: CapacityAnalysis;
  run: RunFolder;
}

/**
 * Writes report.html, capacity.json and capacity.md into the run folder. The lead calls this from run.ts
 * after writeReports (report.json exists) and after captureSeries/captureDbStats; `fleetload report`
 * calls it on a stored folder.
 */
export function writeHtmlReports(runDir: string, o: CapacityOptions = {}): WrittenOutputs {
  const run = loadRunFolder(runDir);
  const capacity = analyzeCapacity({ manifest: run.manifest, report: run.report, series: run.series, dbStats: run.dbStats, search: run.search }, o);
  const capacityJson = writeCapacity(run.dir, capacity);
  const capacityMd = writeFileAtomic(runFile(run.dir, 'capacityMarkdown'), renderCapacityMarkdown(capacity));
  const html = writeFileAtomic(runFile(run.dir, 'html'), renderHtml({ run, capacity }));
  return { html, capacityJson, capacityMd, capacity, run };
}
