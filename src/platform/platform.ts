// Wires the reference platform together: PostgreSQL pool + migration, batch writer, TCP ingest, HTTP API,
// WebSocket feed, metrics and fault knobs; and the graceful shutdown order (stop accepting -> flush ->
// send pending ACKs -> close connections -> close the pool).
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { pino, type Logger } from 'pino';
import { BatchWriter } from './batch-writer.js';
import { deviceConnectionCap, describePgUrl, resolveConfig, type PlatformConfig, type PlatformOptions } from './config.js';
import { Faults } from './faults.js';
import type { FastifyInstance } from 'fastify';
import { buildHttpApi, type HttpApiDeps } from './http-api.js';
import { createMetrics, type Metrics } from './metrics.js';
import { PartitionManager, migrate, monthKey } from './schema.js';
import { TcpIngest } from './tcp-ingest.js';
import { WsFeed } from './ws-feed.js';

export interface PlatformHandle {
  tcpPort: number;
  httpPort: number;
  config: Readonly<PlatformConfig>;
  /** Graceful shutdown; idempotent. */
  close(): Promise<void>;
  metricsText(): Promise<string>;
}

export type StartPlatformOptions = PlatformOptions & { logger?: Logger };

export function defaultLogger(level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { service: 'fleetload-platform' } }, pino.destination({ fd: 2, sync: true }));
}

/** The soft open-file limit of this process (Linux /proc), or undefined where it cannot be read. */
export function openFileLimit(): number | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const soft = line ? Number(line.split(/\s{2,}/)[1]) : Number.NaN;
    return Number.isSafeInteger(soft) ? soft : undefined;
  } catch {
    return undefined;
  }
}

export async function startPlatform(options: StartPlatformOptions): Promise<PlatformHandle> {
  const cfg = resolveConfig(options);
  const log = options.logger ?? defaultLogger();
  const fdCap = deviceConnectionLimit(cfg, log);
  const metrics = createMetrics({ defaultMetrics: cfg.defaultMetrics });
  const pool = openPool(cfg, log, metrics);
  const cleanups: Array<() => Promise<unknown> | void> = [() => pool.end()];
  try {
    const parts = await startIngest(cfg, pool, metrics, log, fdCap);
    const app = await buildHttpApi(httpApiDeps(cfg, parts));
    cleanups.push(() => app.close());
    const tcpPort = await parts.tcp.listen();
    cleanups.push(() => parts.tcp.stopAccepting());
    await app.listen({ host: cfg.host, port: cfg.httpPort });
    const addr = app.server.address();
    const httpPort = typeof addr === 'object' && addr ? addr.port : cfg.httpPort;
    logListening(cfg, log, tcpPort, httpPort, fdCap);
    return { tcpPort, httpPort, config: cfg, close: shutdownOnce(cfg, log, parts, app), metricsText: () => metrics.registry.metrics() };
  } catch (err) {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => {});
    throw err;
  }
}

/** Device connections allowed by the open-file limit; says so when that is below the configured maximum. */
function deviceConnectionLimit(cfg: PlatformConfig, log: Logger): number {
  const fdLimit = openFileLimit();
  const fdCap = deviceConnectionCap(cfg, fdLimit);
  if (fdCap < cfg.maxConnections || fdCap < cfg.maxConnectionsPerIp) {
    log.warn({ openFileLimit: fdLimit, fdReserve: cfg.fdReserve, deviceConnections: fdCap }, 'device connections capped by the open-file limit minus the reserve for HTTP');
  }
  return fdCap;
}

function openPool(cfg: PlatformConfig, log: Logger, metrics: Metrics): pg.Pool {
  const pool = new pg.Pool({
    connectionString: cfg.pgUrl,
    max: cfg.poolSize,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    application_name: 'fleetload-platform',
  });
  // Idle clients whose server went away emit 'error'; without a listener that would crash the process.
  pool.on('error', (err) => log.warn({ err: err.message }, 'idle PostgreSQL connection failed'));
  metrics.setPoolStats(() => pool);
  log.info({ db: describePgUrl(cfg.pgUrl) }, 'connecting to PostgreSQL');
  return pool;
}

interface Parts {
  pool: pg.Pool;
  metrics: Metrics;
  log: Logger;
  faults: Faults;
  writer: BatchWriter;
  feed: WsFeed;
  tcp: TcpIngest;
}

