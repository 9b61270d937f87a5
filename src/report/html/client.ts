// The script the report page runs: draws every chart spec with the inlined uPlot, marks step boundaries
// (and the settling part cut from each step) on time charts and markers on capacity charts. Plain ES2017
// in a string, so it runs in any browser without a build step; it makes no network request.

export const CLIENT_SCRIPT = String.raw`
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('fleetload-data').textContent);
  var status = { rendered: [], empty: [], failed: [] };
  window.__fleetloadCharts = status;

  function boundaryPlugin(bounds) {
    return {
      hooks: {
        draw: [function (u) {
          var ctx = u.ctx, top = u.bbox.top, h = u.bbox.height, left = u.bbox.left, right = left + u.bbox.width;
          ctx.save();
          bounds.forEach(function (b) {
            var x = u.valToPos(b.t, 'x', true);
            if (b.steadyStart !== undefined) {
              var xs = Math.min(u.valToPos(b.steadyStart, 'x', true), right);
              if (xs > left && x < right) {
                ctx.fillStyle = 'rgba(128,128,128,0.10)';
                ctx.fillRect(Math.max(x, left), top, xs - Math.max(x, left), h);
              }
            }
            if (x < left - 1 || x > right + 1) return;
            ctx.strokeStyle = '#555';
            ctx.lineWidth = 1;
            ctx.setLineDash([5, 4]);
            ctx.beginPath();
            ctx.moveTo(x, top);
            ctx.lineTo(x, top + h);
            ctx.stroke();
            ctx.setLineDash([]);
            ctx.fillStyle = '#333';
            ctx.font = (11 * devicePixelRatio) + 'px sans-serif';
            ctx.fillText(b.label, x + 4, top + 12 * devicePixelRatio);
          });
          ctx.restore();
        }]
      }
    };
  }

  function markerPlugin(markers) {
    return {
      hooks: {
        draw: [function (u) {
          var ctx = u.ctx, top = u.bbox.top, h = u.bbox.height;
          ctx.save();
          markers.forEach(function (m, i) {
            var x = u.valToPos(m.x, 'x', true);
            if (x < u.bbox.left - 1 || x > u.bbox.left + u.bbox.width + 1) return;
            ctx.strokeStyle = m.color;
            ctx.lineWidth = 1.5;
            ctx.setLineDash([3, 3]);
            ctx.beginPath();
            ctx.moveTo(x, top);
            ctx.lineTo(x, top + h);
            ctx.stroke();
            ctx.setLineDash([]);
            ctx.fillStyle = m.color;
            ctx.font = (11 * devicePixelRatio) + 'px sans-serif';
            ctx.fillText(m.label, x + 4, top + (14 + 13 * i) * devicePixelRatio);
          });
          ctx.restore();
        }]
      }
    };
  }

  function render(spec) {
    var box = document.querySelector('[data-chart="' + spec.id + '"]');
    if (!box) return;
    if (spec.empty) {
      box.setAttribute('data-state', 'no-data');
      status.empty.push(spec.id);
      return;
    }
    var target = box.querySelector('.plot');
    var width = Math.max(320, Math.min(1100, (target.clientWidth || box.clientWidth || 900)));
    var scales = { x: { time: spec.kind === 'time' } };
    var axes = [{ label: spec.xLabel || '', stroke: '#333', grid: { stroke: '#eee' } }];
    var side = 3;
    Object.keys(spec.axes).forEach(function (scale, i) {
      scales[scale] = scales[scale] || { auto: true };
      axes.push({ scale: scale, label: spec.axes[scale], side: i === 0 ? 3 : 1, stroke: '#333', grid: { show: i === 0, stroke: '#eee' }, size: 60 });
    });
    var series = [{}].concat(spec.lines.map(function (l) {
      var s = { label: l.label, stroke: l.color, width: 1.6, scale: l.scale || 'y', spanGaps: !!l.points };
      if (l.dash) s.dash = [6, 4];
      if (l.points) {
        s.points = { show: true, size: 8, fill: l.color, stroke: l.color };
        s.paths = function () { return null; };
      } else {
        s.points = { show: false };
      }
      return s;
    }));
    var plugins = [];
    if (spec.kind === 'time' && data.boundaries.length) plugins.push(boundaryPlugin(data.boundaries));
    if (spec.markers && spec.markers.length) plugins.push(markerPlugin(spec.markers));
    var opts = { width: width, height: 280, scales: scales, axes: axes, series: series, plugins: plugins, legend: { live: true }, cursor: { drag: { x: true, y: false } } };
    try {
      new uPlot(opts, [spec.x].concat(spec.lines.map(function (l) { return l.values; })), target);
      box.setAttribute('data-state', 'rendered');
      status.rendered.push(spec.id);
    } catch (e) {
      box.setAttribute('data-state', 'error');
      status.failed.push(spec.id);
      var p = document.createElement('p');
      p.className = 'empty';
      p.textContent = 'This chart could not be drawn: ' + (e && e.message ? e.message : String(e));
      box.appendChild(p);
      throw e;
    }
  }

  data.charts.forEach(render);
  document.body.setAttribute('data-charts-ready', 'true');
})();
`;
