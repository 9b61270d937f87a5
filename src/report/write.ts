// Writes report.json, report.md and junit.xml into the run folder (each atomically).
import type { RunManifest } from '../core/manifest.js';
import type { Report } from '../verify/report-types.js';
import { renderJson } from './json.js';
import { renderJunit } from './junit.js';
import { renderMarkdown } from './markdown.js';
import { RUN_FILES, runFile, writeFileAtomic } from '../core/run-folder.js';

export const REPORT_FILES = { json: RUN_FILES.reportJson, markdown: RUN_FILES.reportMarkdown, junit: RUN_FILES.junit } as const;

/** report.json alone: what the HTML report and the capacity analysis read back from the folder. */
export function writeReportJson(runDir: string, report: Report): string {
  return writeFileAtomic(runFile(runDir, 'reportJson'), renderJson(report));
}

/**
 * report.json, report.md and junit.xml. `markdownSections` (capacity, comparison) are appended to report.md, so the
 * CI job summary has them: a run folder's report.md is written by writeRunOutputs (run-outputs.ts), which adds them;
 * a verification folder's (`fleetload verify`) has none.
 */
export function writeReports(runDir: string, report: Report, manifest: RunManifest, markdownSections: string[] = []): void {
  writeReportJson(runDir, report);
  writeFileAtomic(runFile(runDir, 'reportMarkdown'), [renderMarkdown(report, manifest), ...markdownSections].join('\n'));
  writeFileAtomic(runFile(runDir, 'junit'), renderJunit(report));
}