/** Schema and partitions, then the writer, the WebSocket feed on its commits, and the TCP ingest (not yet listening). */
async function startIngest(cfg: PlatformConfig, pool: pg.Pool, metrics: Metrics, log: Logger, fdCap: number): Promise<Parts> {
  await migrate(pool, log);
  const faults = new Faults(log, metrics, cfg.faults);
  const partitions = new PartitionManager(pool, log);
  const now = monthKey(Date.now());
  await partitions.ensure([now, now + 1]);
  const writer = new BatchWriter(pool, partitions, metrics, faults, log, {
    batchMaxRows: cfg.batchMaxRows,
    batchMaxAgeMs: cfg.batchMaxAgeMs,
    concurrency: cfg.writerConcurrency,
    maxQueuedRecords: cfg.maxQueuedRecords,
    retryBaseMs: cfg.retryBaseMs,
    retryMaxMs: cfg.retryMaxMs,
    maxFutureSkewMs: cfg.maxFutureSkewMs,
  });
  metrics.dbUp.set(1);
  const feed = new WsFeed(metrics, log, {
    maxClients: cfg.maxWsClients,
    maxSubscriptions: cfg.wsMaxSubscriptions,
    maxBufferedBytes: cfg.wsMaxBufferedBytes,
    graceMs: cfg.wsSlowGraceMs,
    controlPerSec: cfg.wsControlPerSec,
  });
  writer.onCommitted(feed.onCommitted);
  const tcp = new TcpIngest(
    {
      host: cfg.host,
      port: cfg.tcpPort,
      maxConnections: cfg.maxConnections,
      maxConnectionsPerIp: cfg.maxConnectionsPerIp,
      loginTimeoutMs: cfg.loginTimeoutMs,
      idleTimeoutMs: cfg.idleTimeoutMs,
      maxFrameBytes: cfg.maxFrameBytes,
      allowImeis: cfg.allowImeis,
      maxUnackedPerConnection: cfg.maxUnackedPerConnection,
      fdCap,
      maxFutureSkewMs: cfg.maxFutureSkewMs,
    },
    writer,
    metrics,
    faults,
    log.child({ component: 'tcp' }),
  );
  return { pool, metrics, log, faults, writer, feed, tcp };
}

function httpApiDeps(cfg: PlatformConfig, { pool, writer, metrics, faults, feed, log, tcp }: Parts): HttpApiDeps {
  return {
    pool,
    writer,
    metrics,
    faults,
    feed,
    log,
    apiToken: cfg.apiToken,
    status: () => ({ tcpConnections: tcp.connections, websocketClients: feed.size, pendingRecords: writer.pending }),
    disconnectDevices: (refuseMs) => tcp.dropAllConnections(refuseMs),
    enableAdmin: cfg.enableAdmin,
    limits: {
      requestTimeoutMs: cfg.requestTimeoutMs,
      connectionTimeoutMs: cfg.connectionTimeoutMs,
      bodyLimitBytes: cfg.bodyLimitBytes,
      maxFutureSkewMs: cfg.maxFutureSkewMs,
      maxQueuedRecords: cfg.maxQueuedRecords,
    },
  };
}

function logListening(cfg: PlatformConfig, log: Logger, tcpPort: number, httpPort: number, fdCap: number): void {
  log.info(
    {
      host: cfg.host,
      tcpPort,
      httpPort,
      batchMaxRows: cfg.batchMaxRows,
      batchMaxAgeMs: cfg.batchMaxAgeMs,
      maxQueuedRecords: cfg.maxQueuedRecords,
      auth: cfg.apiToken ? 'bearer' : 'none',
      allowList: cfg.allowImeis ? cfg.allowImeis.size : 'off',
      admin: cfg.enableAdmin ? 'on' : 'off',
      deviceConnections: fdCap,
    },
    'platform listening',
  );
}

/** The graceful shutdown order (stop accepting -> flush -> pending ACKs -> close connections -> pool); idempotent. */
function shutdownOnce(cfg: PlatformConfig, log: Logger, { tcp, writer, feed, pool }: Parts, app: FastifyInstance): () => Promise<void> {
  let closing: Promise<void> | undefined;
  return () =>
    (closing ??= (async () => {
      const started = performance.now();
      const deadline = started + cfg.shutdownTimeoutMs;
      log.info({ pending: writer.pending, connections: tcp.connections }, 'shutting down: no new connections, flushing');
      tcp.stopAccepting();
      const httpClosed = app.close().catch((err) => log.warn({ err }, 'HTTP close failed'));
      await writer.drain(deadline);
      await tcp.closeConnections(deadline);
      feed.closeAll();
      await Promise.race([httpClosed, new Promise((r) => setTimeout(r, Math.max(0, deadline - performance.now())).unref())]);
      await pool.end().catch(() => {});
      log.info({ ms: Math.round(performance.now() - started) }, 'platform stopped');
    })());
}
