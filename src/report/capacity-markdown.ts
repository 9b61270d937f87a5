// Markdown for the capacity analysis (GitHub job summary ready): a section the basic report.md can append.
import type { CapacityAnalysis } from './capacity/index.js';
import { fmt } from './capacity/steps.js';

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function renderCapacityMarkdown(a: CapacityAnalysis): string {
  const out: string[] = [];
  out.push('## Capacity', '');
  if (!a.stepped) {
    out.push('_Not a stepped run: capacity, knee and USL need stages with different device counts._', '');
  } else {
    const pct = (v: number | null) => (v === null ? '–' : `${(v * 100).toFixed(0)} %`);
    out.push('| figure | value |', '|---|---|');
    out.push(`| capacity (every SLO held) | **${a.capacity.devices ?? 'none'}** devices |`);
    out.push(`| first failing load | ${a.capacity.firstFailingDevices ?? 'none tested'}${a.capacity.failedObjectives.length ? ` (${a.capacity.failedObjectives.join(', ')})` : ''} |`);
    out.push(`| knee of ACK p95 | ${a.knee ? `${a.knee.x} devices (${a.knee.method})` : 'none found'} |`);
    if (a.usl) {
      out.push(`| USL σ / κ / λ | ${a.usl.sigma.toPrecision(3)} / ${a.usl.kappa.toPrecision(3)} / ${a.usl.lambda.toPrecision(3)} (R² ${a.usl.r2.toFixed(3)}) |`);
      out.push(`| USL peak N* / X(N*) | ${a.usl.nStar === null ? 'none (κ ≈ 0)' : Math.round(a.usl.nStar)} / ${a.usl.xStar === null ? 'unbounded' : `${fmt(a.usl.xStar)} records/s`} |`);
    }
    if (a.headroom) out.push(`| headroom vs ${a.headroom.plannedDevices} planned | ${pct(a.headroom.ratio)} |`);
    out.push(`| first resource to saturate | ${a.saturation.length ? a.saturation.map((s) => `${s.resource} at ${s.devices} (${cell(s.evidence)})`).join('; ') : 'none within the tested range'} |`);
    out.push('', cell(a.capacity.explanation), '');
    for (const n of [...a.capacity.notes, ...(a.usl?.warnings ?? [])]) out.push(`> ${n}`, '');
    out.push('| step | devices | sent/s | stored/s | ACK p95 ms | batch p95 ms | lag p95 s | SLOs |', '|---|---:|---:|---:|---:|---:|---:|---|');
    for (const s of [...a.steps].sort((x, y) => x.metrics.devices - y.metrics.devices)) {
      const m = s.metrics;
      const missed = s.verdict.checks.filter((c) => c.status === 'fail' || c.status === 'warn').map((c) => c.objective);
      out.push(
        `| ${cell(m.name)} | ${m.devices} | ${fmt(m.sentRate)} | ${fmt(m.storedRate)} | ${fmt(m.ackP95 === undefined ? undefined : m.ackP95 * 1000)} | ${fmt(m.batchP95 === undefined ? undefined : m.batchP95 * 1000)} | ${fmt(m.ingestLagP95)} | ${s.verdict.status}${missed.length ? ` (${missed.join(', ')})` : ''} |`,
      );
    }
    out.push('');
  }
  if (a.growth) {
    const g = a.growth;
    out.push('### Database growth', '');
    out.push(
      `${fmt(g.bytesPerRow)} B per record (${g.bytesPerRowBasis}). At ${g.plannedDevices} devices reporting every ${fmt(g.reportIntervalSec)} s: ` +
        `**${fmt(g.rowsPerDay)} rows/day**, **${fmt(g.gbPerMonth)} GB/month**, monthly partition ≈ ${fmt(g.partitionGb)} GB, ${fmt(g.gbPerYear)} GB/year.`,
      '',
    );
  }
  return `${out.join('\n')}\n`;
}
