// The time series a report charts: fetched from Prometheus once at the end of a run (query_range over the
// run window), stored in the run folder as series.json, and read back by `fleetload report` so every
// output can be rebuilt with the stack gone. Raw cumulative counters and histogram buckets are stored
// (not rates), so per-step figures are computed exactly from the same points online and offline.
import { readFileSync } from 'node:fs';
import { authHint, endpointUrl, toEndpoint, type PrometheusEndpoint } from '../core/prometheus-endpoint.js';
import { valueAt, type Point, type StoredSeries } from './capacity/prommath.js';
import { runFile, writeJsonAtomic } from '../core/run-folder.js';

export const SERIES_FORMAT = 'fleetload-series/1';

export type SeriesKind = 'counter' | 'gauge' | 'histogram';

export interface SeriesDef {
  id: string;
  kind: SeriesKind;
  /** unit of the stored values (counters: unit of what is counted) */
  unit: string;
  /** PromQL with $run_id, $job (the platform) and $engine_job placeholders */
  query: string;
  /**
   * The counter starts at 0 with its process: a series whose first sample inside the window is already above 0
   * counted those in the run (the engine is started per run; Prometheus's first scrape can come after its first
   * increments).
   */
  fromZero?: boolean;
  help: string;
}

/** Job name the reference platform is scraped under. */
const PLATFORM_JOB = 'fleet-platform';
/** Job name Prometheus scrapes the load engine under (every engine series also carries run_id). */
export const ENGINE_JOB = 'fleetload-engine';

