// The compact table printed to stdout at the end of a run or `fleetload verify`.
import { formatNumber } from '../verify/format.js';
import type { ObjectiveResult, Report } from '../verify/report-types.js';

const MARK: Record<ObjectiveResult['status'], string> = { pass: 'PASS', warn: 'WARN', fail: 'FAIL', 'no-data': 'NODATA', 'report-only': 'INFO' };

export function formatTable(report: Report): string {
  const rows = report.objectives.map((o) => [
    MARK[o.status] + (o.key ? '*' : ''),
    o.id,
    o.value === null ? 'no data' : `${formatNumber(o.value)} ${o.unit}`,
    o.target === '(none)' ? '' : o.target,
    o.status === 'pass' || o.status === 'report-only' ? '' : truncate(o.why, 90),
  ]);
  const head = ['STATUS', 'OBJECTIVE', 'VALUE', 'TARGET', 'WHY'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd();
  const out = [line(head), ...rows.map(line)];
  out.push('');
  out.push(`verdict: ${report.verdict.toUpperCase()}  score ${formatNumber(report.score)}/100 (pass >= ${report.slo.total.pass}, warn >= ${report.slo.total.warning})  run ${report.runId}  window ${formatNumber(report.window.durationSeconds)} s`);
  for (const r of report.reasons) out.push(`  - ${r}`);
  if (report.objectives.some((o) => o.key)) out.push('  (* = key objective: failing it fails the run)');
  return out.join('\n');
}

const truncate = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);
