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
// - maxFrameBytes 1280: Teltonika's documented maximum AVL packet size.
import { DEFAULT_MAX_FRAME_BYTES } from '../protocol/teltonika/index.js';
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
};

export type PlatformOptions = Partial<PlatformConfig> & { pgUrl: string };

const INT_FIELDS = [
  'tcpPort',
  'httpPort',
  'batchMaxRows',
  'batchMaxAgeMs',
  'writerConcurrency',
  'maxQueuedRecords',
  'maxConnections',
  'maxConnectionsPerIp',
  'loginTimeoutMs',
  'idleTimeoutMs',
  'maxFrameBytes',
  'poolSize',
  'retryBaseMs',
  'retryMaxMs',
  'shutdownTimeoutMs',
] as const;

const MIN: Partial<Record<(typeof INT_FIELDS)[number], number>> = {
  batchMaxRows: 1,
  writerConcurrency: 1,
  maxQueuedRecords: 1,
  maxConnections: 1,
  maxConnectionsPerIp: 1,
  maxFrameBytes: 45,
  poolSize: 2,
  retryBaseMs: 1,
  retryMaxMs: 1,
};

/** Fills defaults and checks ranges; throws an Error with a message meant for a person. */
export function resolveConfig(opts: PlatformOptions, env: NodeJS.ProcessEnv = process.env): PlatformConfig {
  if (!opts.pgUrl) throw new Error('a PostgreSQL URL is required');
  const cfg: PlatformConfig = { ...DEFAULTS, faults: {}, ...stripUndefined(opts) } as PlatformConfig;
  for (const f of INT_FIELDS) {
    const v = cfg[f];
    const min = MIN[f] ?? 0;
    if (!Number.isInteger(v) || v < min) throw new Error(`${f} must be an integer >= ${min} (got ${String(v)})`);
  }
  if (cfg.tcpPort > 65535 || cfg.httpPort > 65535) throw new Error('ports must be <= 65535');
  if (cfg.poolSize <= cfg.writerConcurrency) throw new Error('poolSize must be larger than writerConcurrency (the API needs connections too)');
  if (cfg.apiToken === undefined && env.FLEET_API_TOKEN) cfg.apiToken = env.FLEET_API_TOKEN;
  return cfg;
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
