// Two runs side by side: every objective and headline metric with its delta, flagged when it moves beyond a
// noise band (default ±10 %). Pure comparison + HTML/Markdown renderers + a small file-writing hook.
import { existsSync, readFileSync } from 'node:fs';
import type { CapacityAnalysis } from './capacity/index.js';
import { analyzeCapacity } from './capacity/index.js';
import { histogramIncrease, histogramQuantile, sumIncrease } from './capacity/prommath.js';
import type { EngineSummary, LatencyFigures } from '../core/engine-summary.js';
import { loadRunFolder, type OldK6Summary, type RunFolder } from './capacity/run-folder.js';
import { fmt, parseCriteria } from './capacity/steps.js';
import { esc } from './html/page.js';
import { runFile, writeFileAtomic } from '../core/run-folder.js';

export const DEFAULT_NOISE_PCT = 10;

export type Better = 'lower' | 'higher' | 'neutral';
export type Flag = 'same' | 'within-noise' | 'improved' | 'regressed' | 'changed' | 'new' | 'gone' | 'no-data';

export interface CompareRow {
  group: 'objective' | 'metric' | 'capacity';
  id: string;
  label: string;
  unit: string;
  a: number | null;
  b: number | null;
  delta: number | null;
  /** relative change in percent of A; null when A is 0 or missing */
  deltaPct: number | null;
  better: Better;
  flag: Flag;
  statusA?: string;
  statusB?: string;
}

export interface Comparison {
  a: { runId: string; profile: string; verdict: string; startedAt: string };
  b: { runId: string; profile: string; verdict: string; startedAt: string };
  noisePct: number;
  rows: CompareRow[];
  regressions: number;
  improvements: number;
  notes: string[];
}

/** Direction from an objective's pass criterion: "< x" → lower is better, "> x" → higher, "== x" → neutral. */
export function betterFromTarget(target: string | undefined): Better {
  const c = parseCriteria(target);
  if (!c || c.length === 0) return 'neutral';
  if (c.every((x) => x.op === '<' || x.op === '<=')) return 'lower';
  if (c.every((x) => x.op === '>' || x.op === '>=')) return 'higher';
  return 'neutral';
}

export function classify(a: number | null, b: number | null, better: Better, noisePct: number): Pick<CompareRow, 'delta' | 'deltaPct' | 'flag'> {
  if (a === null && b === null) return { delta: null, deltaPct: null, flag: 'no-data' };
  if (a === null) return { delta: null, deltaPct: null, flag: 'new' };
  if (b === null) return { delta: null, deltaPct: null, flag: 'gone' };
  const delta = b - a;
  if (delta === 0) return { delta, deltaPct: 0, flag: 'same' };
  const deltaPct = a !== 0 ? (delta / Math.abs(a)) * 100 : null;
  // from zero, any change is beyond the band
  const beyond = deltaPct === null || Math.abs(deltaPct) > noisePct;
  if (!beyond) return { delta, deltaPct, flag: 'within-noise' };
  if (better === 'neutral') return { delta, deltaPct, flag: 'changed' };
  const up = delta > 0;
  return { delta, deltaPct, flag: (better === 'lower') === up ? 'regressed' : 'improved' };
}

interface Headline {
  id: string;
  label: string;
  unit: string;
  better: Better;
  get: (r: RunFolder, cap?: CapacityAnalysis) => number | undefined;
}

/** The load generator's whole-run figures a comparison shows (ms and counts), from the engine summary. */
interface LoadFigures {
  ackMs?: Partial<LatencyFigures>;
  recordMs?: Partial<LatencyFigures>;
  loginMs?: Partial<LatencyFigures>;
  recordsSent?: number;
  recordsAcked?: number;
  recordsResent?: number;
  recordsLost?: number;
  deviceErrors?: number;
  /** present only when the run had API clients */
  api?: { requests: number; errors: number; latencyMs?: Partial<LatencyFigures> };
  /** present only when the run had WebSocket clients */
  ws?: { expected: number; missed: number; freshnessMs?: Partial<LatencyFigures> };
}

const total = (o: Record<string, number> | undefined) => Object.values(o ?? {}).reduce((a, b) => a + b, 0);

