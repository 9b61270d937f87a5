// The live page's script, served as /live.js (the page's Content-Security-Policy allows scripts from its own origin
// only). Plain ES2017, no build step. It opens one EventSource on /events: an "init" message with the run's shape and
// the history so far (so a reload mid-run redraws everything), then one "tick" a second, a "phase" on each change,
// and a "final" with the verdict. It makes no other request, and none off its origin.

export const LIVE_CLIENT_SCRIPT = String.raw`
(function () {
  'use strict';
  var MAX_POINTS = 2000;
  var C = { blue: '#1f77b4', orange: '#ff7f0e', green: '#2ca02c', red: '#d62728', purple: '#9467bd', brown: '#8c564b', pink: '#e377c2', grey: '#7f7f7f', olive: '#bcbd22', cyan: '#17becf' };
  // chart id, title, y axes by scale, lines: [field, label, colour, scale, dashed]
  var CHARTS = [
    ['devices', 'Devices connected vs planned', { y: 'devices' }, [['connected', 'connected (engine)', C.blue], ['planned', 'planned', C.grey, 'y', true], ['platformConnections', 'TCP connections (platform)', C.purple, 'y', true]]],
    ['records', 'Records per second: sent, ACKed, stored', { y: 'records/s' }, [['sentPerSec', 'sent', C.blue], ['ackedPerSec', 'ACKed', C.green], ['storedPerSec', 'stored (platform)', C.orange, 'y', true]]],
    ['ack-latency', 'ACK latency per packet (≤ bucket bound, trailing 5 s)', { y: 'ms' }, [['ackP50', 'p50 ≤', C.green], ['ackP95', 'p95 ≤', C.orange], ['ackP99', 'p99 ≤', C.red]]],
    ['record-latency', 'Record delivery latency (≤ bucket bound, trailing 5 s)', { y: 'ms' }, [['recP50', 'p50 ≤', C.green], ['recP95', 'p95 ≤', C.orange], ['recP99', 'p99 ≤', C.red]]],
    ['errors', 'Errors per second', { y: 'errors/s' }, [['deviceErrorsPerSec', 'device', C.red], ['apiErrorsPerSec', 'API', C.orange]]],
    ['api', 'REST API', { y: 'requests/s', ms: 'ms' }, [['apiPerSec', 'requests/s', C.blue], ['apiP95', 'p95 ≤ (ms)', C.orange, 'ms']]],
    ['ws', 'WebSocket', { y: 'clients · msgs/s', ms: 'ms' }, [['wsClients', 'clients connected', C.blue], ['wsMessagesPerSec', 'messages/s', C.green], ['wsFreshP95', 'freshness p95 ≤ (ms)', C.orange, 'ms']]],
    ['generator', 'Generator health (this engine process)', { y: '% of machine · ms', mb: 'MB' }, [['cpuPercent', 'CPU % of machine', C.blue], ['loopP99', 'event-loop delay p99 (ms, busiest thread)', C.red], ['rssMb', 'RSS (MB)', C.grey, 'mb', true]]],
    ['platform', 'Platform (its own metrics, from Prometheus)', { y: 'ms' }, [['batchP95', 'batch insert p95 (ms)', C.purple], ['ingestLagP95', 'ingest lag p95 (ms)', C.brown]]]
  ];
  var state = { meta: null, fields: [], cols: [], charts: {}, finished: false };
  var status = { ticks: 0, inits: 0, rendered: [], points: 0, stride: 1 };
  window.__fleetloadLive = status;

  function $(id) { return document.getElementById(id); }
  function text(id, v) { var e = $(id); if (e) e.textContent = v; }
  function fmt(v, digits) {
    if (v === null || v === undefined || !isFinite(v)) return '–';
    var a = Math.abs(v);
    if (a >= 1e6) return (v / 1e6).toFixed(2) + ' M';
    if (a >= 1e4) return Math.round(v).toLocaleString('en');
    if (a >= 100) return String(Math.round(v));
    return String(Number(v.toPrecision(digits || 3)));
  }
  function dur(s) {
    s = Math.max(0, Math.round(s));
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    return (h ? h + ' h ' : '') + (h || m ? m + ' min ' : '') + r + ' s';
  }
  function col(name) { return state.cols[state.fields.indexOf(name)] || []; }
  function el(tag, cls, txt) { var e = document.createElement(tag); if (cls) e.className = cls; if (txt !== undefined) e.textContent = txt; return e; }

  function boundaryPlugin() {
    return { hooks: { draw: [function (u) {
      var steps = state.meta ? state.meta.steps : [];
      if (steps.length < 2) return;
      var ctx = u.ctx, top = u.bbox.top, h = u.bbox.height;
      ctx.save();
      steps.forEach(function (s) {
        var x = u.valToPos(s.startS, 'x', true);
        if (x < u.bbox.left - 1 || x > u.bbox.left + u.bbox.width + 1) return;
        ctx.strokeStyle = '#555'; ctx.lineWidth = 1; ctx.setLineDash([5, 4]);
        ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, top + h); ctx.stroke(); ctx.setLineDash([]);
        ctx.fillStyle = '#333'; ctx.font = (11 * devicePixelRatio) + 'px sans-serif';
        ctx.fillText(s.name, x + 4, top + 12 * devicePixelRatio);
      });
      ctx.restore();
    }] } };
  }

  function makeCharts() {
    var box = $('charts');
    box.textContent = '';
    state.charts = {};
    status.rendered = [];
    CHARTS.forEach(function (c) {
      var fig = el('figure', 'chart');
      fig.setAttribute('data-chart', c[0]);
      fig.appendChild(el('figcaption', '', c[1]));
      var plot = el('div', 'plot');
      fig.appendChild(plot);
      if (c[0] === 'platform' && !state.meta.platform) fig.appendChild(el('p', 'note', 'No platform metrics: they need the embedded stack or --prometheus-url.'));
      box.appendChild(fig);
      var scales = { x: { time: false } };
      var axes = [{ label: 'seconds since the load started', stroke: '#333', grid: { stroke: '#eee' } }];
      Object.keys(c[2]).forEach(function (scale, i) {
        scales[scale] = { auto: true, range: function (u, min, max) { return [Math.min(0, min), max > 0 ? max * 1.1 : 1]; } };
        axes.push({ scale: scale, label: c[2][scale], side: i === 0 ? 3 : 1, stroke: '#333', grid: { show: i === 0, stroke: '#eee' }, size: 60 });
      });
      var series = [{}].concat(c[3].map(function (l) {
        var s = { label: l[1], stroke: l[2], width: 1.6, scale: l[3] || 'y', points: { show: false }, spanGaps: false };
        if (l[4]) s.dash = [6, 4];
        return s;
      }));
      var width = Math.max(320, Math.min(1100, plot.clientWidth || 900));
      var u = new uPlot({ width: width, height: 220, scales: scales, axes: axes, series: series, plugins: [boundaryPlugin()], legend: { live: true } }, chartData(c), plot);
      state.charts[c[0]] = { spec: c, plot: u, box: fig };
      fig.setAttribute('data-state', 'rendered');
      status.rendered.push(c[0]);
    });
  }
  function chartData(c) { return [col('t')].concat(c[3].map(function (l) { return col(l[0]); })); }
  function redraw() { CHARTS.forEach(function (c) { var ch = state.charts[c[0]]; if (ch) ch.plot.setData(chartData(c)); }); }

  // the same rule as the server's history (src/live/history.ts): when full, neighbouring pairs merge (latencies by
  // max, the rest by mean) and each stored point stands for twice as many ticks from then on
  var hist = { stride: 1, waiting: [] };
  function mergeRow(a, b) {
    var maxCols = state.meta.maxFields;
    return b.map(function (vb, i) {
      var va = a[i];
      if (i === 0 || va === null) return vb;
      if (vb === null) return va;
      return maxCols.indexOf(state.fields[i]) >= 0 ? Math.max(va, vb) : (va + vb) / 2;
    });
  }
  function halve(rows) {
    var out = [];
    for (var k = 0; k + 1 < rows.length; k += 2) out.push(mergeRow(rows[k], rows[k + 1]));
    if (rows.length % 2 === 1) out.push(rows[rows.length - 1]);
    return out;
  }
  function addPoint(p) {
    hist.waiting.push(p);
    if (hist.waiting.length < hist.stride) return;
    var m = hist.waiting;
    while (m.length > 1) m = halve(m);
    hist.waiting = [];
    m[0].forEach(function (v, i) { state.cols[i].push(v); });
    status.points = state.cols[0].length;
    if (state.cols[0].length >= MAX_POINTS) {
      var rows = state.cols[0].map(function (_, k) { return state.cols.map(function (c) { return c[k]; }); });
      rows = halve(rows);
      state.cols = state.fields.map(function (_, i) { return rows.map(function (r) { return r[i]; }); });
      hist.stride *= 2;
    }
  }

  function timeline(s) {
    var m = state.meta, bar = $('timeline-bar');
    if (!bar.childNodes.length) {
      m.steps.forEach(function (st, i) {
        var end = i + 1 < m.steps.length ? m.steps[i + 1].startS : m.totalS;
        var seg = el('div', 'seg', st.name + ' · ' + st.devices + ' devices');
        seg.style.flexGrow = String(Math.max(0.001, end - st.startS));
        seg.setAttribute('data-step', String(i));
        bar.appendChild(seg);
      });
      var cur = el('div', 'cursor'); cur.id = 'cursor'; bar.appendChild(cur);
    }
    var frac = m.totalS > 0 ? Math.min(1, Math.max(0, s.elapsedS / m.totalS)) : 0;
    $('cursor').style.left = (frac * 100).toFixed(2) + '%';
    var segs = bar.querySelectorAll('.seg');
    for (var i = 0; i < segs.length; i++) segs[i].classList.toggle('now', m.steps[i] && s.elapsedS >= m.steps[i].startS && (i + 1 >= m.steps.length || s.elapsedS < m.steps[i + 1].startS));
    var left = m.totalS - s.elapsedS;
    text('time', dur(s.elapsedS) + ' of ' + dur(m.totalS) + ' · ' + s.stage + ' · ' + (left > 0 ? dur(left) + ' left' : 'devices finishing (drain)'));
  }

  function figures(s) {
    var p = {};
    state.fields.forEach(function (f, i) { p[f] = s.point[i]; });
    text('f-devices', fmt(p.connected) + ' / ' + fmt(p.planned));
    text('f-sent', fmt(p.sentPerSec));
    text('f-acked', fmt(p.ackedPerSec));
    text('f-stored', state.meta.platform ? fmt(p.storedPerSec) : 'n/a');
    text('f-ack', p.ackP95 === null ? '–' : '≤ ' + fmt(p.ackP95) + ' ms');
    text('f-errors', fmt(s.totals.errors));
    text('f-cpu', fmt(p.cpuPercent) + ' %');
    text('f-loop', p.loopP99 === null ? '–' : fmt(p.loopP99) + ' ms');
    text('f-totals', 'records sent ' + fmt(s.totals.sent) + ', ACKed ' + fmt(s.totals.acked) + '; API requests ' + fmt(s.totals.apiRequests) + '; WebSocket messages ' + fmt(s.totals.wsMessages));
    var body = $('errors-body');
    body.textContent = '';
    if (!s.errors.length) { var tr = el('tr'); tr.appendChild(el('td', 'desc', 'no errors so far')); body.appendChild(tr); }
    s.errors.forEach(function (e) { var tr = el('tr'); tr.appendChild(el('td', '', e[0])); tr.appendChild(el('td', 'num', fmt(e[1]))); body.appendChild(tr); });
    var loops = $('loops-body');
    loops.textContent = '';
    Object.keys(s.loops).sort().forEach(function (k) { var tr = el('tr'); tr.appendChild(el('td', '', k)); tr.appendChild(el('td', 'num', fmt(s.loops[k]) + ' ms')); loops.appendChild(tr); });
    text('platform-note', s.platformNote || '');
  }

  function objectives(list, final) {
    var body = $('objectives-body');
    body.textContent = '';
    list.forEach(function (o) {
      var tr = el('tr', 'st-' + o.status);
      var id = el('td'); id.appendChild(el('code', '', o.id));
      if (o.key) { id.appendChild(document.createTextNode(' ')); id.appendChild(el('span', 'key', 'key')); }
      id.appendChild(el('div', 'desc', o.description));
      tr.appendChild(id);
      tr.appendChild(el('td', 'num', o.value));
      var t = el('td', '', o.target); if (o.warning) t.appendChild(el('div', 'desc', 'warn ' + o.warning)); tr.appendChild(t);
      var st = el('td'); st.appendChild(el('span', 'badge b-' + o.status, o.status === 'at-end' ? 'at the end' : o.status));
      if (!final && o.status !== 'at-end') st.appendChild(el('div', 'desc prov', 'provisional'));
      tr.appendChild(st);
      tr.appendChild(el('td', 'desc', o.why));
      body.appendChild(tr);
    });
    $('objectives').setAttribute('data-final', final ? 'true' : 'false');
  }

  function phase(ph) {
    var b = $('phase');
    b.setAttribute('data-phase', ph.phase);
    b.className = 'banner p-' + ph.phase;
    text('phase-text', ph.text);
  }

  function final(f) {
    state.finished = true;
    var b = $('phase');
    b.className = 'banner v-' + f.verdict;
    b.setAttribute('data-phase', 'done');
    b.setAttribute('data-verdict', f.verdict);
    text('phase-text', f.text);
    var link = $('report-link');
    if (f.reportUrl) { link.href = f.reportUrl; link.textContent = 'open the full report (report.html)'; link.hidden = false; }
    if (f.objectives) objectives(f.objectives, true);
    $('objectives-title').textContent = f.objectives ? 'Objectives — final' : 'Objectives — provisional (as of the end of the load)';
  }

  var es = new EventSource('/events');
  es.addEventListener('init', function (ev) {
    var d = JSON.parse(ev.data);
    status.inits++;
    state.meta = d.meta;
    state.fields = d.meta.fields;
    state.cols = state.fields.map(function (_, i) { return d.history.map(function (p) { return p[i]; }); });
    hist = { stride: d.stride, waiting: [] };
    status.points = state.cols[0].length;
    status.stride = d.stride;
    d.pending.forEach(addPoint);
    $('timeline-bar').textContent = '';
    makeCharts();
    phase(d.phase);
    if (d.last) { timeline(d.last); figures(d.last); objectives(d.last.objectives, false); }
    else objectives(d.meta.objectives, false);
    if (d.final) final(d.final);
    document.body.setAttribute('data-live-ready', 'true');
  });
  // the run's shape (steps, length, platform metrics) once it is known: a page opened while the stack starts has none
  es.addEventListener('meta', function (ev) {
    if (!state.meta) return;
    state.meta = JSON.parse(ev.data);
    $('timeline-bar').textContent = '';
    makeCharts();
  });
  es.addEventListener('tick', function (ev) {
    var s = JSON.parse(ev.data);
    status.ticks++;
    addPoint(s.point);
    redraw();
    timeline(s);
    figures(s);
    if (!state.finished) objectives(s.objectives, false);
    document.body.setAttribute('data-ticks', String(status.ticks));
  });
  es.addEventListener('phase', function (ev) { if (!state.finished) phase(JSON.parse(ev.data)); });
  es.addEventListener('final', function (ev) { final(JSON.parse(ev.data)); });
  es.addEventListener('end', function () {
    es.close();
    if (!state.finished) phase({ phase: 'ended', text: 'The run ended without a verdict (see the terminal).' });
    text('conn', 'The run has ended; this page no longer updates.');
  });
  es.onerror = function () {
    if (es.readyState === 2) text('conn', 'Disconnected from fleetload (the run has ended or the process stopped).');
    else text('conn', 'Connection lost; retrying…');
  };
  es.onopen = function () { text('conn', 'Live: updated every second.'); };
})();
`;
