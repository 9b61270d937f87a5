// report.md: the human-readable verdict, for a PR comment or a CI job summary.
import { formatNumber } from '../verify/format.js';
import type { ObjectiveResult, Report } from '../verify/report-types.js';
import type { RunManifest } from '../core/manifest.js';

const ICON: Record<string, string> = { pass: '✅', warn: '⚠️', fail: '❌', 'no-data': '❔', 'report-only': 'ℹ️', invalid: '🚫', error: '💥' };

/** Escapes text for a Markdown table cell. */
const cell = (s: string) => s.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
const value = (o: { value: number | null }, unit: string) => (o.value === null ? 'no data' : `${formatNumber(o.value)} ${unit}`);

export function renderMarkdown(report: Report, manifest?: RunManifest): string {
  const out: string[] = [];
  out.push(`# fleetload verdict: ${ICON[report.verdict] ?? ''} ${report.verdict.toUpperCase()} — score ${formatNumber(report.score)}/100`);
  out.push('');
  out.push(`Run \`${report.runId}\`, profile \`${report.profile}\`, window ${report.window.start} → ${report.window.end} (${formatNumber(report.window.durationSeconds)} s).`);
  if (manifest) out.push(`Devices: ${manifest.devices}; target ${manifest.target.tcp}${manifest.target.embedded ? ' (embedded stack)' : ''}.`);
  out.push(`Thresholds: pass ≥ ${report.slo.total.pass}, warning ≥ ${report.slo.total.warning}. SLO file: \`${report.slo.file}\`.`);
  if (report.baseline) out.push(`Baseline: run \`${report.baseline.runId}\` (${report.baseline.generatedAt}).`);
  out.push('');
  for (const r of report.reasons) out.push(`- ${cell(r)}`);
  out.push('');
  if (report.objectives.length > 0) {
    out.push('| | Objective | Value | Target | Warning | Score | Why |');
    out.push('|---|---|---|---|---|---|---|');
    for (const o of report.objectives) out.push(row(o));
    out.push('');
    out.push('🔑 = key objective (failing it fails the run). Score column: points earned / weight; "—" = not scored.');
    const staged = report.objectives.filter((o) => o.stages && o.stages.length > 0);
    for (const o of staged) {
      out.push('');
      out.push(`### ${o.id} per stage`);
      out.push('');
      out.push('| Stage | Window | Value | Status | Why |');
      out.push('|---|---|---|---|---|');
      for (const s of o.stages!) out.push(`| ${cell(s.name)} | ${s.start} → ${s.end} | ${value(s, o.unit)} | ${ICON[s.status]} ${s.status} | ${cell(s.why)} |`);
    }
  }
  const versions = Object.entries(report.versions);
  if (versions.length > 0) {
    out.push('');
    out.push(`Versions: ${versions.map(([k, v]) => `${k} ${v}`).join(', ')}.`);
  }
  out.push('');
  out.push(`Generated ${report.generatedAt}.`);
  return `${out.join('\n')}\n`;
}

function row(o: ObjectiveResult): string {
  const scored = o.effect !== 'none';
  return `| ${ICON[o.status]} | ${o.key ? '🔑 ' : ''}**${cell(o.id)}**<br>${cell(o.description)} | ${value(o, cell(o.unit))}${o.samples !== undefined ? ` (n=${o.samples ?? 0})` : ''} | ${cell(o.target)} | ${cell(o.warning ?? '')} | ${scored ? `${formatNumber(o.score)}/${formatNumber(o.weight)}` : '—'} | ${cell(o.why)} |`;
}