function engineFigures(e: EngineSummary): LoadFigures {
  return {
    ackMs: e.ackLatencyMs,
    recordMs: e.recordLatencyMs,
    loginMs: e.loginLatencyMs,
    recordsSent: e.records.sent,
    recordsAcked: e.records.acked,
    recordsResent: e.records.resent,
    recordsLost: e.records.lost,
    deviceErrors: total(e.errors),
    ...(e.api.configured ? { api: { requests: e.api.requests, errors: total(e.api.errors), latencyMs: e.api.latencyMs } } : {}),
    ...(e.ws.configured ? { ws: { expected: e.ws.expected, missed: e.ws.missed, freshnessMs: e.ws.freshnessMs } } : {}),
  };
}

/** A baseline run folder written by the k6 generator before the engine: the same figures from its summary. */
function oldK6Figures(s: OldK6Summary): LoadFigures {
  const v = (metric: string, stat: string) => s.metrics?.[metric]?.values?.[stat];
  const trend = (metric: string): Partial<LatencyFigures> | undefined =>
    s.metrics?.[metric] ? { p50: v(metric, 'med') ?? v(metric, 'p(50)'), p95: v(metric, 'p(95)'), p99: v(metric, 'p(99)'), max: v(metric, 'max') } : undefined;
  const count = (metric: string) => v(metric, 'count') ?? 0; // k6 left out a counter that never counted
  const apiRequests = v('fleet_api_requests', 'count');
  const wsExpected = v('fleet_ws_records_expected', 'count');
  return {
    ackMs: trend('fleet_ack_latency'),
    loginMs: trend('fleet_login_latency'),
    recordsSent: v('fleet_records_sent', 'count'),
    recordsAcked: v('fleet_records_acked', 'count'),
    recordsResent: count('fleet_records_resent'),
    recordsLost: count('fleet_records_lost'),
    deviceErrors: count('fleet_device_errors'),
    ...(apiRequests !== undefined ? { api: { requests: apiRequests, errors: count('fleet_api_errors'), latencyMs: trend('http_req_duration') } } : {}),
    ...(wsExpected !== undefined ? { ws: { expected: wsExpected, missed: count('fleet_ws_records_missed'), freshnessMs: trend('fleet_ws_freshness') } } : {}),
  };
}

function loadFigures(r: RunFolder): LoadFigures | undefined {
  if (r.engineSummary) return engineFigures(r.engineSummary);
  return r.oldK6Summary ? oldK6Figures(r.oldK6Summary) : undefined;
}

const fig = <T>(get: (f: LoadFigures) => T | undefined) => (r: RunFolder): T | undefined => {
  const f = loadFigures(r);
  return f ? get(f) : undefined;
};

function wholeRun(r: RunFolder, id: string, q: number): number | undefined {
  const f = r.series;
  if (!f) return undefined;
  const s = f.queries.find((x) => x.id === id)?.series ?? [];
  const t0 = Date.parse(r.manifest.startedAt) / 1000;
  const t1 = Date.parse(r.manifest.endedAt) / 1000;
  return histogramQuantile(q, histogramIncrease(s, t0, t1));
}

function storedRate(r: RunFolder): number | undefined {
  const f = r.series;
  if (!f) return undefined;
  const t0 = Date.parse(r.manifest.startedAt) / 1000;
  const t1 = Date.parse(r.manifest.endedAt) / 1000;
  const inc = sumIncrease(f.queries.find((x) => x.id === 'platform_inserted')?.series ?? [], t0, t1);
  return inc === undefined || t1 <= t0 ? undefined : inc / (t1 - t0);
}

