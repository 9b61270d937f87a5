// report.html: one self-contained page (inlined uPlot, inline data, a CSP that forbids every network
// request): verdict, objectives, capacity, charts over time with step boundaries, latency histogram, metadata.
import type { CapacityAnalysis } from '../capacity/index.js';
import type { RunFolder } from '../capacity/run-folder.js';
import { fmt } from '../capacity/steps.js';
import { uplotAssets } from './assets.js';
import { capacityCharts, latencyHistogram, stageBoundaries, timeCharts, type ChartSpec, type HistogramBar } from './charts.js';
import { CLIENT_SCRIPT } from './client.js';
import { RUN_FILES } from '../../core/run-folder.js';
import { VERDICT_TEXT } from '../../verify/format.js';

export const HTML_FILE = RUN_FILES.html;

export function esc(s: unknown): string {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

/** JSON safe inside a <script> element. */
function scriptJson(v: unknown): string {
  return JSON.stringify(v).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}


function chartBox(c: ChartSpec): string {
  return `<figure class="chart" data-chart="${esc(c.id)}" data-state="${c.empty ? 'no-data' : 'pending'}">
<figcaption>${esc(c.title)}</figcaption>
${c.empty ? `<p class="empty">${esc(c.empty)}</p>` : '<div class="plot"></div>'}
${c.note ? `<p class="note">${esc(c.note)}</p>` : ''}
</figure>`;
}

/** Hand-made SVG bar chart of a latency histogram (bucket bounds are uneven, so bars are equal-width, labelled). */
export function histogramSvg(bars: HistogramBar[]): string {
  if (bars.length === 0) return '';
  const W = 900;
  const H = 240;
  const pad = { l: 56, r: 10, t: 12, b: 54 };
  const max = Math.max(...bars.map((b) => b.count));
  const total = bars.reduce((a, b) => a + b.count, 0);
  const bw = (W - pad.l - pad.r) / bars.length;
  const lab = (v: number) => (v === Infinity ? '+Inf' : `${fmt(v * 1000)}ms`);
  const rects = bars
    .map((b, i) => {
      const h = max > 0 ? ((H - pad.t - pad.b) * b.count) / max : 0;
      const x = pad.l + i * bw;
      const y = H - pad.b - h;
      return `<rect x="${(x + 2).toFixed(1)}" y="${y.toFixed(1)}" width="${(bw - 4).toFixed(1)}" height="${h.toFixed(1)}" fill="#1f77b4"><title>${esc(`${lab(b.from)}–${lab(b.to)}: ${b.count} (${((100 * b.count) / (total || 1)).toFixed(1)} %)`)}</title></rect>
<text x="${(x + bw / 2).toFixed(1)}" y="${H - pad.b + 14}" font-size="10" text-anchor="middle">≤${esc(lab(b.to))}</text>
<text x="${(x + bw / 2).toFixed(1)}" y="${(y - 3).toFixed(1)}" font-size="10" text-anchor="middle">${b.count > 0 ? fmt(b.count) : ''}</text>`;
    })
    .join('\n');
  return `<svg class="histogram" viewBox="0 0 ${W} ${H}" width="100%" role="img" aria-label="latency histogram" xmlns="http://www.w3.org/2000/svg">
<line x1="${pad.l}" y1="${H - pad.b}" x2="${W - pad.r}" y2="${H - pad.b}" stroke="#333"/>
<text x="12" y="${pad.t + 10}" font-size="11">count</text>
<text x="${W / 2}" y="${H - 12}" font-size="11" text-anchor="middle">bucket upper bound (total ${fmt(total)} observations)</text>
${rects}
</svg>`;
}

function objectivesTable(rf: RunFolder): string {
  const r = rf.report;
  if (!r) return '<p class="empty">No report.json in this run folder: the run was not verified.</p>';
  const rows = r.objectives
    .map(
      (o) => `<tr class="st-${esc(o.status)}"><td><code>${esc(o.id)}</code>${o.key ? ' <span class="key" title="key objective: fails the run alone">key</span>' : ''}<div class="desc">${esc(o.description)}</div></td>
<td class="num">${o.value === null ? '–' : esc(fmt(o.value, 4))} ${esc(o.unit)}</td><td>${esc(o.target)}${o.warning ? `<div class="desc">warn ${esc(o.warning)}</div>` : ''}</td>
<td><span class="badge b-${esc(o.status)}">${esc(o.status)}</span></td><td>${esc(o.why)}</td></tr>`,
    )
    .join('\n');
  return `<table class="objectives"><thead><tr><th>objective</th><th>value</th><th>target</th><th>status</th><th>why</th></tr></thead><tbody>
${rows}
</tbody></table>`;
}

/** An adaptive search's path in the order it ran: device count, pass/fail, what failed (capacity-search.json). */
function searchPath(a: CapacityAnalysis): string {
  const s = a.search;
  if (!s) return '';
  const mark = (o: string) => (o === 'pass' ? '✓' : o === 'fail' ? '✗' : '⚠ generator');
  const steps = s.path.map((p) => `<li class="st-${p.outcome === 'pass' ? 'pass' : 'fail'}">${p.devices} ${mark(p.outcome)} <span class="desc">${esc(p.phase)}${p.ackP95Ms !== undefined ? `, ACK p95 ${fmt(p.ackP95Ms)} ms` : ''}${p.ackedRate !== undefined ? `, ${fmt(p.ackedRate)} records/s` : ''}${p.failed.length ? `, ${esc(p.failed.join(', '))}` : ''}${p.settled ? '' : ', not settled'}</span></li>`);
  const c = a.capacity;
  return `<h3>Search path</h3><ol class="search-path">${steps.join('')}</ol>
<p>bracket [${c.bracket?.pass ?? '–'}, ${c.bracket?.fail ?? '–'}]${c.recordsPerSecond !== null && c.recordsPerSecond !== undefined ? ` · ${fmt(c.recordsPerSecond)} records/s at capacity` : ''}${c.limitedBy ? ` · limited by ${esc(c.limitedBy)}` : ''}${c.generatorBound ? ' · <b>generator-bound: a lower bound, not the platform\'s capacity</b>' : ''} · stopped: ${esc(s.stop.explanation)}</p>`;
}

function capacitySection(a: CapacityAnalysis | undefined): string {
  if (!a) return '';
  const pct = (v: number | null | undefined) => (v === null || v === undefined ? '–' : `${(v * 100).toFixed(0)} %`);
  const stepRows = [...a.steps]
    .sort((x, y) => x.metrics.devices - y.metrics.devices)
    .map((s) => {
      const m = s.metrics;
      const missed = s.verdict.checks.filter((c) => c.status === 'fail' || c.status === 'warn');
      return `<tr class="st-${s.verdict.status}"><td>${esc(m.name)}</td><td class="num">${m.devices}</td><td class="num">${fmt(m.steadySeconds)} s</td>
<td class="num">${fmt(m.sentRate)}</td><td class="num">${fmt(m.storedRate)}</td><td class="num">${fmt(m.ackP95 === undefined ? undefined : m.ackP95 * 1000)}</td>
<td class="num">${fmt(m.batchP95 === undefined ? undefined : m.batchP95 * 1000)}</td><td class="num">${fmt(m.ingestLagP95)}</td><td class="num">${fmt(m.deviceErrorRatio)}</td>
<td class="num">${fmt(m.platformCpuCores)}</td><td><span class="badge b-${s.verdict.status}">${s.verdict.status}</span>${missed.length ? `<div class="desc">${esc(missed.map((c) => c.why).join('; '))}</div>` : ''}</td></tr>`;
    })
    .join('\n');
  const usl = a.usl
    ? `<table class="kv"><tr><th>σ (contention)</th><td>${a.usl.sigma.toPrecision(4)}</td></tr><tr><th>κ (coherency)</th><td>${a.usl.kappa.toPrecision(4)}</td></tr>
<tr><th>λ (records/s per device at N=1)</th><td>${a.usl.lambda.toPrecision(4)}</td></tr><tr><th>R²</th><td>${a.usl.r2.toFixed(4)}</td></tr>
<tr><th>predicted peak N*</th><td>${a.usl.nStar === null ? 'none (κ ≈ 0)' : Math.round(a.usl.nStar)}</td></tr><tr><th>X(N*)</th><td>${a.usl.xStar === null ? 'unbounded' : `${fmt(a.usl.xStar)} records/s`}</td></tr>
<tr><th>constraint</th><td>${esc(a.usl.constraint)}</td></tr><tr><th>throughput</th><td>${esc(a.usl.throughputMetric)}, ${a.usl.points} points</td></tr></table>
${a.usl.warnings.map((w) => `<p class="warnline">${esc(w)}</p>`).join('')}`
    : `<p class="empty">No USL fit: ${esc(a.uslSkipped ?? 'it needs throughput at three or more distinct device counts')}.</p>`;
  const g = a.growth;
  const growth = g
    ? `<table class="kv"><tr><th>bytes per record</th><td>${fmt(g.bytesPerRow)} B <div class="desc">${esc(g.bytesPerRowBasis)}</div></td></tr>
<tr><th>fleet × interval</th><td>${g.plannedDevices} devices every ${fmt(g.reportIntervalSec)} s <div class="desc">${esc(g.intervalSource)}</div></td></tr>
<tr><th>rows per day</th><td>${fmt(g.rowsPerDay)}</td></tr><tr><th>GB per month (30 d)</th><td>${fmt(g.gbPerMonth)}</td></tr>
<tr><th>monthly partition (31 d)</th><td>${fmt(g.partitionGb)} GB</td></tr><tr><th>GB per year</th><td>${fmt(g.gbPerYear)}</td></tr></table>
${g.notes.map((n) => `<p class="note">${esc(n)}</p>`).join('')}`
    : '<p class="empty">No database growth projection: db-stats.json is missing or has no rows.</p>';
  const sat = a.saturation.length
    ? `<ul>${a.saturation.map((s) => `<li><b>${esc(s.resource)}</b> at ${s.devices} devices (${esc(s.step)}): ${esc(s.evidence)}</li>`).join('')}</ul>`
    : '<p>No resource showed saturation within the tested range (database batch time, event-loop lag, CPU, connections).</p>';
  return `<section id="capacity"><h2>Capacity</h2>
<div class="figures">
<div class="fig"><div class="big">${a.capacity.devices ?? '–'}</div><div>devices at which every SLO held</div></div>
<div class="fig"><div class="big">${a.knee ? a.knee.x : '–'}</div><div>knee of ACK p95 (${a.knee ? esc(a.knee.method) : 'none found'})</div></div>
<div class="fig"><div class="big">${a.usl?.nStar ? Math.round(a.usl.nStar) : '–'}</div><div>USL predicted peak N*</div></div>
<div class="fig"><div class="big">${a.headroom ? pct(a.headroom.ratio) : '–'}</div><div>headroom${a.headroom ? ` vs ${a.headroom.plannedDevices} planned` : ' (no --planned-devices)'}</div></div>
</div>
<p>${esc(a.capacity.explanation)}</p>
${searchPath(a)}
${a.capacity.notes.map((n) => `<p class="note">${esc(n)}</p>`).join('')}
${a.headroom ? `<p>${esc(a.headroom.explanation)}</p>` : ''}
${a.knee ? `<p>${esc(a.knee.explanation)}${a.kneeCrossCheck ? ` Cross-check (${esc(a.kneeCrossCheck.method)}): ${a.kneeCrossCheck.x}.` : ''}</p>` : `<p>${esc(a.kneeCheck?.explanation ?? 'No knee in the latency curve within the tested range.')}</p>`}
<h3>Steps (steady state: the first ${Math.round(a.settle.fraction * 100)} % of each step, at most ${a.settle.maxSeconds} s, is dropped)</h3>
<table class="steps"><thead><tr><th>step</th><th>devices</th><th>steady</th><th>sent/s</th><th>stored/s</th><th>ACK p95 ms</th><th>batch p95 ms</th><th>lag p95 s</th><th>error ratio</th><th>CPU cores</th><th>SLOs</th></tr></thead>
<tbody>${stepRows}</tbody></table>
<h3>First resource to saturate</h3>${sat}
<h3>Universal Scalability Law</h3>${usl}
<h3>Database growth</h3>${growth}
${a.notes.map((n) => `<p class="note">${esc(n)}</p>`).join('')}
<div class="charts" id="capacity-charts">${capacityCharts(a).map(chartBox).join('\n')}</div>
</section>`;
}

function metadata(rf: RunFolder): string {
  const m = rf.manifest;
  const rows: Array<[string, string]> = [
    ['run id', m.runId],
    ['profile', m.profile],
    ['seed', String(m.seed)],
    ['window', `${m.startedAt} → ${m.endedAt}`],
    ['devices', String(m.devices)],
    ['stages', m.stages.map((s) => `${s.name}: ${s.devices} devices ${s.start} → ${s.end}`).join('\n')],
    ['target', `tcp ${m.target?.tcp ?? '?'}${m.target?.http ? `, http ${m.target.http}` : ''}${m.target?.ws ? `, ws ${m.target.ws}` : ''}${m.target?.embedded ? ' (embedded stack)' : ''}`],
    ['prometheus', m.prometheus?.url ?? '–'],
    ...(m.postgres ? ([['postgres', m.postgres.url]] as Array<[string, string]>) : []),
    ...(m.engine
      ? ([['engine exit code', String(m.engine.exitCode)], ['engine summary', m.engine.summaryFile]] as Array<[string, string]>)
      : ([['load generator exit code', String(m.k6?.exitCode ?? '–')]] as Array<[string, string]>)),
    ...Object.entries(m.versions ?? {}).map(([k, v]): [string, string] => [`version: ${k}`, v]),
    ...Object.entries(m.generator ?? {}).map(([k, v]): [string, string] => [`generator: ${k}`, String(v)]),
    ['time series', rf.series ? `${rf.series.queries.length} queries, step ${rf.series.stepSeconds} s, fetched ${rf.series.fetchedAt} from ${rf.series.source}` : 'none stored (series.json missing)'],
    ['report generated', new Date().toISOString()],
  ];
  return `<table class="kv meta">${rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v).replace(/\n/g, '<br>')}</td></tr>`).join('')}</table>`;
}

export interface HtmlInput {
  run: RunFolder;
  capacity?: CapacityAnalysis;
  /** fixed "generated" time for reproducible output in tests */
}

export function renderHtml(input: HtmlInput): string {
  const rf = input.run;
  const m = rf.manifest;
  const verdict = rf.report?.verdict ?? 'error';
  const assets = uplotAssets();
  const settle = input.capacity?.settle ?? { fraction: 0.3, maxSeconds: 120 };
  const charts = rf.series ? timeCharts(rf.series, m.stages) : [];
  const capCharts = input.capacity && input.capacity.stepped ? capacityCharts(input.capacity) : [];
  const boundaries = m.stages.length > 1 ? stageBoundaries(m.stages, settle.fraction, settle.maxSeconds) : stageBoundaries(m.stages, 0, 0);
  const bars = latencyHistogram(rf.series);
  const data = { charts: [...capCharts, ...charts], boundaries };
  const reasons = rf.report?.reasons ?? [];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>fleetload ${esc(m.runId)} — ${esc(verdict)}</title>
<style>${assets.css}</style>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1180px;padding:16px 24px;color:#222}
h1{font-size:20px;margin:0 0 8px}h2{font-size:17px;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:28px}h3{font-size:15px;margin:18px 0 6px}
.banner{padding:14px 18px;border-radius:6px;font-size:18px;font-weight:600;color:#fff}.banner ul{font-size:13px;font-weight:400;margin:6px 0 0}
.v-pass{background:#1e8e3e}.v-warn{background:#c77700}.v-fail{background:#c5221f}.v-invalid{background:#6b3fa0}.v-error{background:#555}
table{border-collapse:collapse;width:100%;margin:8px 0}th,td{border-bottom:1px solid #eee;padding:5px 8px;text-align:left;vertical-align:top}th{background:#fafafa}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}.desc{color:#666;font-size:12px}
.badge{display:inline-block;padding:1px 7px;border-radius:9px;font-size:12px;color:#fff;background:#777}.b-pass{background:#1e8e3e}.b-warn{background:#c77700}.b-fail{background:#c5221f}.b-no-data{background:#999}.b-report-only{background:#5f6368}
.key{font-size:11px;color:#c5221f;border:1px solid #c5221f;border-radius:4px;padding:0 3px}
table.kv th{width:230px}.meta td{font-family:ui-monospace,monospace;font-size:12px}
.figures{display:flex;gap:12px;flex-wrap:wrap}.fig{flex:1;min-width:160px;border:1px solid #ddd;border-radius:6px;padding:10px}.big{font-size:26px;font-weight:700}
.chart{margin:14px 0;border:1px solid #eee;border-radius:6px;padding:8px}.chart figcaption{font-weight:600;margin-bottom:4px}
.empty{color:#777;font-style:italic;background:#f7f7f7;padding:12px;border-radius:4px}.note{color:#666;font-size:12px}.warnline{color:#a15c00}
</style></head>
<body>
<h1>fleetload run <code>${esc(m.runId)}</code> — profile ${esc(m.profile)}</h1>
<div class="banner v-${esc(verdict)}" id="verdict" data-verdict="${esc(verdict)}">${esc(VERDICT_TEXT[verdict] ?? verdict)}${rf.report ? ` · score ${esc(fmt(rf.report.score))}` : ''}
${reasons.length ? `<ul>${reasons.map((r) => `<li>${esc(r)}</li>`).join('')}</ul>` : ''}</div>
<section id="objectives"><h2>Objectives</h2>${objectivesTable(rf)}</section>
${input.capacity && input.capacity.stepped ? capacitySection(input.capacity) : ''}
<section id="timeline"><h2>Over time</h2>
<p class="note">Dashed vertical lines mark stage boundaries; the shaded part of each stage is the settling time left out of per-step figures.</p>
${rf.series ? charts.map(chartBox).join('\n') : '<p class="empty">No time series stored for this run (series.json is missing): charts cannot be drawn.</p>'}
</section>
<section id="histogram"><h2>ACK latency histogram (engine: ACK time − the packet's due time, whole run)</h2>
${bars.length ? histogramSvg(bars) : '<p class="empty">No data in this run: the engine\'s ACK latency histogram (fleetload_ack_latency_seconds) recorded nothing.</p>'}
</section>
${input.capacity && !input.capacity.stepped && input.capacity.growth ? capacityGrowthOnly(input.capacity) : ''}
<section id="metadata"><h2>Run metadata</h2>${metadata(rf)}</section>
<p class="note">Self-contained report: charts by uPlot ${esc(assets.version)} (${esc(assets.license)}), inlined; no network access.</p>
<script id="fleetload-data" type="application/json">${scriptJson(data)}</script>
<script>${assets.js}</script>
<script>${CLIENT_SCRIPT}</script>
</body></html>
`;
}

function capacityGrowthOnly(a: CapacityAnalysis): string {
  const g = a.growth;
  if (!g) return '';
  return `<section id="growth"><h2>Database growth</h2><p>${fmt(g.bytesPerRow)} B per record (${esc(g.bytesPerRowBasis)}); ${g.plannedDevices} devices every ${fmt(g.reportIntervalSec)} s
→ ${fmt(g.rowsPerDay)} rows/day, ${fmt(g.gbPerMonth)} GB/month, monthly partition ${fmt(g.partitionGb)} GB.</p></section>`;
}
