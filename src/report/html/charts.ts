// Chart data for the HTML report, built (pure) from series.json and the capacity analysis. Each chart is
// plain arrays the page hands to uPlot; a chart whose series are all empty carries the reason instead.
import type { CapacityAnalysis } from '../capacity/index.js';
import {
  histogramIncrease,
  quantileOverTime,
  sumIncrease,
  trailingRate,
  type Point,
  type StoredSeries,
} from '../capacity/prommath.js';
import { ENGINE_JOB, findQuery, type SeriesFile, type StoredQuery } from '../series.js';

export interface ChartLine {
  label: string;
  values: Array<number | null>;
  color: string;
  /** y scale (axis) this line uses; default 'y' */
  scale?: string;
  /** points only, no line (measurements) */
  points?: boolean;
  dash?: boolean;
}

export interface ChartSpec {
  id: string;
  title: string;
  /** 'time' = x is unix seconds; 'xy' = x is a number (devices) */
  kind: 'time' | 'xy';
  xLabel?: string;
  /** axis labels by scale */
  axes: Record<string, string>;
  x: number[];
  lines: ChartLine[];
  /** set when no line has a single value: shown instead of an empty chart */
  empty?: string;
  /** vertical markers on an xy chart (e.g. the knee, capacity) */
  markers?: Array<{ x: number; label: string; color: string }>;
  note?: string;
}

export interface Boundary {
  t: number;
  label: string;
  steadyStart?: number;
}

const C = {
  blue: '#1f77b4',
  orange: '#ff7f0e',
  green: '#2ca02c',
  red: '#d62728',
  purple: '#9467bd',
  brown: '#8c564b',
  pink: '#e377c2',
  grey: '#7f7f7f',
  olive: '#bcbd22',
  cyan: '#17becf',
};
const PALETTE = Object.values(C);

const query = (f: SeriesFile | undefined, id: string): StoredQuery | undefined => findQuery(f, id);
const seriesOf = (f: SeriesFile | undefined, id: string): StoredSeries[] => query(f, id)?.series ?? [];

/** The common time grid of a series file: start..end by step (query_range evaluates exactly there). */
export function grid(f: SeriesFile): number[] {
  const s = Math.round(Date.parse(f.start) / 1000);
  const e = Math.round(Date.parse(f.end) / 1000);
  const out: number[] = [];
  for (let t = s; t <= e + 1e-9; t += f.stepSeconds) out.push(t);
  return out;
}

function onGrid(points: Point[], g: number[], scale = 1): Array<number | null> {
  const m = new Map<number, number | null>();
  for (const [t, v] of points) m.set(Math.round(t * 1000), v);
  return g.map((t) => {
    const v = m.get(Math.round(t * 1000));
    return v === undefined || v === null ? null : v * scale;
  });
}

function sumOnGrid(series: StoredSeries[], g: number[], scale = 1): Array<number | null> {
  if (series.length === 0) return g.map(() => null);
  const cols = series.map((s) => onGrid(s.points, g, scale));
  return g.map((_, i) => {
    let any = false;
    let s = 0;
    for (const c of cols) {
      const v = c[i];
      if (v !== null) {
        any = true;
        s += v;
      }
    }
    return any ? s : null;
  });
}

/** Per-second rate of the summed counter series, over a trailing window, on the grid. */
function rateOnGrid(f: SeriesFile, id: string, g: number[], windowSec: number): Array<number | null> {
  const q = query(f, id);
  if (!q || q.series.length === 0) return g.map(() => null);
  const rates = q.series.map((s) => trailingRate(s.points, windowSec, q.fromZero ?? false));
  return sumOnGrid(rates.map((points) => ({ labels: {}, points })), g);
}

const hasData = (lines: ChartLine[]) => lines.some((l) => l.values.some((v) => v !== null && Number.isFinite(v)));

