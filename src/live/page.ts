// The live page: the report's look (same fonts, banner colours, tables, uPlot charts), but its script, styles and
// uPlot come from the page's own origin (/live.js, /live.css, /uplot.*), so the CSP can be `default-src 'self'`:
// no inline script, no request to any other host. The page holds no data of its own; /events fills it.

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);

/** Sent on every response of the live server. */
export const LIVE_CSP = "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export function livePageHtml(o: { runId: string; title: string }): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${LIVE_CSP.replace(/; frame-ancestors 'none'/, '')}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>fleetload live — ${esc(o.runId)}</title>
<link rel="stylesheet" href="/uplot.css">
<link rel="stylesheet" href="/live.css">
</head>
<body>
<h1>fleetload live — ${esc(o.title)}</h1>
<div class="banner p-starting" id="phase" data-phase="starting"><span id="phase-text">Connecting…</span> <a id="report-link" hidden></a></div>
<p class="note" id="conn">Connecting…</p>
<section id="where"><h2>Where the run is</h2>
<div class="timeline" id="timeline-bar"></div>
<p id="time">waiting for the load to start</p>
</section>
<div class="figures">
<div class="fig"><div class="big" id="f-devices">–</div><div>devices connected / planned</div></div>
<div class="fig"><div class="big" id="f-sent">–</div><div>records/s sent</div></div>
<div class="fig"><div class="big" id="f-acked">–</div><div>records/s ACKed</div></div>
<div class="fig"><div class="big" id="f-stored">–</div><div>records/s stored (platform)</div></div>
<div class="fig"><div class="big" id="f-ack">–</div><div>ACK p95, last 5 s (bucket bound)</div></div>
<div class="fig"><div class="big" id="f-errors">–</div><div>errors so far</div></div>
<div class="fig"><div class="big" id="f-cpu">–</div><div>engine CPU</div></div>
<div class="fig"><div class="big" id="f-loop">–</div><div>event-loop delay p99</div></div>
</div>
<p class="note" id="f-totals"></p>
<section id="objectives" data-final="false"><h2 id="objectives-title">Objectives — provisional</h2>
<p class="note">Provisional while the load runs: the SLO file's engine objectives are evaluated on the counts so far, with latencies at
bucket resolution (“≤ bound”: the percentile fell in the bucket with that upper bound — exact figures come at the end). Ledger,
PostgreSQL and Prometheus objectives need the finished run and are judged at the end.</p>
<table class="objectives"><thead><tr><th>objective</th><th>value so far</th><th>target</th><th>status</th><th>why</th></tr></thead>
<tbody id="objectives-body"></tbody></table>
</section>
<section id="over-time"><h2>Over time</h2>
<p class="note">Dashed vertical lines mark stage boundaries. Latency lines are bucket upper bounds over the trailing 5 s.</p>
<div id="charts"></div>
</section>
<section id="details"><h2>Errors by reason (so far)</h2>
<table class="kv"><tbody id="errors-body"></tbody></table>
<h2>Event-loop delay p99 by engine thread (last second)</h2>
<table class="kv"><tbody id="loops-body"></tbody></table>
<p class="note" id="platform-note"></p>
</section>
<p class="note">Live view served by this fleetload process on your machine (read-only; nothing is sent anywhere else). The run folder's report.html stays the record.</p>
<script src="/uplot.js"></script>
<script src="/live.js"></script>
</body></html>
`;
}

/** The report's styles (src/report/html/page.ts) plus the timeline and phase banners. */
export const LIVE_CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1180px;padding:16px 24px;color:#222}
h1{font-size:20px;margin:0 0 8px}h2{font-size:17px;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:28px}
.banner{padding:14px 18px;border-radius:6px;font-size:18px;font-weight:600;color:#fff}
.banner a{color:#fff;margin-left:12px;font-size:15px}
.v-pass{background:#1e8e3e}.v-warn{background:#c77700}.v-fail{background:#c5221f}.v-invalid{background:#6b3fa0}.v-error{background:#555}.v-done{background:#1f5f99}
.p-starting,.p-verifying,.p-ended{background:#5f6368}.p-load{background:#1f5f99}
table{border-collapse:collapse;width:100%;margin:8px 0}th,td{border-bottom:1px solid #eee;padding:5px 8px;text-align:left;vertical-align:top}th{background:#fafafa}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}.desc{color:#666;font-size:12px}.prov{font-style:italic}
.badge{display:inline-block;padding:1px 7px;border-radius:9px;font-size:12px;color:#fff;background:#777}.b-pass{background:#1e8e3e}.b-warn{background:#c77700}.b-fail{background:#c5221f}.b-no-data{background:#999}.b-report-only{background:#5f6368}.b-at-end{background:#b0b4b9}
.key{font-size:11px;color:#c5221f;border:1px solid #c5221f;border-radius:4px;padding:0 3px}
table.kv td:first-child{width:300px}
.figures{display:flex;gap:10px;flex-wrap:wrap;margin-top:14px}.fig{flex:1;min-width:100px;border:1px solid #ddd;border-radius:6px;padding:8px}.big{font-size:21px;font-weight:700;font-variant-numeric:tabular-nums;white-space:nowrap}
.chart{margin:14px 0;border:1px solid #eee;border-radius:6px;padding:8px}.chart figcaption{font-weight:600;margin-bottom:4px}
.note{color:#666;font-size:12px}
.timeline{position:relative;display:flex;height:30px;border:1px solid #ccc;border-radius:4px;overflow:hidden;background:#f4f6f8}
.seg{flex-basis:0;border-right:1px solid #fff;background:#dfe7ef;font-size:11px;line-height:30px;padding-left:6px;white-space:nowrap;overflow:hidden;color:#333}
.seg.now{background:#a9c6e3;font-weight:600}
.cursor{position:absolute;top:0;bottom:0;width:3px;background:#c5221f;left:0}
`;
