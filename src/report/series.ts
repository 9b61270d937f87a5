// The time series a report charts: fetched from Prometheus once at the end of a run (query_range over the
// run window), stored in the run folder as series.json, and read back by `fleetload report` so every
// output can be rebuilt with the stack gone. Raw cumulative counters and histogram buckets are stored
// (not rates), so per-step figures are computed exactly from the same points online and offline.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { authHint, endpointUrl, toEndpoint, type PrometheusEndpoint } from '../run/prometheus-endpoint.js';
import { valueAt, type Point, type StoredSeries } from './capacity/prommath.js';

export const SERIES_FILE = 'series.json';
export const SERIES_FORMAT = 'fleetload-series/1';

export type SeriesKind = 'counter' | 'gauge' | 'histogram';

export interface SeriesDef {
  id: string;
  kind: SeriesKind;
  /** unit of the stored values (counters: unit of what is counted) */
  unit: string;
  /** PromQL with $testid and $job placeholders */
  query: string;
  /** k6 creates a counter's series on its first increment: count it from zero */
  fromZero?: boolean;
  help: string;
}

/** Job name the reference platform is scraped under. */
export const PLATFORM_JOB = 'fleet-platform';

const k6c = (id: string, metric: string, help: string, unit = 'records'): SeriesDef => ({
  id,
  kind: 'counter',
  unit,
  query: `sum(${metric}{testid="$testid"})`,
  fromZero: true,
  help,
});
const platformC = (id: string, metric: string, help: string, unit = 'records', extra = ''): SeriesDef => ({
  id,
  kind: 'counter',
  unit,
  query: `sum(${metric}{job="$job"${extra}})`,
  help,
});
const hist = (id: string, metric: string, unit: string, help: string, extra = ''): SeriesDef => ({
  id,
  kind: 'histogram',
  unit,
  query: `sum by (le) (${metric}_bucket{job="$job"${extra}})`,
  help,
});
const gauge = (id: string, query: string, unit: string, help: string): SeriesDef => ({ id, kind: 'gauge', unit, query, help });

/** Everything the report fetches. Ids are stable: charts, capacity analysis and compare refer to them. */
export const SERIES_DEFS: SeriesDef[] = [
  // k6 client side (remote write, tagged testid)
  k6c('k6_records_sent', 'k6_fleet_records_sent_total', 'records the simulated devices sent (no resends)'),
  k6c('k6_records_acked', 'k6_fleet_records_acked_total', 'records the platform ACKed to the devices'),
  k6c('k6_records_resent', 'k6_fleet_records_resent_total', 'records resent after a missing ACK'),
  k6c('k6_packets_sent', 'k6_fleet_packets_sent_total', 'AVL packets sent', 'packets'),
  k6c('k6_logins', 'k6_fleet_logins_total', 'device logins', 'logins'),
  { ...k6c('k6_device_errors', 'k6_fleet_device_errors_total', 'device errors by reason', 'errors'), query: 'sum by (reason) (k6_fleet_device_errors_total{testid="$testid"})' },
  gauge('k6_connected_devices', 'sum(k6_fleet_connected_devices{testid="$testid"})', 'devices', 'devices connected (k6 view)'),
  gauge('k6_ack_latency_p50', 'max(k6_fleet_ack_latency_p50{testid="$testid"})', 's', 'k6 ACK latency p50, cumulative since test start'),
  gauge('k6_ack_latency_p95', 'max(k6_fleet_ack_latency_p95{testid="$testid"})', 's', 'k6 ACK latency p95, cumulative since test start'),
  gauge('k6_ack_latency_p99', 'max(k6_fleet_ack_latency_p99{testid="$testid"})', 's', 'k6 ACK latency p99, cumulative since test start'),
  gauge('k6_ws_freshness_p95', 'max(k6_fleet_ws_freshness_p95{testid="$testid"})', 's', 'WebSocket freshness p95 at the k6 client, cumulative'),
  gauge('k6_http_req_duration_p95', 'max by (endpoint) (k6_http_req_duration_p95{testid="$testid"})', 's', 'k6 HTTP request duration p95 by endpoint, cumulative'),
  // platform side (scraped)
  platformC('platform_received', 'telemetry_records_received_total', 'records the platform received'),
  platformC('platform_inserted', 'telemetry_records_inserted_total', 'rows the platform committed'),
  platformC('platform_duplicate', 'telemetry_records_duplicate_total', 'records dropped as duplicates'),
  platformC('http_requests', 'http_requests_total', 'REST API requests', 'requests', ',route=~"/v1/.*"'),
  platformC('http_requests_5xx', 'http_requests_total', 'REST API 5xx responses', 'requests', ',route=~"/v1/.*",status=~"5.."'),
  gauge('tcp_connections', 'sum(tcp_connections_active{job="$job"})', 'connections', 'open device TCP connections (platform view)'),
  gauge('ws_connections', 'sum(websocket_connections_active{job="$job"})', 'connections', 'open WebSocket connections'),
  gauge('writer_queue', 'sum(writer_queued_records{job="$job"})', 'records', 'records received but not yet committed'),
  gauge('db_pool_waiting', 'sum(database_pool_waiting{job="$job"})', 'queries', 'queries waiting for a pool connection'),
  hist('ack_duration', 'tcp_ack_duration_seconds', 's', 'frame received to ACK written (includes the commit)'),
  hist('batch_duration', 'db_batch_insert_duration_seconds', 's', 'batch INSERT duration'),
  hist('batch_size', 'db_batch_size', 'records', 'records per batch INSERT'),
  hist('ingest_lag', 'telemetry_ingest_lag_seconds', 's', 'device timestamp to commit'),
  hist('http_duration', 'http_request_duration_seconds', 's', 'REST API request duration', ',route=~"/v1/.*"'),
  platformC('batch_size_sum', 'db_batch_size_sum', 'sum of batch sizes (for the mean)'),
  // processes (every scraped job: the platform, and a generator job when one is scraped)
  { id: 'process_cpu', kind: 'counter', unit: 's', query: 'sum by (job) (process_cpu_seconds_total)', help: 'CPU seconds by job' },
  gauge('process_rss', 'sum by (job) (process_resident_memory_bytes)', 'bytes', 'resident memory by job'),
  gauge('eventloop_lag_p99', 'max by (job) (nodejs_eventloop_lag_p99_seconds)', 's', 'Node event-loop lag p99 by job'),
];