function chart(spec: Omit<ChartSpec, 'empty'>, queries: string[], f: SeriesFile): ChartSpec {
  if (hasData(spec.lines)) return spec;
  const qs = queries.map((id) => query(f, id)).filter((q): q is StoredQuery => q !== undefined);
  const errs = qs.filter((q) => q.status === 'error').map((q) => `${q.id}: ${q.error}`);
  return {
    ...spec,
    empty: errs.length
      ? `No data in this run — the queries failed: ${errs.join('; ')}`
      : `No data in this run: ${qs.map((q) => q.query).join(' · ') || 'no query'} returned nothing (the profile may not exercise this part).`,
  };
}

/** A latency quantile of a stored histogram over the trailing window, on the grid, in ms. */
function quantileMs(f: SeriesFile, id: string, q: number, w: number, g: number[]): Array<number | null> {
  return quantileOverTime(seriesOf(f, id), q, w, g).map(([, v]) => (v === null ? null : v * 1000));
}

/** Trailing window for rates and windowed percentiles: 5 steps, at least 5 s. */
function rateWindow(f: SeriesFile): number {
  return Math.max(5, 5 * f.stepSeconds);
}

/** What every time chart is built from: the stored series, the common time grid and the trailing rate window. */
interface TimeChartInput {
  f: SeriesFile;
  /** the common time grid (s) */
  g: number[];
  /** trailing window of rates and quantiles (s) */
  w: number;
  stages: Array<{ start: string; end: string; devices: number }>;
}

const timeChart = (i: TimeChartInput, spec: Omit<ChartSpec, 'empty' | 'kind' | 'x'>, queries: string[]): ChartSpec =>
  chart({ kind: 'time', x: i.g, ...spec }, queries, i.f);

/** Only the lines measured; a reference line (the plan) or a counter flat at 0 is not data. */
function emptyUnless(c: ChartSpec, measured: boolean, why: string): ChartSpec {
  if (!c.empty && !measured) c.empty = why;
  return c;
}

const flatZero = (lines: ChartLine[]) => lines.every((l) => l.values.every((v) => v === null || v === 0));

function devicesChart(i: TimeChartInput): ChartSpec {
  const { f, g, stages } = i;
  const planned = g.map((t) => stages.find((st) => t >= Date.parse(st.start) / 1000 && t < Date.parse(st.end) / 1000)?.devices ?? null);
  const c = timeChart(
    i,
    {
      id: 'devices',
      title: 'Connected devices',
      axes: { y: 'devices' },
      lines: [
        { label: 'connected (engine)', values: sumOnGrid(seriesOf(f, 'engine_devices_connected'), g), color: C.blue },
        { label: 'TCP connections (platform)', values: sumOnGrid(seriesOf(f, 'tcp_connections'), g), color: C.orange },
        { label: 'planned by stage', values: planned, color: C.grey, dash: true },
      ],
    },
    ['engine_devices_connected', 'tcp_connections'],
  );
  // the planned line alone is not data
  return emptyUnless(c, hasData(c.lines.slice(0, 2)), `No data in this run: ${query(f, 'engine_devices_connected')?.query} and ${query(f, 'tcp_connections')?.query} returned nothing.`);
}

function recordsChart(i: TimeChartInput): ChartSpec {
  const { f, g, w } = i;
  return timeChart(
    i,
    {
      id: 'records',
      title: `Records per second: sent vs ACKed vs stored (${w} s trailing rate)`,
      axes: { y: 'records/s' },
      lines: [
        { label: 'sent (engine)', values: rateOnGrid(f, 'engine_records_sent', g, w), color: C.blue },
        { label: 'ACKed (engine)', values: rateOnGrid(f, 'engine_records_acked', g, w), color: C.green },
        { label: 'received (platform)', values: rateOnGrid(f, 'platform_received', g, w), color: C.orange, dash: true },
        { label: 'stored (platform)', values: rateOnGrid(f, 'platform_inserted', g, w), color: C.purple },
        { label: 'resent (engine)', values: rateOnGrid(f, 'engine_records_resent', g, w), color: C.red },
      ],
    },
    ['engine_records_sent', 'engine_records_acked', 'platform_received', 'platform_inserted'],
  );
}