// The engine's Prometheus names (src/engine/catalogue.ts promName(): counters fleetload_<id>_total, histograms
// fleetload_<id>_seconds, gauges fleetload_<id>). Spelled out here because report/ does not import engine/;
// test/dashboards checks every name against the catalogue.
const RUN = 'run_id="$run_id"';
const engineC = (id: string, metric: string, help: string, unit = 'records', by = ''): SeriesDef => ({
  id,
  kind: 'counter',
  unit,
  query: `sum${by ? ` by (${by})` : ''} (${metric}{${RUN}})`,
  fromZero: true,
  help,
});
const engineH = (id: string, metric: string, help: string): SeriesDef => ({
  id,
  kind: 'histogram',
  unit: 's',
  query: `sum by (le) (${metric}_bucket{${RUN}})`,
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
  // engine (client) side, scraped as $engine_job, every series labelled run_id
  engineC('engine_records_sent', 'fleetload_records_sent_total', 'records the simulated devices sent (first send only)'),
  engineC('engine_records_acked', 'fleetload_records_acked_total', 'records the platform ACKed to the devices'),
  engineC('engine_records_resent', 'fleetload_records_resent_total', 'records in packets resent after a missing or wrong ACK'),
  engineC('engine_packets_sent', 'fleetload_packets_sent_total', 'AVL packets written (resends included)', 'packets'),
  engineC('engine_logins', 'fleetload_logins_total', 'device logins accepted', 'logins'),
  engineC('engine_device_errors', 'fleetload_device_errors_total', 'device errors by reason', 'errors', 'reason'),
  gauge('engine_devices_connected', `sum(fleetload_devices_connected{${RUN}})`, 'devices', 'devices with an open TCP connection (engine view, summed over shards)'),
  engineH('engine_ack_latency', 'fleetload_ack_latency_seconds', 'per packet: ACK time minus the packet\'s due time'),
  engineH('engine_record_latency', 'fleetload_record_latency_seconds', 'per record: ACK time minus the record\'s own timestamp'),
  engineC('engine_api_requests', 'fleetload_api_requests_total', 'API requests completed or failed at the client', 'requests'),
  engineC('engine_api_errors', 'fleetload_api_errors_total', 'API requests that failed for the client, by class', 'requests', 'class'),
  engineH('engine_api_latency', 'fleetload_api_latency_seconds', 'API request duration at the client'),
  engineH('engine_ws_freshness', 'fleetload_ws_freshness_seconds', 'WebSocket receive time minus record timestamp'),
  gauge('engine_ws_clients', `sum(fleetload_ws_clients_connected{${RUN}})`, 'clients', 'WebSocket clients connected (engine view)'),
  gauge('engine_event_loop_delay_p99', `max by (job) (fleetload_event_loop_delay_p99_seconds{${RUN}})`, 's', 'event-loop delay p99 of the busiest engine thread'),
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
  // processes: the platform, and the engine of this run (prom-client's default process metrics)
  {
    id: 'process_cpu',
    kind: 'counter',
    unit: 's',
    query: `sum by (job) (process_cpu_seconds_total{job="$job"}) or sum by (job) (process_cpu_seconds_total{job="$engine_job",${RUN}})`,
    help: 'CPU seconds of the platform and of the engine',
  },
  gauge(
    'process_rss',
    `sum by (job) (process_resident_memory_bytes{job="$job"}) or sum by (job) (process_resident_memory_bytes{job="$engine_job",${RUN}})`,
    'bytes',
    'resident memory of the platform and of the engine',
  ),
  gauge('eventloop_lag_p99', 'max by (job) (nodejs_eventloop_lag_p99_seconds{job="$job"})', 's', 'platform Node event-loop lag p99'),
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

function expandQuery(def: Pick<SeriesDef, 'query'>, vars: { runId: string; job?: string; engineJob?: string }): string {
  return def.query.replaceAll('$run_id', vars.runId).replaceAll('$engine_job', vars.engineJob ?? ENGINE_JOB).replaceAll('$job', vars.job ?? PLATFORM_JOB);
}

/** Resolution for a window: 1 s for short runs, coarser so that no series exceeds ~1500 points. */
function chooseStep(durationSec: number, minStepSec = 1): number {
  return Math.max(minStepSec, Math.ceil(durationSec / 1500));
}

export interface FetchSeriesOptions {
  /** a URL (credentials in it or in PROMETHEUS_* variables) or a resolved endpoint */
  prometheusUrl: string | PrometheusEndpoint;
  runId: string;
  start: Date | string;
  end: Date | string;
  /** the platform's scrape job (default fleet-platform) */
  job?: string;
  /** the engine's scrape job (default fleetload-engine) */
  engineJob?: string;
  stepSeconds?: number;
  /** seconds fetched before the start so counters have an anchor (default 2 steps) */
  padSeconds?: number;
  /** the engine process's CPU/RSS sampled from /proc (generator-health.ts), stored beside the Prometheus series */
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
      const query = expandQuery(def, { runId: o.runId, job: o.job, engineJob: o.engineJob });
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

/** The label the /proc samples of the load generator carry: the engine's scrape job, so one line per process. */
const GENERATOR_JOB = ENGINE_JOB;

/**
 * The load engine's CPU and RSS sampled from /proc, as two stored "queries": the process chart shows the engine
 * next to the platform even when Prometheus did not scrape the engine's process metrics (the scraped ones win).
 */
export function generatorQueries(points: Array<[number, number, number]>, grid?: { start: number; end: number; step: number }): StoredQuery[] {
  const labels = { job: GENERATOR_JOB };
  const cpu: Point[] = points.map(([t, c]) => [t, c]);
  const rss: Point[] = points.map(([t, , r]) => [t, r]);
  const status = points.length > 0 ? 'ok' : 'empty';
  return [
    { id: 'generator_cpu', kind: 'counter', unit: 's', query: 'engine process CPU seconds (user + system), sampled from /proc by fleetload', status, series: [{ labels, points: grid ? onStepGrid(cpu, grid) : cpu }] },
    { id: 'generator_rss', kind: 'gauge', unit: 'bytes', query: 'engine process resident memory, sampled from /proc by fleetload', status, series: [{ labels, points: grid ? onStepGrid(rss, grid) : rss }] },
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
  return writeJsonAtomic(runFile(runDir, 'series'), file, 0);
}

/** series.json of a run folder, or undefined when the run has none (e.g. Prometheus was unreachable). */
export function readSeries(runDir: string): SeriesFile | undefined {
  let text: string;
  try {
    text = readFileSync(runFile(runDir, 'series'), 'utf8');
  } catch {
    return undefined;
  }
  const f = JSON.parse(text) as SeriesFile;
  if (f.format !== SERIES_FORMAT) throw new Error(`${runFile(runDir, 'series')}: unknown format ${String(f.format)} (expected ${SERIES_FORMAT})`);
  return f;
}

/**
 * Ids that run folders written by the k6 generator (before the engine) stored for the same figure, so
 * `fleetload report` and `compare` still read the device counters of an old run folder. Latency has no old
 * equivalent (k6 stored cumulative gauges, not histograms).
 */
const OLD_IDS: Record<string, string> = {
  engine_records_sent: 'k6_records_sent',
  engine_records_acked: 'k6_records_acked',
  engine_records_resent: 'k6_records_resent',
  engine_packets_sent: 'k6_packets_sent',
  engine_logins: 'k6_logins',
  engine_device_errors: 'k6_device_errors',
  engine_devices_connected: 'k6_connected_devices',
};

export function findQuery(file: SeriesFile | undefined, id: string): StoredQuery | undefined {
  const q = file?.queries.find((x) => x.id === id);
  if (q || !OLD_IDS[id]) return q;
  return file?.queries.find((x) => x.id === OLD_IDS[id]);
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
