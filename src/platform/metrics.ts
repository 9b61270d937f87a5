// Prometheus metrics of the reference platform. The names are a contract with the verifier's default SLO
// file: rename nothing without changing that file too. One Registry per platform so several platforms can
// run in one process (tests).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const DB_BATCH_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
export const INGEST_LAG_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300];
export const ACK_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10, 30];
export const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2.5, 5, 10];
export const BATCH_SIZE_BUCKETS = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

export interface PoolStats {
  totalCount: number;
  idleCount: number;
  waitingCount: number;
}

export function createMetrics(opts: { defaultMetrics?: boolean } = {}) {
  const registry = new Registry();
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  let poolStats: () => PoolStats = () => ({ totalCount: 0, idleCount: 0, waitingCount: 0 });
  // The groups are created in this order because /metrics lists metrics in the order they were registered.
  return {
    registry,
    ...deviceTcpMetrics(registers),
    ...recordMetrics(registers),
    ...writerMetrics(registers),
    ...httpMetrics(registers),
    ...webSocketMetrics(registers),
    ...poolMetrics(registers, () => poolStats()),
    faultActive: new Gauge({ name: 'platform_fault_active', help: 'Value of each fault knob (0 = off)', labelNames: ['knob'] as const, registers }),
    setPoolStats(fn: () => PoolStats) {
      poolStats = fn;
    },
  };
}

/** Device TCP sessions: connections, logins, refused frames and the time to ACK. */
function deviceTcpMetrics(registers: Registry[]) {
  return {
    tcpConnectionsActive: new Gauge({ name: 'tcp_connections_active', help: 'Open device TCP connections', registers }),
    tcpConnectionsTotal: new Counter({ name: 'tcp_connections_total', help: 'Accepted device TCP connections', registers }),
    tcpConnectionsRejected: new Counter({
      name: 'tcp_connections_rejected_total',
      help: 'Device TCP connections refused or closed by the server, by reason',
      labelNames: ['reason'] as const,
      registers,
    }),
    tcpLogins: new Counter({ name: 'tcp_logins_total', help: 'Login frames answered, by result', labelNames: ['result'] as const, registers }),
    tcpFramesRejected: new Counter({
      name: 'tcp_frames_rejected_total',
      help: 'Malformed or unexpected TCP frames (the connection is closed), by reason',
      labelNames: ['reason'] as const,
      registers,
    }),
    tcpAckDuration: new Histogram({
      name: 'tcp_ack_duration_seconds',
      help: 'Time from an AVL frame being received to its ACK being written (includes the database commit)',
      buckets: ACK_BUCKETS,
      registers,
    }),
    tcpPaused: new Gauge({ name: 'tcp_ingest_paused', help: '1 while device sockets are paused because the write queue is full', registers }),
  };
}

/** Telemetry records from receipt to their fate (stored, deduplicated, dropped or refused), then per-socket back-pressure. */
function recordMetrics(registers: Registry[]) {
  return {
    recordsReceived: new Counter({ name: 'telemetry_records_received_total', help: 'Telemetry records received (TCP and HTTP)', registers }),
    recordsInserted: new Counter({ name: 'telemetry_records_inserted_total', help: 'Telemetry rows committed to PostgreSQL', registers }),
    recordsDuplicate: new Counter({
      name: 'telemetry_records_duplicate_total',
      help: 'Records dropped by dedupe (same device and timestamp already stored)',
      registers,
    }),
    recordsFaultDropped: new Counter({
      name: 'telemetry_records_fault_dropped_total',
      help: 'Records acknowledged but deliberately not stored (fault knob ackedNotStoredRatio)',
      registers,
    }),
    recordsFaultDuplicated: new Counter({
      name: 'telemetry_records_fault_duplicated_total',
      help: 'Records deliberately stored a second time (fault knob duplicateRatio)',
      registers,
    }),
    recordsRejected: new Counter({
      name: 'telemetry_records_rejected_total',
      help: 'Records the database refused for their data (isolated by bisecting the batch; not acknowledged)',
      registers,
    }),
    recordsImplausibleTime: new Counter({
      name: 'telemetry_records_implausible_time_total',
      help: 'Records whose device timestamp is outside the plausibility window (before 2000 or too far ahead of receive time), by reason and path; TCP ones are stored and ACKed, HTTP ones answered 400',
      labelNames: ['reason', 'path'] as const,
      registers,
    }),
    tcpBackpressure: new Counter({
      name: 'tcp_connection_backpressure_total',
      help: 'Times one device socket was paused because it had too many packets waiting for their ACK',
      registers,
    }),
  };
}

