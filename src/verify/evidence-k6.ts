// k6 end-of-test summary evidence (the JSON handleSummary writes, or --summary-export output).
// Values are exact over the whole test; time trends are in milliseconds.
import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { invalidRun } from '../core/errors.js';
import { evalFormula, type Formula, type Outcome } from './formula.js';

export type K6Summary = { data: unknown } | { missing: string };

/** Reads the summary named in the manifest. Absent -> every k6 objective has no data (reason given). */
export function loadK6Summary(runDir: string, summaryFile: string | undefined): K6Summary {
  if (!summaryFile) return { missing: 'the run has no k6 summary file (manifest k6.summaryFile)' };
  const file = isAbsolute(summaryFile) ? summaryFile : join(runDir, summaryFile);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return { missing: `cannot read the k6 summary ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` };
  }
  try {
    return { data: JSON.parse(text) as unknown };
  } catch (e) {
    throw invalidRun(`the k6 summary ${file} is not valid JSON (k6 did not finish writing it?): ${(e as Error).message}`, e);
  }
}

/** Follows a path like metrics.fleet_ack_latency.values.p(95). Falls back to the --summary-export shape (no "values"). */
export function k6Path(data: unknown, segments: string[]): Outcome {
  const walk = (segs: string[]): unknown => {
    let cur: unknown = data;
    for (const s of segs) {
      if (cur === null || typeof cur !== 'object') return undefined;
      cur = Array.isArray(cur) ? cur[Number(s)] : (cur as Record<string, unknown>)[s];
    }
    return cur;
  };
  let v = walk(segments);
  const vi = segments.indexOf('values');
  if (v === undefined && vi > 0) v = walk([...segments.slice(0, vi), ...segments.slice(vi + 1)]);
  const text = segments.join('.');
  if (v === undefined || v === null) {
    const metric = segments[0] === 'metrics' && segments[1] ? ` (metric ${segments[1]} has no samples, or the stat is not in summaryTrendStats)` : '';
    return { value: null, reason: `${text} is not in the k6 summary${metric}` };
  }
  if (typeof v !== 'number') return { value: null, reason: `${text} is ${typeof v}, not a number` };
  return { value: v };
}

export function evalK6(summary: K6Summary, f: Formula): Outcome {
  if ('missing' in summary) return { value: null, reason: summary.missing };
  return evalFormula(f, (node) => (node.t === 'path' ? k6Path(summary.data, node.segments) : { value: null, reason: 'not a path' }));
}
