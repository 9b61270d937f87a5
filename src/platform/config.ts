// Settings of the reference platform with their defaults. Why these defaults:
// - batchMaxRows 1000 / batchMaxAgeMs 100: an ACK is sent only after its batch commits, so a device's ACK
//   latency is about batch age + insert time. 100 ms keeps ACK p99 well under the 0.25–0.5 s range an SLO
//   would use while still batching hundreds of rows per commit at 5k+ records/s; 1000 rows per unnest INSERT
//   is where per-statement overhead has flattened out (prior-art §6.3) and one statement stays ~10–30 ms.
//   The seed's "every 5 s" is the slow end: it would make every ACK wait seconds.
// - writerConcurrency 2: one batch can be encoded/sent while another commits; more buys nothing on 2 cores.
// - maxQueuedRecords 100k: bounded memory (~50 MB) and ~2 s of headroom at 50k records/s; beyond it device
//   sockets are paused (TCP backpressure) and HTTP ingest answers 503.
// - maxConnectionsPerIp 20k: a load generator sends thousands of devices from one loopback address, so the
//   per-IP cap must sit above any single-host run yet still stop a runaway client.
// - idleTimeoutMs 360 s: devices keep an idle link open for "Open link timeout" (300 s default), so the
//   server waits a bit longer; loginTimeoutMs 15 s closes sockets that never send a login.
// - maxFrameBytes 1280: Teltonika's documented maximum AVL packet size; at most MAX_FRAME_BYTES_LIMIT (16 MiB),
//   the framer's own ceiling: a larger value is refused at start-up instead of crashing on the first device.
// - maxUnackedPerConnection 4: a Teltonika device waits for each ACK before the next packet, so more than a
//   few packets in flight on one connection is abuse; that socket alone stops being read until ACKs catch up.
// - fdReserve 2048: descriptors kept for the HTTP side (API clients, WebSocket clients, PostgreSQL, logs):
//   device connections are capped at (open-file limit - fdReserve), so devices from one IP cannot starve
//   /health and /metrics of descriptors.
// - HTTP: requestTimeoutMs 15 s for a whole request (a trickled body cannot hold a socket for long),
//   connectionTimeoutMs 30 s of socket inactivity, bodyLimitBytes 1 MiB (1000 records with IO fit easily).
// - WebSocket: maxWsClients 1000; a client may subscribe to wsMaxSubscriptions IMEIs (10,000); a client whose
//   unsent data is above wsMaxBufferedBytes (4 MiB) loses records and is closed after wsSlowGraceMs (10 s);
//   control messages are limited to wsControlPerSec (10/s, burst of twice that).
// - maxFutureSkewMs 5 min: the plausibility window for device timestamps is [2000-01-01, receive time + 5 min].
// - enableAdmin off: /admin/* (fault injection) exists only when enabled; off loopback it also needs a token.
import { DEFAULT_MAX_FRAME_BYTES, MAX_FRAME_BYTES_LIMIT } from '../protocol/teltonika/index.js';
import type { FaultSettings } from './faults.js';

export interface PlatformConfig {
  pgUrl: string;
  host: string;
  tcpPort: number;
  httpPort: number;
  batchMaxRows: number;
  batchMaxAgeMs: number;
  writerConcurrency: number;
  maxQueuedRecords: number;
  maxConnections: number;
  maxConnectionsPerIp: number;
  loginTimeoutMs: number;
  idleTimeoutMs: number;
  maxFrameBytes: number;
  /** When set, only these IMEIs may log in; others get 0x00 and are disconnected. */
  allowImeis?: ReadonlySet<string>;
  /** Bearer token for /v1/*, /admin/* and /ws; from FLEET_API_TOKEN when not given. */
  apiToken?: string;
  poolSize: number;
  retryBaseMs: number;
  retryMaxMs: number;
  shutdownTimeoutMs: number;
  faults: Partial<FaultSettings>;
  /** Collect prom-client's default process metrics (on by default). */
  defaultMetrics: boolean;
  /** Packets received on one connection whose ACK is not yet written before that socket is paused. */
  maxUnackedPerConnection: number;
  /** Descriptors reserved for everything but device connections (see the header). */
  fdReserve: number;
  /** Serve /admin/* (fault knobs, link drop). Off by default; needs apiToken unless host is loopback. */
  enableAdmin: boolean;
  requestTimeoutMs: number;
  connectionTimeoutMs: number;
  bodyLimitBytes: number;
  maxWsClients: number;
  wsMaxSubscriptions: number;
  wsMaxBufferedBytes: number;
  wsSlowGraceMs: number;
  wsControlPerSec: number;
  /** Device timestamps later than receive time + this are implausible (counted, kept out of latest and lag). */
  maxFutureSkewMs: number;
}