function ackLatencyChart(i: TimeChartInput): ChartSpec {
  const { f, g, w } = i;
  return timeChart(
    i,
    {
      id: 'ack-latency',
      title: `ACK latency (${w} s trailing window)`,
      axes: { y: 'ms' },
      note: 'Engine lines: per packet, ACK time minus the time the packet was due (open model), and per record, ACK time minus the record\'s own timestamp (a record buffered through an outage shows the outage). Platform line: frame received to ACK written. All from histograms, interpolated inside their buckets.',
      lines: [
        { label: 'ACK p50 (engine)', values: quantileMs(f, 'engine_ack_latency', 0.5, w, g), color: C.green },
        { label: 'ACK p95 (engine)', values: quantileMs(f, 'engine_ack_latency', 0.95, w, g), color: C.orange },
        { label: 'ACK p99 (engine)', values: quantileMs(f, 'engine_ack_latency', 0.99, w, g), color: C.red },
        { label: 'record delivery p95 (engine)', values: quantileMs(f, 'engine_record_latency', 0.95, w, g), color: C.brown, dash: true },
        { label: 'ACK p95 (platform)', values: quantileMs(f, 'ack_duration', 0.95, w, g), color: C.purple, dash: true },
      ],
    },
    ['engine_ack_latency', 'engine_record_latency', 'ack_duration'],
  );
}

function apiChart(i: TimeChartInput): ChartSpec {
  const { f, g, w } = i;
  const reqRate = rateOnGrid(f, 'engine_api_requests', g, w);
  const errRate = rateOnGrid(f, 'engine_api_errors', g, w);
  const latency: ChartLine[] = [
    { label: 'p95 (client)', values: quantileMs(f, 'engine_api_latency', 0.95, w, g), color: C.blue },
    { label: 'p95 (platform)', values: quantileMs(f, 'http_duration', 0.95, w, g), color: C.cyan, dash: true },
  ];
  const requests: ChartLine = { label: 'requests/s (client)', values: reqRate, color: C.grey, scale: 'rps' };
  // a ratio only where requests were made: no requests is no data, not a 0 % error ratio
  const errors: ChartLine = { label: 'error ratio (client)', values: reqRate.map((r, k) => (r && r > 0 && errRate[k] !== null ? (errRate[k] as number) / r : null)), color: C.red, scale: 'ratio' };
  const c = timeChart(
    i,
    {
      id: 'api',
      title: `REST API: latency, request rate and error ratio (${w} s trailing window)`,
      axes: { y: 'ms', rps: 'requests/s', ratio: 'error ratio' },
      note: 'Client lines come from the engine (fleetload_api_*: every non-2xx and network failure counts as an error, 429 apart); the platform line is its own request histogram.',
      lines: [...latency, requests, errors],
    },
    ['engine_api_latency', 'engine_api_requests', 'http_duration'],
  );
  // the engine's request counter is 0 from the first scrape: a run without API clients has a flat 0 line, not data
  return emptyUnless(
    c,
    hasData([...latency, errors]) || !flatZero([requests]),
    `No data in this run: ${query(f, 'engine_api_latency')?.query} and ${query(f, 'http_duration')?.query} recorded no request (the profile may run no API clients).`,
  );
}