const HEADLINES: Headline[] = [
  { id: 'engine.ack_p50', label: 'ACK latency p50 (engine)', unit: 'ms', better: 'lower', get: fig((f) => f.ackMs?.p50) },
  { id: 'engine.ack_p95', label: 'ACK latency p95 (engine)', unit: 'ms', better: 'lower', get: fig((f) => f.ackMs?.p95) },
  { id: 'engine.ack_p99', label: 'ACK latency p99 (engine)', unit: 'ms', better: 'lower', get: fig((f) => f.ackMs?.p99) },
  { id: 'engine.ack_max', label: 'ACK latency max (engine)', unit: 'ms', better: 'lower', get: fig((f) => f.ackMs?.max) },
  { id: 'engine.record_p95', label: 'record delivery latency p95 (engine)', unit: 'ms', better: 'lower', get: fig((f) => f.recordMs?.p95) },
  { id: 'engine.record_p99', label: 'record delivery latency p99 (engine)', unit: 'ms', better: 'lower', get: fig((f) => f.recordMs?.p99) },
  { id: 'engine.login_p95', label: 'login latency p95 (engine)', unit: 'ms', better: 'lower', get: fig((f) => f.loginMs?.p95) },
  { id: 'engine.records_sent', label: 'records sent', unit: 'records', better: 'neutral', get: fig((f) => f.recordsSent) },
  { id: 'engine.records_acked', label: 'records ACKed', unit: 'records', better: 'neutral', get: fig((f) => f.recordsAcked) },
  { id: 'engine.records_resent', label: 'records resent', unit: 'records', better: 'lower', get: fig((f) => f.recordsResent) },
  { id: 'engine.records_lost', label: 'records lost (device buffer full)', unit: 'records', better: 'lower', get: fig((f) => f.recordsLost) },
  { id: 'engine.device_errors', label: 'device errors', unit: 'errors', better: 'lower', get: fig((f) => f.deviceErrors) },
  { id: 'engine.api_requests', label: 'API requests (client)', unit: 'requests', better: 'neutral', get: fig((f) => f.api?.requests) },
  { id: 'engine.api_p95', label: 'API latency p95 (client)', unit: 'ms', better: 'lower', get: fig((f) => f.api?.latencyMs?.p95) },
  { id: 'engine.api_p99', label: 'API latency p99 (client)', unit: 'ms', better: 'lower', get: fig((f) => f.api?.latencyMs?.p99) },
  { id: 'engine.api_error_ratio', label: 'API error ratio (client)', unit: 'ratio', better: 'lower', get: fig((f) => (f.api && f.api.requests > 0 ? f.api.errors / f.api.requests : undefined)) },
  { id: 'engine.ws_freshness_p95', label: 'WebSocket freshness p95 (client)', unit: 'ms', better: 'lower', get: fig((f) => f.ws?.freshnessMs?.p95) },
  { id: 'engine.ws_missed_ratio', label: 'WebSocket records missed (client)', unit: 'ratio', better: 'lower', get: fig((f) => (f.ws && f.ws.expected > 0 ? f.ws.missed / f.ws.expected : undefined)) },
  { id: 'platform.stored_rate', label: 'stored records/s (whole window)', unit: 'records/s', better: 'higher', get: storedRate },
  { id: 'platform.ack_p95', label: 'platform ACK p95', unit: 's', better: 'lower', get: (r) => wholeRun(r, 'ack_duration', 0.95) },
  { id: 'platform.batch_p95', label: 'batch INSERT p95', unit: 's', better: 'lower', get: (r) => wholeRun(r, 'batch_duration', 0.95) },
  { id: 'platform.ingest_lag_p95', label: 'ingest lag p95', unit: 's', better: 'lower', get: (r) => wholeRun(r, 'ingest_lag', 0.95) },
  { id: 'db.bytes_per_row', label: 'bytes per stored record', unit: 'B', better: 'lower', get: (r) => r.dbStats?.bytesPerRow?.value },
  { id: 'capacity.devices', label: 'capacity (every SLO held)', unit: 'devices', better: 'higher', get: (_r, c) => (c?.stepped ? (c.capacity.devices ?? undefined) : undefined) },
  { id: 'capacity.knee', label: 'knee of ACK p95 (engine)', unit: 'devices', better: 'higher', get: (_r, c) => (c?.stepped ? c.knee?.x : undefined) },
  { id: 'capacity.usl_nstar', label: 'USL peak N*', unit: 'devices', better: 'higher', get: (_r, c) => (c?.stepped ? (c.usl?.nStar ?? undefined) : undefined) },
  { id: 'capacity.usl_xstar', label: 'USL X(N*)', unit: 'records/s', better: 'higher', get: (_r, c) => (c?.stepped ? (c.usl?.xStar ?? undefined) : undefined) },
];

function capacityOf(r: RunFolder): CapacityAnalysis | undefined {
  const file = runFile(r.dir, 'capacityJson');
  if (existsSync(file)) {
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as CapacityAnalysis;
    } catch {
      // fall through: recompute
    }
  }
  return r.series ? analyzeCapacity({ manifest: r.manifest, report: r.report, series: r.series, dbStats: r.dbStats }) : undefined;
}