export const DEFAULTS: Omit<PlatformConfig, 'pgUrl' | 'faults'> = {
  host: '127.0.0.1',
  tcpPort: 5000,
  httpPort: 3000,
  batchMaxRows: 1000,
  batchMaxAgeMs: 100,
  writerConcurrency: 2,
  maxQueuedRecords: 100_000,
  maxConnections: 60_000,
  maxConnectionsPerIp: 20_000,
  loginTimeoutMs: 15_000,
  idleTimeoutMs: 360_000,
  maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
  poolSize: 6,
  retryBaseMs: 100,
  retryMaxMs: 5_000,
  shutdownTimeoutMs: 8_000,
  defaultMetrics: true,
  maxUnackedPerConnection: 4,
  fdReserve: 2048,
  enableAdmin: false,
  requestTimeoutMs: 15_000,
  connectionTimeoutMs: 30_000,
  bodyLimitBytes: 1024 * 1024,
  maxWsClients: 1000,
  wsMaxSubscriptions: 10_000,
  wsMaxBufferedBytes: 4 * 1024 * 1024,
  wsSlowGraceMs: 10_000,
  wsControlPerSec: 10,
  maxFutureSkewMs: 300_000,
};

export type PlatformOptions = Partial<PlatformConfig> & { pgUrl: string };

type IntField = {
  [K in keyof PlatformConfig]-?: PlatformConfig[K] extends number ? K : never;
}[keyof PlatformConfig];

/** One whole-number setting: its range, and (when it is one) its `fleetload platform` flag and help text. */
export interface IntSetting {
  key: IntField;
  min?: number;
  max?: number;
  /** commander flag, e.g. '--tcp-port <n>'; settings without one exist for the library and tests only. */
  flag?: string;
  help?: string;
}

/**
 * The one table of the platform's whole-number settings: resolveConfig checks these ranges and `fleetload platform`
 * registers these flags (with DEFAULTS as their defaults), in this order.
 */
export const INT_SETTINGS: readonly IntSetting[] = [
  { key: 'tcpPort', max: 65535, flag: '--tcp-port <n>', help: 'Teltonika TCP port (0 = any free port)' },
  { key: 'httpPort', max: 65535, flag: '--http-port <n>', help: 'HTTP/WebSocket port (0 = any free port)' },
  { key: 'batchMaxRows', min: 1, flag: '--batch-max-rows <n>', help: 'flush a batch at this many records' },
  { key: 'batchMaxAgeMs', flag: '--batch-max-age-ms <n>', help: 'flush a batch when its oldest record waited this long (ACK latency ~ this)' },
  { key: 'writerConcurrency', min: 1, flag: '--writer-concurrency <n>', help: 'batches written in parallel' },
  { key: 'maxQueuedRecords', min: 1, flag: '--max-queued-records <n>', help: 'records held uncommitted before device sockets are paused' },
  { key: 'maxConnections', min: 1, flag: '--max-connections <n>', help: 'device TCP connections in total' },
  { key: 'maxConnectionsPerIp', min: 1, flag: '--max-conn-per-ip <n>', help: 'device TCP connections per source IP' },
  { key: 'loginTimeoutMs', flag: '--login-timeout-ms <n>', help: 'close connections that send no login within this time' },
  { key: 'idleTimeoutMs', flag: '--idle-timeout-ms <n>', help: 'close logged-in connections idle this long' },
  { key: 'maxFrameBytes', min: 45, max: MAX_FRAME_BYTES_LIMIT, flag: '--max-frame-bytes <n>', help: 'largest AVL frame accepted' },
  { key: 'poolSize', min: 2, flag: '--pool-size <n>', help: 'PostgreSQL connections' },
  { key: 'retryBaseMs', min: 1 },
  { key: 'retryMaxMs', min: 1 },
  { key: 'shutdownTimeoutMs', flag: '--shutdown-timeout-ms <n>', help: 'time allowed to flush on SIGTERM' },
  {
    key: 'maxUnackedPerConnection',
    min: 1,
    flag: '--max-unacked-per-conn <n>',
    help: 'packets in flight (ACK not yet sent) on one device connection before only that socket is paused',
  },
  {
    key: 'fdReserve',
    flag: '--fd-reserve <n>',
    help: 'file descriptors kept for HTTP/WebSocket/PostgreSQL: device connections are capped at the open-file limit minus this',
  },
  { key: 'requestTimeoutMs', min: 100, flag: '--http-request-timeout-ms <n>', help: 'time allowed to receive a whole HTTP request (trickled bodies are cut off)' },
  { key: 'connectionTimeoutMs', min: 100, flag: '--http-connection-timeout-ms <n>', help: 'close HTTP sockets idle this long' },
  { key: 'bodyLimitBytes', min: 1024, max: 64 * 1024 * 1024, flag: '--http-body-limit-bytes <n>', help: 'largest HTTP request body (larger: 413)' },
  { key: 'maxWsClients', min: 1, flag: '--max-ws-clients <n>', help: 'WebSocket clients at once (more: 503)' },
  { key: 'wsMaxSubscriptions', min: 1, flag: '--ws-max-subscriptions <n>', help: 'IMEIs one WebSocket client may subscribe to' },
  { key: 'wsMaxBufferedBytes', min: 1024, flag: '--ws-max-buffered-bytes <n>', help: 'unsent bytes per WebSocket client above which records are dropped' },
  { key: 'wsSlowGraceMs', flag: '--ws-slow-grace-ms <n>', help: 'close a WebSocket client that stays above --ws-max-buffered-bytes this long' },
  {
    key: 'wsControlPerSec',
    min: 1,
    flag: '--ws-control-per-sec <n>',
    help: 'control messages per second per WebSocket client (burst: twice that; more: closed)',
  },
  {
    key: 'maxFutureSkewMs',
    flag: '--max-future-skew-ms <n>',
    help: 'device timestamps later than receive time + this are implausible (not "latest", not in the lag histogram)',
  },
];