/** The batch writer: INSERT statements, its queue and the lag from device timestamp to commit. */
function writerMetrics(registers: Registry[]) {
  return {
    dbBatchInsertDuration: new Histogram({
      name: 'db_batch_insert_duration_seconds',
      help: 'Duration of one batch INSERT statement (autocommit, so up to its commit)',
      buckets: DB_BATCH_BUCKETS,
      registers,
    }),
    dbBatchSize: new Histogram({ name: 'db_batch_size', help: 'Records per batch INSERT', buckets: BATCH_SIZE_BUCKETS, registers }),
    dbBatchErrors: new Counter({ name: 'db_batch_errors_total', help: 'Failed batch INSERTs (retried)', registers }),
    dbUp: new Gauge({ name: 'db_up', help: '1 when the last database statement of the writer succeeded', registers }),
    writerQueuedRecords: new Gauge({
      name: 'writer_queued_records',
      help: 'Records received but not yet committed (queued and in flight)',
      registers,
    }),
    ingestLag: new Histogram({
      name: 'telemetry_ingest_lag_seconds',
      help: 'Device record timestamp to database commit, observed right after the commit',
      buckets: INGEST_LAG_BUCKETS,
      registers,
    }),
  };
}

function httpMetrics(registers: Registry[]) {
  return {
    httpRequests: new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests',
      labelNames: ['method', 'route', 'status'] as const,
      registers,
    }),
    httpDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration',
      labelNames: ['method', 'route'] as const,
      buckets: HTTP_BUCKETS,
      registers,
    }),
  };
}

function webSocketMetrics(registers: Registry[]) {
  return {
    wsActive: new Gauge({ name: 'websocket_connections_active', help: 'Open WebSocket connections', registers }),
    wsMessages: new Counter({ name: 'websocket_messages_sent_total', help: 'Records pushed to WebSocket clients', registers }),
    wsDropped: new Counter({
      name: 'websocket_messages_dropped_total',
      help: 'Records not pushed because a WebSocket client was too slow',
      registers,
    }),
    wsEvictions: new Counter({
      name: 'websocket_evictions_total',
      help: 'WebSocket clients closed by the server, by reason (slow: over the buffered-bytes cap past the grace period; control_rate; subscriptions)',
      labelNames: ['reason'] as const,
      registers,
    }),
    wsRejected: new Counter({
      name: 'websocket_connections_rejected_total',
      help: 'WebSocket upgrades refused, by reason',
      labelNames: ['reason'] as const,
      registers,
    }),
  };
}

/** PostgreSQL pool gauges, read from the pool on every scrape (setPoolStats swaps the source). */
function poolMetrics(registers: Registry[], poolStats: () => PoolStats) {
  return {
    dbPoolActive: new Gauge({
      name: 'database_pool_active',
      help: 'PostgreSQL pool connections in use',
      registers,
      collect() {
        const s = poolStats();
        this.set(s.totalCount - s.idleCount);
      },
    }),
    dbPoolIdle: new Gauge({
      name: 'database_pool_idle',
      help: 'PostgreSQL pool connections idle',
      registers,
      collect() {
        this.set(poolStats().idleCount);
      },
    }),
    dbPoolWaiting: new Gauge({
      name: 'database_pool_waiting',
      help: 'Queries waiting for a PostgreSQL pool connection',
      registers,
      collect() {
        this.set(poolStats().waitingCount);
      },
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