export function compareRuns(a: RunFolder, b: RunFolder, o: { noisePct?: number } = {}): Comparison {
  const noisePct = o.noisePct ?? DEFAULT_NOISE_PCT;
  const rows: CompareRow[] = [];
  const notes: string[] = [];
  const oa = a.report?.objectives ?? [];
  const ob = b.report?.objectives ?? [];
  const ids = [...new Set([...oa.map((x) => x.id), ...ob.map((x) => x.id)])];
  for (const id of ids) {
    const xa = oa.find((x) => x.id === id);
    const xb = ob.find((x) => x.id === id);
    const better = betterFromTarget(xb?.target ?? xa?.target);
    const va = xa?.value ?? null;
    const vb = xb?.value ?? null;
    rows.push({
      group: 'objective',
      id,
      label: (xb ?? xa)?.description ?? id,
      unit: (xb ?? xa)?.unit ?? '',
      a: va,
      b: vb,
      better,
      ...classify(va, vb, better, noisePct),
      ...(xa ? { statusA: xa.status } : {}),
      ...(xb ? { statusB: xb.status } : {}),
    });
  }
  const ca = capacityOf(a);
  const cb = capacityOf(b);
  for (const h of HEADLINES) {
    const va = h.get(a, ca) ?? null;
    const vb = h.get(b, cb) ?? null;
    if (va === null && vb === null) continue;
    rows.push({ group: h.id.startsWith('capacity.') ? 'capacity' : 'metric', id: h.id, label: h.label, unit: h.unit, a: va, b: vb, better: h.better, ...classify(va, vb, h.better, noisePct) });
  }
  // an objective whose status got worse is a regression even inside the noise band
  const rank: Record<string, number> = { pass: 0, 'report-only': 0, warn: 1, 'no-data': 1, fail: 2 };
  for (const r of rows) {
    if (r.group !== 'objective' || !r.statusA || !r.statusB) continue;
    if ((rank[r.statusB] ?? 0) > (rank[r.statusA] ?? 0)) r.flag = 'regressed';
  }
  if (a.manifest.profile !== b.manifest.profile) notes.push(`different profiles (${a.manifest.profile} vs ${b.manifest.profile}): deltas compare different loads`);
  if (a.manifest.devices !== b.manifest.devices) notes.push(`different device counts (${a.manifest.devices} vs ${b.manifest.devices})`);
  return {
    a: { runId: a.manifest.runId, profile: a.manifest.profile, verdict: a.report?.verdict ?? 'unknown', startedAt: a.manifest.startedAt },
    b: { runId: b.manifest.runId, profile: b.manifest.profile, verdict: b.report?.verdict ?? 'unknown', startedAt: b.manifest.startedAt },
    noisePct,
    rows,
    regressions: rows.filter((r) => r.flag === 'regressed').length,
    improvements: rows.filter((r) => r.flag === 'improved').length,
    notes,
  };
}

const FLAG_MARK: Record<Flag, string> = {
  same: '=',
  'within-noise': '≈',
  improved: '✅ improved',
  regressed: '❌ regressed',
  changed: '⚠️ changed',
  new: '➕ new',
  gone: '➖ gone',
  'no-data': '–',
};

const pctText = (p: number | null) => (p === null ? '–' : `${p > 0 ? '+' : ''}${p.toFixed(1)} %`);
const cellMd = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function renderCompareMarkdown(c: Comparison): string {
  const out: string[] = [];
  out.push(`## Comparison: \`${c.a.runId}\` → \`${c.b.runId}\``, '');
  out.push(
    `Verdict ${c.a.verdict} → **${c.b.verdict}** · noise band ±${c.noisePct} % · **${c.regressions} regression${c.regressions === 1 ? '' : 's'}**, ${c.improvements} improvement${c.improvements === 1 ? '' : 's'}`,
    '',
  );
  for (const n of c.notes) out.push(`> ${n}`, '');
  for (const group of ['objective', 'metric', 'capacity'] as const) {
    const rows = c.rows.filter((r) => r.group === group);
    if (!rows.length) continue;
    out.push(`### ${group === 'objective' ? 'Objectives' : group === 'metric' ? 'Headline metrics' : 'Capacity'}`, '');
    out.push('| | A | B | Δ | Δ % | |', '|---|---:|---:|---:|---:|---|');
    for (const r of rows) {
      const st = r.statusA || r.statusB ? ` (${r.statusA ?? '–'} → ${r.statusB ?? '–'})` : '';
      out.push(`| ${cellMd(group === 'objective' ? r.id : r.label)} | ${fmt(r.a)} | ${fmt(r.b)} ${cellMd(r.unit)} | ${fmt(r.delta)} | ${pctText(r.deltaPct)} | ${FLAG_MARK[r.flag]}${st} |`);
    }
    out.push('');
  }
  return `${out.join('\n')}\n`;
}