/** Fills defaults and checks ranges; throws an Error with a message meant for a person. */
export function resolveConfig(opts: PlatformOptions, env: NodeJS.ProcessEnv = process.env): PlatformConfig {
  if (!opts.pgUrl) throw new Error('a PostgreSQL URL is required');
  const cfg: PlatformConfig = { ...DEFAULTS, faults: {}, ...stripUndefined(opts) } as PlatformConfig;
  for (const { key: f, min = 0, max = Number.MAX_SAFE_INTEGER } of INT_SETTINGS) {
    const v = cfg[f];
    if (!Number.isInteger(v) || v < min || v > max) {
      throw new Error(`${f} must be an integer from ${min} to ${max} (got ${String(v)})${f === 'maxFrameBytes' ? ': the Teltonika framer supports frames up to that size' : ''}`);
    }
  }
  if (cfg.poolSize <= cfg.writerConcurrency) throw new Error('poolSize must be larger than writerConcurrency (the API needs connections too)');
  if (cfg.apiToken === undefined && env.FLEET_API_TOKEN) cfg.apiToken = env.FLEET_API_TOKEN;
  if (cfg.enableAdmin && cfg.apiToken === undefined && !isLoopback(cfg.host)) {
    throw new Error(`enableAdmin on ${cfg.host} needs an API token: fault injection must not be open to the network (set FLEET_API_TOKEN or listen on 127.0.0.1)`);
  }
  return cfg;
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * Device connections this process can hold: `maxConnections`, but never more than the open-file limit minus
 * fdReserve, so that the HTTP side (health, metrics, API, WebSocket, PostgreSQL) always has descriptors left.
 * Throws when the limit leaves no room at all.
 */
export function deviceConnectionCap(cfg: Pick<PlatformConfig, 'maxConnections' | 'fdReserve'>, openFileLimit: number | undefined): number {
  if (openFileLimit === undefined) return cfg.maxConnections;
  const room = openFileLimit - cfg.fdReserve;
  if (room < 1) {
    throw new Error(`the open-file limit (${openFileLimit}) leaves no descriptors for devices after fdReserve ${cfg.fdReserve}: raise ulimit -n or lower fdReserve`);
  }
  return Math.min(cfg.maxConnections, room);
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** host:port/db of a PostgreSQL URL, for logs: never the user or password. */
export function describePgUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '5432'}${u.pathname || '/'}`;
  } catch {
    return '(unparsable URL)';
  }
}
