// Writes report.json, report.md and junit.xml into the run folder (each atomically).
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunManifest } from '../core/manifest.js';
import type { Report } from '../verify/report-types.js';
import { renderJson } from './json.js';
import { renderJunit } from './junit.js';
import { renderMarkdown } from './markdown.js';

export const REPORT_FILES = { json: 'report.json', markdown: 'report.md', junit: 'junit.xml' } as const;

/** `markdownSections` (capacity, comparison) are appended to report.md, so the CI job summary has them. */
export function writeReports(runDir: string, report: Report, manifest: RunManifest, markdownSections: string[] = []): void {
  mkdirSync(runDir, { recursive: true });
  const put = (name: string, text: string) => {
    const file = join(runDir, name);
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, text);
    renameSync(tmp, file);
  };
  put(REPORT_FILES.json, renderJson(report));
  put(REPORT_FILES.markdown, [renderMarkdown(report, manifest), ...markdownSections].join('\n'));
  put(REPORT_FILES.junit, renderJunit(report));
}