function websocketChart(i: TimeChartInput): ChartSpec {
  const { f, g, w } = i;
  const c = timeChart(
    i,
    {
      id: 'websocket',
      title: `WebSocket freshness: receive time − record timestamp (${w} s trailing window)`,
      axes: { y: 'ms', conn: 'connections' },
      lines: [
        { label: 'freshness p50 (client)', values: quantileMs(f, 'engine_ws_freshness', 0.5, w, g), color: C.green },
        { label: 'freshness p95 (client)', values: quantileMs(f, 'engine_ws_freshness', 0.95, w, g), color: C.blue },
        { label: 'open WebSockets (platform)', values: sumOnGrid(seriesOf(f, 'ws_connections'), g), color: C.grey, scale: 'conn' },
        { label: 'clients connected (engine)', values: sumOnGrid(seriesOf(f, 'engine_ws_clients'), g), color: C.olive, scale: 'conn', dash: true },
      ],
    },
    ['engine_ws_freshness', 'ws_connections', 'engine_ws_clients'],
  );
  return emptyUnless(
    c,
    hasData(c.lines.slice(0, 2)) || !flatZero(c.lines.slice(2)),
    `No data in this run: ${query(f, 'engine_ws_freshness')?.query} recorded nothing and no WebSocket was open.`,
  );
}

function batchChart(i: TimeChartInput): ChartSpec {
  const { f, g, w } = i;
  const batchBuckets = seriesOf(f, 'batch_duration');
  const sizeSum = seriesOf(f, 'batch_size_sum');
  // mean batch size over the trailing window = Δsum / Δcount
  const meanSize = g.map((t) => {
    const b = histogramIncrease(batchBuckets, t - w, t);
    const n = b.length ? b[b.length - 1].count : 0;
    const s = sumIncrease(sizeSum, t - w, t);
    return n > 0 && s !== undefined ? s / n : null;
  });
  const durationMs = (q: number) => quantileOverTime(batchBuckets, q, w, g).map(([, v]) => (v === null ? null : v * 1000));
  return timeChart(
    i,
    {
      id: 'batch',
      title: 'Database batch INSERT: duration and size',
      axes: { y: 'ms', size: 'records/batch' },
      lines: [
        { label: `duration p50 (${w} s)`, values: durationMs(0.5), color: C.green },
        { label: `duration p95 (${w} s)`, values: durationMs(0.95), color: C.orange },
        { label: 'mean batch size', values: meanSize, color: C.purple, scale: 'size', dash: true },
      ],
    },
    ['batch_duration', 'batch_size_sum'],
  );
}

function ingestLagChart(i: TimeChartInput): ChartSpec {
  const { f, g, w } = i;
  const lag = (q: number) => quantileOverTime(seriesOf(f, 'ingest_lag'), q, w, g).map(([, v]) => v);
  return timeChart(
    i,
    {
      id: 'ingest-lag',
      title: 'Ingest lag (device timestamp → commit)',
      axes: { y: 's' },
      lines: [
        { label: `p50 (${w} s)`, values: lag(0.5), color: C.green },
        { label: `p95 (${w} s)`, values: lag(0.95), color: C.orange },
        { label: `p99 (${w} s)`, values: lag(0.99), color: C.red },
      ],
    },
    ['ingest_lag'],
  );
}

function processChart(i: TimeChartInput): ChartSpec {
  const { f, g, w } = i;
  // scraped processes (the platform, the engine) plus the engine's /proc samples where Prometheus has none of it
  const scrapedJobs = new Set([...seriesOf(f, 'process_cpu'), ...seriesOf(f, 'process_rss')].map((s) => s.labels.job));
  const sampled = (id: string) => seriesOf(f, id).filter((s) => !scrapedJobs.has(s.labels.job));
  const cpuSeries = [...seriesOf(f, 'process_cpu'), ...sampled('generator_cpu')];
  const rss = [...seriesOf(f, 'process_rss'), ...sampled('generator_rss')];
  const jobOf = (s: StoredSeries) => s.labels.job ?? 'process';
  const jobs = [...new Set([...cpuSeries, ...rss].map(jobOf))].sort();
  return timeChart(
    i,
    {
      id: 'process',
      title: 'Engine (load generator) and platform processes: CPU and RSS',
      axes: { y: 'CPU cores', mem: 'RSS MB' },
      note: jobs.includes(ENGINE_JOB) ? undefined : 'This run has no CPU/RSS samples of the load engine: only the platform is shown; the generator health figures of the manifest are listed under run metadata.',
      lines: jobs.flatMap((job, k) => [
        { label: `${job} CPU`, values: sumOnGrid(cpuSeries.filter((s) => jobOf(s) === job).map((s) => ({ labels: {}, points: trailingRate(s.points, w) })), g), color: PALETTE[(2 * k) % PALETTE.length] },
        { label: `${job} RSS`, values: sumOnGrid(rss.filter((s) => jobOf(s) === job), g, 1 / 1e6), color: PALETTE[(2 * k + 1) % PALETTE.length], scale: 'mem', dash: true },
      ]),
    },
    ['process_cpu', 'process_rss', 'generator_cpu', 'generator_rss'],
  );
}

