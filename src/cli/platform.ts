// `fleetload platform`: runs the reference fleet platform in the foreground. Wiring only; the platform lives
// in src/platform. Contract: once listening, exactly one JSON line on stdout
// {"event":"ready","tcpPort":N,"httpPort":N}; every log line goes to stderr; SIGTERM/SIGINT shut down
// gracefully (flush, pending ACKs, close) and exit 0. A crash (uncaught exception, unhandled rejection) stops
// the embedded PostgreSQL and removes its temporary folder before exiting 1, so no server or folder is left behind.
import { readFileSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import type { Logger } from 'pino';
import { DEFAULTS, describePgUrl, resolveConfig, type PlatformOptions } from '../platform/config.js';
import { parseFaults, type FaultSettings } from '../platform/faults.js';
import { defaultLogger, startPlatform, type PlatformHandle } from '../platform/platform.js';
import { badInput, infraError } from '../core/errors.js';
import { collect, intOption } from './options.js';
import { secretFromEnv } from '../core/secrets.js';

interface PlatformFlags {
  pgUrl?: string;
  pgUrlFile?: string;
  pgDataDir?: string;
  host: string;
  tcpPort: number;
  httpPort: number;
  batchMaxRows: number;
  batchMaxAgeMs: number;
  writerConcurrency: number;
  maxQueuedRecords: number;
  maxConnections: number;
  maxConnPerIp: number;
  loginTimeoutMs: number;
  idleTimeoutMs: number;
  maxFrameBytes: number;
  poolSize: number;
  shutdownTimeoutMs: number;
  allowImei: string[];
  allowImeisFile?: string;
  apiTokenFile?: string;
  logLevel: string;
  faultHttpLatencyMs?: number;
  faultHttpErrorRatio?: number;
  faultAckedNotStoredRatio?: number;
  faultDuplicateRatio?: number;
  faultInsertDelayMs?: number;
  faultTcpResetPerSec?: number;
  enableAdmin: boolean;
  maxUnackedPerConn: number;
  fdReserve: number;
  httpRequestTimeoutMs: number;
  httpConnectionTimeoutMs: number;
  httpBodyLimitBytes: number;
  maxWsClients: number;
  wsMaxSubscriptions: number;
  wsMaxBufferedBytes: number;
  wsSlowGraceMs: number;
  wsControlPerSec: number;
  maxFutureSkewMs: number;
}

const ratio = (flag: string) => (v: string): number => {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError(`${flag}: expected a number from 0 to 1, got "${v}"`);
  return n;
};
const nonNegative = (flag: string) => (v: string): number => {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`${flag}: expected a number >= 0, got "${v}"`);
  return n;
};