function renderCompareHtml(c: Comparison): string {
  const cls = (f: Flag) => (f === 'regressed' ? 'bad' : f === 'improved' ? 'good' : f === 'changed' || f === 'new' || f === 'gone' ? 'chg' : '');
  const table = (group: CompareRow['group'], title: string) => {
    const rows = c.rows.filter((r) => r.group === group);
    if (!rows.length) return '';
    return `<h2>${esc(title)}</h2><table><thead><tr><th></th><th>A</th><th>B</th><th>Δ</th><th>Δ %</th><th>flag</th></tr></thead><tbody>${rows
      .map(
        (r) =>
          `<tr class="${cls(r.flag)}" data-id="${esc(r.id)}" data-flag="${r.flag}"><td>${esc(group === 'objective' ? r.id : r.label)}${group === 'objective' ? `<div class="d">${esc(r.label)}</div>` : ''}</td><td class="n">${esc(fmt(r.a))}</td><td class="n">${esc(fmt(r.b))} ${esc(r.unit)}</td><td class="n">${esc(fmt(r.delta))}</td><td class="n">${esc(pctText(r.deltaPct))}</td><td>${esc(FLAG_MARK[r.flag])}${r.statusA || r.statusB ? ` <span class="d">${esc(r.statusA ?? '–')} → ${esc(r.statusB ?? '–')}</span>` : ''}</td></tr>`,
      )
      .join('')}</tbody></table>`;
  };
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>fleetload compare ${esc(c.a.runId)} → ${esc(c.b.runId)}</title>
<style>body{font:14px/1.45 system-ui,sans-serif;max-width:1100px;margin:0 auto;padding:16px 24px;color:#222}table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #eee;padding:5px 8px;text-align:left;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}.d{color:#666;font-size:12px}tr.bad{background:#fde8e7}tr.good{background:#e6f4ea}tr.chg{background:#fff4e0}
.sum{padding:12px;border-radius:6px;background:${c.regressions ? '#c5221f' : '#1e8e3e'};color:#fff;font-weight:600}</style></head><body>
<h1>Comparison <code>${esc(c.a.runId)}</code> (A) → <code>${esc(c.b.runId)}</code> (B)</h1>
<div class="sum" id="summary" data-regressions="${c.regressions}">${c.regressions} regression${c.regressions === 1 ? '' : 's'}, ${c.improvements} improvement${c.improvements === 1 ? '' : 's'} beyond ±${c.noisePct} % · verdict ${esc(c.a.verdict)} → ${esc(c.b.verdict)}</div>
${c.notes.map((n) => `<p class="d">${esc(n)}</p>`).join('')}
${table('objective', 'Objectives')}${table('metric', 'Headline metrics')}${table('capacity', 'Capacity')}
<p class="d">A: ${esc(c.a.profile)}, started ${esc(c.a.startedAt)} · B: ${esc(c.b.profile)}, started ${esc(c.b.startedAt)}</p>
</body></html>
`;
}

const put = writeFileAtomic;

export function writeComparison(outDir: string, c: Comparison): { html: string; markdown: string; json: string } {
  return {
    html: put(runFile(outDir, 'compareHtml'), renderCompareHtml(c)),
    markdown: put(runFile(outDir, 'compareMarkdown'), renderCompareMarkdown(c)),
    json: put(runFile(outDir, 'compareJson'), `${JSON.stringify(c, null, 2)}\n`),
  };
}

/**
 * The --baseline hook for run/verify: compares the finished run (B) with a baseline run folder (A) and
 * writes compare.html/.md/.json into the run folder. Returns the comparison (for a summary line).
 */
export function compareWithBaseline(runDir: string, baselineDir: string, o: { noisePct?: number } = {}): Comparison {
  const c = compareRuns(loadRunFolder(baselineDir), loadRunFolder(runDir), o);
  writeComparison(runDir, c);
  return c;
}
