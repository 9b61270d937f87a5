// The run folder's one owner: the name of every file a run leaves behind, and the one way to write them (atomically,
// so a reader — `fleetload report`, a CI job, a person — never sees half a file). `run`, `report` and `stack`
// write through here (the atomic writer lives in atomic-write.ts so that manifest.ts can use it without a cycle); the manifest (run.json) reader/writer stays in manifest.ts and is re-exported.
//
//   <run>/run.json              manifest: what ran, when, against what (manifest.ts)
//        report.json|.md        verdict (report/write.ts); report.md ends with the Capacity (and Comparison) sections
//        junit.xml              verdict for CI
//        report.html            charts and capacity (report/html)
//        capacity.json|.md      capacity analysis (report/capacity)
//        series.json            Prometheus series captured for the report (report/series.ts)
//        db-stats.json          table and index sizes for growth (report/capacity/db-stats.ts)
//        engine-summary.json    the engine's end-of-run summary (core/engine-summary.ts)
//        ledger/                per-record ACK ledger (core/ledger.ts)
//        evidence/              kept Prometheus/PostgreSQL data of the embedded stack (stack/evidence.ts)
//        stack.log              the embedded stack's output
//        compare.html|.md|.json comparison with a baseline run (report/compare.ts)
import { accessSync, constants, mkdirSync, statfsSync, statSync, type Stats } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { badInput } from './errors.js';
import { ENGINE_SUMMARY_FILE } from './engine-summary.js';
import { LEDGER_DIR } from './ledger.js';
import { MANIFEST_FILE } from './manifest.js';

export { MANIFEST_FILE, readManifest, writeManifest, type RunManifest } from './manifest.js';

export const RUN_FILES = {
  manifest: MANIFEST_FILE,
  reportJson: 'report.json',
  reportMarkdown: 'report.md',
  junit: 'junit.xml',
  html: 'report.html',
  capacityJson: 'capacity.json',
  capacityMarkdown: 'capacity.md',
  series: 'series.json',
  dbStats: 'db-stats.json',
  engineSummary: ENGINE_SUMMARY_FILE,
  ledgerDir: LEDGER_DIR,
  evidenceDir: 'evidence',
  stackLog: 'stack.log',
  compareHtml: 'compare.html',
  compareMarkdown: 'compare.md',
  compareJson: 'compare.json',
} as const;

export type RunFileName = keyof typeof RUN_FILES;

/** Path of one of the run folder's files. */
export const runFile = (runDir: string, name: RunFileName): string => join(runDir, RUN_FILES[name]);

export { writeFileAtomic, writeJsonAtomic } from './atomic-write.js';

/** Filesystems that are not for files: a run folder there is a mistake, and recursive mkdir on procfs never ends. */
const VIRTUAL_FS = new Map<number, string>([
  [0x9fa0, 'procfs'],
  [0x62656572, 'sysfs'],
  [0x64626720, 'debugfs'],
  [0x1cd1, 'devpts'],
]);

/**
 * Makes `<reportsDir>/<runId>`, one level at a time from the nearest folder that exists, so that a file in the way,
 * a read-only or virtual filesystem (/proc, /sys) or a missing permission is one clear error — never a stack trace,
 * never a recursive mkdir spinning on /proc.
 */
export function makeRunDir(reportsDir: string, runId: string, flag = '--reports-dir'): string {
  const target = resolve(reportsDir, runId);
  const missing: string[] = [];
  let at = target;
  for (;;) {
    let st: Stats | undefined;
    try {
      st = statSync(at);
    } catch {
      st = undefined;
    }
    if (st) {
      if (!st.isDirectory()) throw badInput(`${flag}: ${at} is not a folder (expected a folder to hold run folders)`);
      const fs = VIRTUAL_FS.get(Number(statfsSync(at).type));
      if (fs) throw badInput(`${flag}: ${at} is on ${fs}, a virtual filesystem; choose a folder on a real disk`);
      break;
    }
    missing.unshift(at);
    const parent = dirname(at);
    if (parent === at) break;
    at = parent;
  }
  for (const dir of missing) {
    try {
      mkdirSync(dir);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') continue;
      throw badInput(`${flag}: cannot create ${dir} (${code ?? (e as Error).message}); choose a folder this user can write`, e);
    }
  }
  try {
    accessSync(target, constants.W_OK);
  } catch (e) {
    throw badInput(`${flag}: ${target} is not writable by this user; choose a folder this user can write`, e);
  }
  return target;
}