function readText(what: string, file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (e) {
    throw badInput(`${what}: cannot read ${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

export function registerPlatform(program: Command): void {
  const d = DEFAULTS;
  program
    .command('platform')
    .description(
      'run the reference fleet platform (Teltonika TCP ingest, HTTP API, WebSocket feed, /metrics) in the foreground; ' +
        'prints {"event":"ready",...} on stdout when listening; logs go to stderr',
    )
    .option('--pg-url <url>', 'PostgreSQL URL (also PG_URL or PG_URL_FILE); without one an embedded PostgreSQL is started')
    .option('--pg-url-file <path>', 'file holding the PostgreSQL URL')
    .option('--pg-data-dir <dir>', 'data folder of the embedded PostgreSQL (default: a temporary folder)')
    .option('--host <host>', 'address to listen on', d.host)
    .option('--tcp-port <n>', 'Teltonika TCP port (0 = any free port)', intOption('--tcp-port'), d.tcpPort)
    .option('--http-port <n>', 'HTTP/WebSocket port (0 = any free port)', intOption('--http-port'), d.httpPort)
    .option('--batch-max-rows <n>', 'flush a batch at this many records', intOption('--batch-max-rows'), d.batchMaxRows)
    .option('--batch-max-age-ms <n>', 'flush a batch when its oldest record waited this long (ACK latency ~ this)', intOption('--batch-max-age-ms'), d.batchMaxAgeMs)
    .option('--writer-concurrency <n>', 'batches written in parallel', intOption('--writer-concurrency'), d.writerConcurrency)
    .option('--max-queued-records <n>', 'records held uncommitted before device sockets are paused', intOption('--max-queued-records'), d.maxQueuedRecords)
    .option('--max-connections <n>', 'device TCP connections in total', intOption('--max-connections'), d.maxConnections)
    .option('--max-conn-per-ip <n>', 'device TCP connections per source IP', intOption('--max-conn-per-ip'), d.maxConnectionsPerIp)
    .option('--login-timeout-ms <n>', 'close connections that send no login within this time', intOption('--login-timeout-ms'), d.loginTimeoutMs)
    .option('--idle-timeout-ms <n>', 'close logged-in connections idle this long', intOption('--idle-timeout-ms'), d.idleTimeoutMs)
    .option('--max-frame-bytes <n>', 'largest AVL frame accepted', intOption('--max-frame-bytes'), d.maxFrameBytes)
    .option('--pool-size <n>', 'PostgreSQL connections', intOption('--pool-size'), d.poolSize)
    .option('--shutdown-timeout-ms <n>', 'time allowed to flush on SIGTERM', intOption('--shutdown-timeout-ms'), d.shutdownTimeoutMs)
    .option('--allow-imei <imei>', 'only let this IMEI log in (repeatable)', collect, [])
    .option('--allow-imeis-file <path>', 'only let the IMEIs in this file log in (one per line)')
    .option('--api-token-file <path>', 'bearer token for /v1, /admin and /ws (or FLEET_API_TOKEN / FLEET_API_TOKEN_FILE)')
    .option('--max-unacked-per-conn <n>', 'packets in flight (ACK not yet sent) on one device connection before only that socket is paused', intOption('--max-unacked-per-conn'), d.maxUnackedPerConnection)
    .option('--fd-reserve <n>', 'file descriptors kept for HTTP/WebSocket/PostgreSQL: device connections are capped at the open-file limit minus this', intOption('--fd-reserve'), d.fdReserve)
    .option('--http-request-timeout-ms <n>', 'time allowed to receive a whole HTTP request (trickled bodies are cut off)', intOption('--http-request-timeout-ms'), d.requestTimeoutMs)
    .option('--http-connection-timeout-ms <n>', 'close HTTP sockets idle this long', intOption('--http-connection-timeout-ms'), d.connectionTimeoutMs)
    .option('--http-body-limit-bytes <n>', 'largest HTTP request body (larger: 413)', intOption('--http-body-limit-bytes'), d.bodyLimitBytes)
    .option('--max-ws-clients <n>', 'WebSocket clients at once (more: 503)', intOption('--max-ws-clients'), d.maxWsClients)
    .option('--ws-max-subscriptions <n>', 'IMEIs one WebSocket client may subscribe to', intOption('--ws-max-subscriptions'), d.wsMaxSubscriptions)
    .option('--ws-max-buffered-bytes <n>', 'unsent bytes per WebSocket client above which records are dropped', intOption('--ws-max-buffered-bytes'), d.wsMaxBufferedBytes)
    .option('--ws-slow-grace-ms <n>', 'close a WebSocket client that stays above --ws-max-buffered-bytes this long', intOption('--ws-slow-grace-ms'), d.wsSlowGraceMs)
    .option('--ws-control-per-sec <n>', 'control messages per second per WebSocket client (burst: twice that; more: closed)', intOption('--ws-control-per-sec'), d.wsControlPerSec)
    .option('--max-future-skew-ms <n>', 'device timestamps later than receive time + this are implausible (not "latest", not in the lag histogram)', intOption('--max-future-skew-ms'), d.maxFutureSkewMs)
    .option('--enable-admin', 'serve /admin/* (fault knobs, device link drop); needs an API token unless --host is loopback', false)
    .option('--log-level <level>', 'pino log level', process.env.LOG_LEVEL ?? 'info')
    .option('--fault-http-latency-ms <ms>', 'FAULT: extra latency on /v1/* requests', nonNegative('--fault-http-latency-ms'))
    .option('--fault-http-error-ratio <r>', 'FAULT: share of /v1/* requests answered 500', ratio('--fault-http-error-ratio'))
    .option('--fault-acked-not-stored-ratio <r>', 'FAULT: share of records ACKed but never stored', ratio('--fault-acked-not-stored-ratio'))
    .option('--fault-duplicate-ratio <r>', 'FAULT: share of records stored twice (second copy at timestamp + 1 ms)', ratio('--fault-duplicate-ratio'))
    .option('--fault-insert-delay-ms <ms>', 'FAULT: extra delay in every batch insert', nonNegative('--fault-insert-delay-ms'))
    .option('--fault-tcp-reset-per-sec <n>', 'FAULT: device connections reset (RST) per second', nonNegative('--fault-tcp-reset-per-sec'))
    .action(async (flags: PlatformFlags) => runPlatform(flags));
}

async function runPlatform(flags: PlatformFlags): Promise<void> {
  const log = defaultLogger(flags.logLevel);
  let pgUrl = flags.pgUrl ?? (flags.pgUrlFile ? readText('--pg-url-file', flags.pgUrlFile) : secretFromEnv('PG_URL'));
  const apiToken = flags.apiTokenFile ? readText('--api-token-file', flags.apiTokenFile) : secretFromEnv('FLEET_API_TOKEN');
  let allowImeis: Set<string> | undefined;
  if (flags.allowImei.length > 0 || flags.allowImeisFile) {
    const fromFile = flags.allowImeisFile ? readText('--allow-imeis-file', flags.allowImeisFile).split(/\s+/) : [];
    allowImeis = new Set([...flags.allowImei, ...fromFile].filter(Boolean));
    const bad = [...allowImeis].filter((i) => !/^\d{15,16}$/.test(i));
    if (bad.length > 0) throw badInput(`allow-list: not an IMEI: ${bad.slice(0, 3).join(', ')}`);
  }
  let faults: Partial<FaultSettings>;
  try {
    faults = parseFaults(
      Object.fromEntries(
        Object.entries({
          httpLatencyMs: flags.faultHttpLatencyMs,
          httpErrorRatio: flags.faultHttpErrorRatio,
          ackedNotStoredRatio: flags.faultAckedNotStoredRatio,
          duplicateRatio: flags.faultDuplicateRatio,
          insertDelayMs: flags.faultInsertDelayMs,
          tcpResetPerSec: flags.faultTcpResetPerSec,
        }).filter(([, v]) => v !== undefined),
      ),
    );
  } catch (e) {
    throw badInput((e as Error).message);
  }
  const options: PlatformOptions = {
    pgUrl: pgUrl ?? 'postgres://embedded', // placeholder for validation; replaced below
    host: flags.host,
    tcpPort: flags.tcpPort,
    httpPort: flags.httpPort,
    batchMaxRows: flags.batchMaxRows,
    batchMaxAgeMs: flags.batchMaxAgeMs,
    writerConcurrency: flags.writerConcurrency,
    maxQueuedRecords: flags.maxQueuedRecords,
    maxConnections: flags.maxConnections,
    maxConnectionsPerIp: flags.maxConnPerIp,
    loginTimeoutMs: flags.loginTimeoutMs,
    idleTimeoutMs: flags.idleTimeoutMs,
    maxFrameBytes: flags.maxFrameBytes,
    poolSize: flags.poolSize,
    shutdownTimeoutMs: flags.shutdownTimeoutMs,
    allowImeis,
    apiToken,
    faults,
    enableAdmin: flags.enableAdmin,
    maxUnackedPerConnection: flags.maxUnackedPerConn,
    fdReserve: flags.fdReserve,
    requestTimeoutMs: flags.httpRequestTimeoutMs,
    connectionTimeoutMs: flags.httpConnectionTimeoutMs,
    bodyLimitBytes: flags.httpBodyLimitBytes,
    maxWsClients: flags.maxWsClients,
    wsMaxSubscriptions: flags.wsMaxSubscriptions,
    wsMaxBufferedBytes: flags.wsMaxBufferedBytes,
    wsSlowGraceMs: flags.wsSlowGraceMs,
    wsControlPerSec: flags.wsControlPerSec,
    maxFutureSkewMs: flags.maxFutureSkewMs,
  };
  try {
    resolveConfig(options);
  } catch (e) {
    throw badInput((e as Error).message);
  }

  // Signals are taken over before anything starts, so a SIGTERM during start-up also ends cleanly.
  const stopSignal = new Promise<string>((resolve) => {
    let seen = false;
    const on = (sig: string) => () => {
      if (seen) return void log.warn({ signal: sig }, 'already shutting down');
      seen = true;
      resolve(sig);
    };
    process.on('SIGTERM', on('SIGTERM'));
    process.on('SIGINT', on('SIGINT'));
  });

  let embedded: { url: string; stop(): Promise<void> } | undefined;
  installFatalHandlers(log, () => embedded);
  if (!pgUrl) {
    log.info('no --pg-url given: starting an embedded PostgreSQL');
    embedded = await startEmbedded(flags.pgDataDir, log);
    pgUrl = embedded.url;
  }

  let platform: PlatformHandle | undefined;
  const startOrSignal = await Promise.race([
    startPlatform({ ...options, pgUrl, logger: log }).then(
      (p) => (platform = p),
      (e: unknown) => e,
    ),
    stopSignal,
  ]);
  if (!platform) {
    // Failed to start (or a signal came first: wait for the start to settle, then stop).
    if (typeof startOrSignal === 'string') log.info({ signal: startOrSignal }, 'signal during start-up');
    await embedded?.stop().catch(() => {});
    if (startOrSignal instanceof Error || typeof startOrSignal !== 'string') {
      const msg = startOrSignal instanceof Error ? startOrSignal.message : String(startOrSignal);
      throw infraError(`platform did not start (database ${describePgUrl(pgUrl)}): ${msg}`, startOrSignal);
    }
    return;
  }
  const p: PlatformHandle = platform;
  process.stdout.write(`${JSON.stringify({ event: 'ready', tcpPort: p.tcpPort, httpPort: p.httpPort })}\n`);

  const signal = await stopSignal;
  log.info({ signal }, 'stop requested');
  // Safety net: whatever hangs, the process ends within 10 s of the signal.
  const force = setTimeout(() => {
    log.error('shutdown took too long; exiting');
    process.exit(3);
  }, 9_500);
  force.unref();
  await p.close();
  if (embedded) await embedded.stop().catch((e: unknown) => log.warn({ err: String(e) }, 'embedded PostgreSQL stop failed'));
  clearTimeout(force);
  process.exitCode = 0;
  // Anything a library left open must not keep the process alive after a clean shutdown.
  setTimeout(() => process.exit(0), 500).unref();
}

/**
 * The fatal path: an uncaught exception or unhandled rejection leaves the process in an unknown state, so it exits
 * 1 — but first stops the embedded PostgreSQL (its server and temporary data folder would otherwise outlive us:
 * the 'exit' hook of children.ts can only SIGKILL the server, never remove its folder). Bounded by 8 s.
 */
function installFatalHandlers(log: Logger, embedded: () => { stop(): Promise<void> } | undefined): void {
  let dying = false;
  const die = (kind: string) => (err: unknown) => {
    if (dying) return;
    dying = true;
    log.fatal({ err: err instanceof Error ? { message: err.message, stack: err.stack } : String(err) }, `${kind}: the platform stops`);
    setTimeout(() => process.exit(1), 8_000).unref();
    void Promise.resolve(embedded()?.stop())
      .catch((e: unknown) => log.error({ err: String(e) }, 'embedded PostgreSQL stop failed'))
      .finally(() => process.exit(1));
  };
  process.on('uncaughtException', die('uncaught exception'));
  process.on('unhandledRejection', die('unhandled promise rejection'));
}

/** Starts the embedded PostgreSQL (its signal hooks are removed by the helper, so our flush runs first). */
async function startEmbedded(dataDir: string | undefined, log: Logger): Promise<{ url: string; stop(): Promise<void> }> {
  const { startEmbeddedPostgres } = await import('../stack/postgres.js');
  return startEmbeddedPostgres({ dataDir, log: (l) => log.debug({ pg: l }, 'postgres') });
}