function eventLoopChart(i: TimeChartInput): ChartSpec {
  const { f, g } = i;
  return timeChart(
    i,
    {
      id: 'eventloop',
      title: 'Event-loop delay (platform and engine) and the platform writer queue',
      axes: { y: 'ms', q: 'records queued' },
      note: 'A late engine event loop sends late: the engine line is generator health (the run is invalid when it is the bottleneck).',
      lines: [
        ...seriesOf(f, 'eventloop_lag_p99').map((s, k) => ({ label: `event-loop lag p99 (${s.labels.job ?? 'platform'})`, values: onGrid(s.points, g, 1000), color: PALETTE[k % PALETTE.length] })),
        { label: 'event-loop delay p99, busiest thread (engine)', values: sumOnGrid(seriesOf(f, 'engine_event_loop_delay_p99'), g, 1000), color: C.pink },
        { label: 'writer queue', values: sumOnGrid(seriesOf(f, 'writer_queue'), g), color: C.brown, scale: 'q', dash: true },
      ],
    },
    ['eventloop_lag_p99', 'engine_event_loop_delay_p99', 'writer_queue'],
  );
}

/** The report's time charts, in page order: one builder per chart. */
const TIME_CHARTS: ReadonlyArray<(i: TimeChartInput) => ChartSpec> = [
  devicesChart,
  recordsChart,
  ackLatencyChart,
  apiChart,
  websocketChart,
  batchChart,
  ingestLagChart,
  processChart,
  eventLoopChart,
];

export function timeCharts(f: SeriesFile, stages: Array<{ start: string; end: string; devices: number }>): ChartSpec[] {
  const input: TimeChartInput = { f, g: grid(f), w: rateWindow(f), stages };
  return TIME_CHARTS.map((build) => build(input));
}

export function stageBoundaries(stages: Array<{ name: string; start: string; end: string; devices: number }>, settleFraction = 0.3, maxSettle = 120): Boundary[] {
  return stages.map((s) => {
    const t = Date.parse(s.start) / 1000;
    const e = Date.parse(s.end) / 1000;
    return { t, label: `${s.name} · ${s.devices} devices`, steadyStart: t + Math.min((e - t) * settleFraction, maxSettle) };
  });
}

/** ACK latency distribution over the whole window: non-cumulative counts per bucket. */
export interface HistogramBar {
  from: number;
  to: number;
  count: number;
}

export function latencyHistogram(f: SeriesFile | undefined, id = 'engine_ack_latency', t0?: number, t1?: number): HistogramBar[] {
  if (!f) return [];
  const s = t0 ?? Date.parse(f.start) / 1000 - 1;
  const e = t1 ?? Date.parse(f.end) / 1000;
  const b = histogramIncrease(seriesOf(f, id), s, e);
  const bars: HistogramBar[] = [];
  for (let i = 0; i < b.length; i++) {
    const prev = i === 0 ? 0 : b[i - 1].count;
    bars.push({ from: i === 0 ? 0 : b[i - 1].le, to: b[i].le, count: Math.max(0, b[i].count - prev) });
  }
  return bars.some((x) => x.count > 0) ? bars : [];
}

