// handleSummary: the k6 end-of-test data as JSON (-e FLEET_SUMMARY_FILE=path) and, on stdout, each SLO-derived
// threshold with the objective it stands for and whether it held. k6's own text summary needs a remote jslib import,
// which a self-contained bundle avoids.
import { config, settings } from './config';
import { METRIC } from './metric-names';

interface SummaryMetric {
  values?: Record<string, number>;
  thresholds?: Record<string, { ok: boolean }>;
}

export interface SummaryData {
  metrics?: Record<string, SummaryMetric>;
}

function count(data: SummaryData, name: string): number {
  return data.metrics?.[name]?.values?.count ?? 0;
}

/** Plain-text lines: headline counts, then one line per threshold (objective, metric, expression, held or not). */
export function summaryText(data: SummaryData): string {
  const lines = [
    `fleetload k6 bundle: run ${config.runId}, profile ${settings.profile}, SLO ${settings.slo} (fleetload ${settings.fleetloadVersion}, xk6-tcp ${settings.xk6Tcp})`,
    `records sent ${count(data, METRIC.recordsSent)}, ACKed ${count(data, METRIC.recordsAcked)}, resent ${count(data, METRIC.recordsResent)}, unsent ${count(data, METRIC.recordsUnsent)}; device errors ${count(data, METRIC.deviceErrors)}`,
  ];
  for (const t of settings.thresholds) {
    const held = data.metrics?.[t.metric]?.thresholds;
    for (const e of t.expressions) {
      const state = held?.[e] === undefined ? 'not evaluated' : held[e].ok ? 'ok' : 'FAILED';
      lines.push(`  ${state.padEnd(13)} ${t.objective}: ${t.metric} ${e}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

export function handleSummary(data: SummaryData): Record<string, string> {
  const out: Record<string, string> = { stdout: summaryText(data) };
  const file = __ENV.FLEET_SUMMARY_FILE;
  if (file) out[file] = JSON.stringify(data);
  return out;
}
