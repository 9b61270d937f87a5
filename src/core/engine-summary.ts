// The engine's end-of-run summary (<run>/engine-summary.json, and `fleetload generate --summary FILE`): a contract.
// The engine writes it; SLO objectives with `source: engine` read paths into it (e.g. ackLatencyMs.p95); reports
// and `compare` show it. Latencies are milliseconds from exact histograms (HdrHistogram, 3 significant digits);
// a latency block is absent when it has no sample, so an objective on it says "no data", never 0.
// Change field meanings only on purpose; add fields freely.

export const ENGINE_SUMMARY_FILE = 'engine-summary.json';
export const ENGINE_SUMMARY_FORMAT = 'fleetload-engine-summary';

export interface LatencyFigures {
  count: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  max: number;
}

export interface EngineSummary {
  format: typeof ENGINE_SUMMARY_FORMAT;
  version: 1;
  runId: string;
  seed: number;
  /** fleetload version that wrote it */
  fleetload: string;
  /** when the engine started its devices, and when the last one stopped (ISO) */
  loadStart: string;
  loadEnd: string;
  /** the profile's stage boundaries on the engine's clock */
  stages: Array<{ name: string; devices: number; start: string; end: string }>;
  /** shard i of n (1/1 for a single process) */
  shard: { index: number; count: number };
  devices: { planned: number; connectedPeak: number };
  records: { sent: number; acked: number; resent: number; unsent: number; lost: number };
  packets: { sent: number; acked: number };
  logins: number;
  reconnects: number;
  connects: number;
  disconnects: number;
  keepAlives: number;
  /** device errors by reason (every reason present, 0 when none) */
  errors: Record<string, number>;
  linkOutages: { drop: number; storm: number };
  outagesUnrecovered: number;
  /** per packet: ACK time − the packet's due time */
  ackLatencyMs?: LatencyFigures;
  /** per record: ACK time − the record's own timestamp (a record buffered 20 s shows 20 s) */
  recordLatencyMs?: LatencyFigures;
  loginLatencyMs?: LatencyFigures;
  sendLagMs?: LatencyFigures;
  /** per disruption: first failure → logged in again with the backlog ACKed */
  recoveryMs?: LatencyFigures;
  api: {
    /** whether the profile ran API clients in this run */
    configured: boolean;
    /** arrivals the schedule offered */
    offered: number;
    /** requests that completed or failed (offered − dropped) */
    requests: number;
    succeeded: number;
    /** failures for the client by class: 4xx, 5xx, timeout, refused, reset, other */
    errors: Record<string, number>;
    /** 429 answers, apart from errors */
    throttled: number;
    /** arrivals not sent because the pool was full */
    dropped: number;
    latencyMs?: LatencyFigures;
    byEndpoint: Record<string, { requests: number; succeeded: number; errors: number; throttled: number; latencyMs?: LatencyFigures }>;
  };
  ws: {
    configured: boolean;
    clients: number;
    connected: number;
    /** failures by reason: refused, dropped, json, error */
    errors: Record<string, number>;
    messages: number;
    expected: number;
    received: number;
    missed: number;
    freshnessMs?: LatencyFigures;
  };
  generator: {
    workers: number;
    rssPeakBytes: number;
    cpuSeconds: number;
    /** cpuSeconds over the wall time and the machine's cores (0..1) */
    cpuShareOfMachine: number;
    cores: number;
    /** the worst event-loop delay p99 over the run of any engine thread (main included), ms */
    eventLoopDelayP99MaxMs: number;
    generatorErrors: number;
    /** why the generator, not the target, may have been the bottleneck; non-empty = the run is invalid */
    invalidReasons: string[];
  };
  ledger: { files: string[]; entries: number; records: number };
  /** exact histograms by Stats series key (base64 HdrHistogram), for exact merges across shards */
  histograms: Record<string, string>;
}