export interface StoredQuery {
  id: string;
  kind: SeriesKind;
  unit: string;
  fromZero?: boolean;
  /** the PromQL actually sent */
  query: string;
  status: 'ok' | 'empty' | 'error';
  error?: string;
  series: StoredSeries[];
}

export interface SeriesFile {
  format: typeof SERIES_FORMAT;
  runId: string;
  /** Prometheus the points came from (no credentials) */
  source: string;
  /** query_range start/end (ISO) and resolution */
  start: string;
  end: string;
  stepSeconds: number;
  fetchedAt: string;
  queries: StoredQuery[];
}

export function expandQuery(def: Pick<SeriesDef, 'query'>, vars: { testid: string; job?: string }): string {
  return def.query.replaceAll('$testid', vars.testid).replaceAll('$job', vars.job ?? PLATFORM_JOB);
}

/** Resolution for a window: 1 s for short runs, coarser so that no series exceeds ~1500 points. */
export function chooseStep(durationSec: number, minStepSec = 1): number {
  return Math.max(minStepSec, Math.ceil(durationSec / 1500));
}

export interface FetchSeriesOptions {
  /** a URL (credentials in it or in PROMETHEUS_* variables) or a resolved endpoint */
  prometheusUrl: string | PrometheusEndpoint;
  runId: string;
  start: Date | string;
  end: Date | string;
  job?: string;
  stepSeconds?: number;
  /** seconds fetched before the start so counters have an anchor (default 2 steps) */
  padSeconds?: number;
  /** the k6 process's own CPU/RSS samples (generator-health.ts), stored beside the Prometheus series */
  generatorPoints?: Array<[number, number, number]>;
  /** stored in the file instead of prometheusUrl (use the redacted URL) */
  sourceLabel?: string;
  timeoutMs?: number;
  defs?: SeriesDef[];
}

interface PromMatrix {
  status: string;
  error?: string;
  data?: { resultType: string; result: Array<{ metric: Record<string, string>; values: Array<[number, string]> }> };
}

