// Engine summary evidence (<run>/engine-summary.json, src/core/engine-summary.ts). Values are exact over the whole
// run; latencies are milliseconds. A path that is not in the summary is *no data* — never 0: the engine writes
// every count (0 included), so an absent path is a renamed field or a latency without a sample.
import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { ENGINE_SUMMARY_FILE, ENGINE_SUMMARY_FORMAT } from '../core/engine-summary.js';
import { invalidRun } from '../core/errors.js';
import type { RunManifest } from '../core/manifest.js';
import { evalFormula, type Formula, type Outcome } from './formula.js';

export type EngineSummaryData = { data: unknown; file: string } | { missing: string };

/** Reads the summary the manifest names (engine.summaryFile). Absent -> every engine objective has no data. */
export function loadEngineSummary(runDir: string, manifest: Pick<RunManifest, 'engine'>): EngineSummaryData {
  if (!manifest.engine) return { missing: 'the run has no engine summary (run.json has no engine section; a k6-era run?)' };
  const name = manifest.engine.summaryFile || ENGINE_SUMMARY_FILE;
  const file = isAbsolute(name) ? name : join(runDir, name);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return { missing: `cannot read the engine summary ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` };
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw invalidRun(`the engine summary ${file} is not valid JSON (the engine did not finish writing it?): ${(e as Error).message}`, e);
  }
  const format = (data as { format?: unknown } | null)?.format;
  if (format !== ENGINE_SUMMARY_FORMAT) throw invalidRun(`${file} is not an engine summary (format ${JSON.stringify(format)}, expected "${ENGINE_SUMMARY_FORMAT}")`);
  return { data, file };
}

/** The raw value at a path (objects, booleans included), or undefined. */
export function enginePathRaw(data: unknown, segments: readonly string[]): unknown {
  let cur: unknown = data;
  for (const s of segments) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) return undefined;
    if (!Object.prototype.hasOwnProperty.call(cur, s)) return undefined;
    cur = (cur as Record<string, unknown>)[s];
  }
  return cur;
}

/** Follows a path like ackLatencyMs.p95 or api.errors.5xx to a number. */
export function enginePath(data: unknown, segments: readonly string[]): Outcome {
  const v = enginePathRaw(data, segments);
  const text = segments.join('.');
  if (v === undefined || v === null) {
    const latency = /Ms$/.test(segments[segments.length - 2] ?? '') || /Ms$/.test(segments[0] ?? '');
    return { value: null, reason: `${text} is not in the engine summary${latency ? ' (no sample was recorded)' : ' (a renamed or removed field?)'}` };
  }
  if (typeof v === 'boolean') return { value: v ? 1 : 0 };
  if (typeof v !== 'number') return { value: null, reason: `${text} is ${Array.isArray(v) ? 'a list' : typeof v}, not a number` };
  return { value: v };
}

export function evalEngine(summary: EngineSummaryData, f: Formula): Outcome {
  if ('missing' in summary) return { value: null, reason: summary.missing };
  return evalFormula(f, (node) => (node.t === 'path' ? enginePath(summary.data, node.segments) : { value: null, reason: 'not a path' }));
}

/** `appliesIf`: true/false when the path holds a boolean (or number), else the reason it is unknown. */
export function engineFlag(summary: EngineSummaryData, path: string): boolean | { unknown: string } {
  if ('missing' in summary) return { unknown: summary.missing };
  const v = enginePathRaw(summary.data, path.split('.'));
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  return { unknown: `${path} is not in the engine summary` };
}

/** Reasons the engine itself gave for not trusting the run (generator overloaded, engine errors). */
export function engineInvalidReasons(summary: EngineSummaryData): string[] {
  if ('missing' in summary) return [];
  const r = enginePathRaw(summary.data, ['generator', 'invalidReasons']);
  return Array.isArray(r) ? r.filter((x): x is string => typeof x === 'string') : [];
}