export function capacityCharts(a: CapacityAnalysis): ChartSpec[] {
  const out: ChartSpec[] = [];
  const steps = [...a.steps].map((s) => s.metrics).sort((x, y) => x.devices - y.devices);
  if (steps.length === 0) return out;
  const xs = steps.map((s) => s.devices);
  const markers: ChartSpec['markers'] = [];
  if (a.knee) markers.push({ x: a.knee.x, label: `knee ${a.knee.x}`, color: C.orange });
  if (a.capacity.devices !== null) markers.push({ x: a.capacity.devices, label: `capacity ${a.capacity.devices}`, color: C.green });
  if (a.headroom) markers.push({ x: a.headroom.plannedDevices, label: `planned ${a.headroom.plannedDevices}`, color: C.grey });
  const latLines: ChartLine[] = [
    { label: 'ACK p50 (engine)', values: steps.map((s) => (s.ackP50 === undefined ? null : s.ackP50 * 1000)), color: C.green, points: true },
    { label: 'ACK p95 (engine)', values: steps.map((s) => (s.ackP95 === undefined ? null : s.ackP95 * 1000)), color: C.orange, points: true },
    { label: 'ACK p99 (engine)', values: steps.map((s) => (s.ackP99 === undefined ? null : s.ackP99 * 1000)), color: C.red, points: true },
    { label: 'ACK p95 (platform)', values: steps.map((s) => (s.platformAckP95 === undefined ? null : s.platformAckP95 * 1000)), color: C.purple, points: true },
  ];
  out.push({
    id: 'cap-latency',
    title: 'Latency per step (steady state) and the knee',
    kind: 'xy',
    xLabel: 'devices',
    axes: { y: 'ms' },
    x: xs,
    lines: latLines,
    markers,
    ...(hasData(latLines) ? {} : { empty: 'No per-step latency: the engine and platform ACK histograms have no data in the steady windows.' }),
  });
  // throughput: measurements at the step counts, the USL model on its own denser grid merged in
  const curve = a.usl?.curve ?? [];
  const allX = [...new Set([...xs, ...curve.map(([n]) => Math.round(n * 100) / 100)])].sort((p, q) => p - q);
  const at = (n: number, f: (s: (typeof steps)[number]) => number | undefined) => {
    const s = steps.filter((x) => x.devices === n);
    const v = s.length ? f(s[s.length - 1]) : undefined;
    return v === undefined ? null : v;
  };
  const thrLines: ChartLine[] = [
    { label: 'stored records/s (measured)', values: allX.map((n) => at(n, (s) => s.storedRate)), color: C.purple, points: true },
    { label: 'sent records/s (measured)', values: allX.map((n) => at(n, (s) => s.sentRate)), color: C.blue, points: true },
  ];
  if (a.usl) {
    const m = new Map(curve.map(([n, x]) => [Math.round(n * 100) / 100, x]));
    thrLines.push({ label: `USL fit (σ=${a.usl.sigma.toPrecision(3)}, κ=${a.usl.kappa.toPrecision(3)}, R²=${a.usl.r2.toFixed(3)})`, values: allX.map((n) => m.get(n) ?? null), color: C.grey, dash: true });
  }
  const thrMarkers = [...markers];
  if (a.usl?.nStar && a.usl.nStar <= (allX[allX.length - 1] ?? 0)) thrMarkers.push({ x: a.usl.nStar, label: `N* ${Math.round(a.usl.nStar)}`, color: C.red });
  out.push({
    id: 'cap-throughput',
    title: 'Throughput per step and the Universal Scalability Law fit',
    kind: 'xy',
    xLabel: 'devices',
    axes: { y: 'records/s' },
    x: allX,
    lines: thrLines,
    markers: thrMarkers,
    ...(hasData(thrLines) ? {} : { empty: 'No per-step throughput: the record counters have no data in the steady windows.' }),
  });
  return out;
}