function num(v: string): number | null {
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

/**
 * Runs every series query over the window and returns the file content (nothing written). A query that
 * fails is recorded with its error instead of failing the whole fetch; an unreachable Prometheus throws.
 */
export async function fetchSeries(o: FetchSeriesOptions): Promise<SeriesFile> {
  const startMs = new Date(o.start).getTime();
  const endMs = new Date(o.end).getTime();
  const step = o.stepSeconds ?? chooseStep((endMs - startMs) / 1000);
  const pad = o.padSeconds ?? 2 * step;
  const qs = Math.floor(startMs / 1000) - pad;
  const qe = Math.ceil(endMs / 1000) + step;
  const ep = toEndpoint(o.prometheusUrl);
  const defs = o.defs ?? SERIES_DEFS;
  const queries = await Promise.all(
    defs.map(async (def): Promise<StoredQuery> => {
      const query = expandQuery(def, { testid: o.runId, job: o.job });
      const head = { id: def.id, kind: def.kind, unit: def.unit, ...(def.fromZero ? { fromZero: true } : {}), query };
      const body = new URLSearchParams({ query, start: String(qs), end: String(qe), step: String(step) });
      let res: Response;
      try {
        res = await fetch(endpointUrl(ep, 'api/v1/query_range'), { method: 'POST', headers: ep.headers, body, signal: AbortSignal.timeout(o.timeoutMs ?? 30_000) });
      } catch (e) {
        throw new Error(`Prometheus at ${o.sourceLabel ?? ep.redacted} is unreachable: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
      }
      let json: PromMatrix;
      try {
        json = (await res.json()) as PromMatrix;
      } catch {
        return { ...head, status: 'error', error: `HTTP ${res.status}${authHint(ep, res.status)}: not JSON`, series: [] };
      }
      if (json.status !== 'success' || !json.data) return { ...head, status: 'error', error: json.error ?? `HTTP ${res.status}`, series: [] };
      const series: StoredSeries[] = json.data.result
        .map((r) => ({ labels: r.metric, points: r.values.map(([t, v]): Point => [t, num(v)]) }))
        .sort((a, b) => JSON.stringify(a.labels).localeCompare(JSON.stringify(b.labels)));
      return { ...head, status: series.some((s) => s.points.length > 0) ? 'ok' : 'empty', series };
    }),
  );
  if (o.generatorPoints) queries.push(...generatorQueries(o.generatorPoints, { start: qs, end: qe, step }));
  return {
    format: SERIES_FORMAT,
    runId: o.runId,
    source: o.sourceLabel ?? ep.redacted,
    start: new Date(qs * 1000).toISOString(),
    end: new Date(qe * 1000).toISOString(),
    stepSeconds: step,
    fetchedAt: new Date().toISOString(),
    queries,
  };
}

export const GENERATOR_JOB = 'k6 (generator)';

/**
 * The load generator's CPU and RSS as two stored "queries", so the process chart shows k6 next to the platform
 * even when no Prometheus scrapes k6 (an external Prometheus never does).
 */
export function generatorQueries(points: Array<[number, number, number]>, grid?: { start: number; end: number; step: number }): StoredQuery[] {
  const labels = { job: GENERATOR_JOB };
  const cpu: Point[] = points.map(([t, c]) => [t, c]);
  const rss: Point[] = points.map(([t, , r]) => [t, r]);
  const status = points.length > 0 ? 'ok' : 'empty';
  return [
    { id: 'generator_cpu', kind: 'counter', unit: 's', query: 'k6 process CPU seconds (user + system), sampled from /proc by fleetload', status, series: [{ labels, points: grid ? onStepGrid(cpu, grid) : cpu }] },
    { id: 'generator_rss', kind: 'gauge', unit: 'bytes', query: 'k6 process resident memory, sampled from /proc by fleetload', status, series: [{ labels, points: grid ? onStepGrid(rss, grid) : rss }] },
  ];
}

/**
 * Samples taken at their own times, put on a range query's step grid the way Prometheus evaluates one: at each
 * step, the last sample at or before it (none before the first sample or more than a step after the last).
 */
function onStepGrid(points: Point[], g: { start: number; end: number; step: number }): Point[] {
  if (points.length === 0) return [];
  const first = points[0][0];
  const last = points[points.length - 1][0];
  const out: Point[] = [];
  for (let t = g.start; t <= g.end; t += g.step) {
    if (t < first || t > last + g.step) continue;
    const v = valueAt(points, t);
    if (v !== undefined) out.push([t, v]);
  }
  return out;
}

export function writeSeries(runDir: string, file: SeriesFile): string {
  const path = join(runDir, SERIES_FILE);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(file)}\n`);
  renameSync(tmp, path);
  return path;
}

/** series.json of a run folder, or undefined when the run has none (e.g. Prometheus was unreachable). */
export function readSeries(runDir: string): SeriesFile | undefined {
  let text: string;
  try {
    text = readFileSync(join(runDir, SERIES_FILE), 'utf8');
  } catch {
    return undefined;
  }
  const f = JSON.parse(text) as SeriesFile;
  if (f.format !== SERIES_FORMAT) throw new Error(`${join(runDir, SERIES_FILE)}: unknown format ${String(f.format)} (expected ${SERIES_FORMAT})`);
  return f;
}

export function findQuery(file: SeriesFile | undefined, id: string): StoredQuery | undefined {
  return file?.queries.find((q) => q.id === id);
}

/**
 * Fetches and writes series.json for a finished run: the lead calls this from run.ts after the settle wait,
 * while Prometheus is still up. Returns the path, or undefined (with the reason logged) when Prometheus
 * could not be read: a report without charts is better than no report.
 */
export async function captureSeries(
  runDir: string,
  o: FetchSeriesOptions,
  log: (line: string) => void = () => {},
): Promise<string | undefined> {
  try {
    const file = await fetchSeries(o);
    const failed = file.queries.filter((q) => q.status === 'error');
    for (const q of failed) log(`series ${q.id}: ${q.error}`);
    return writeSeries(runDir, file);
  } catch (e) {
    log(`time series not stored: ${e instanceof Error ? e.message : String(e)}`);
    return undefined;
  }
}
