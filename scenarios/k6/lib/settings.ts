// What `fleetload k6 bundle` embeds in the script (esbuild `define` of FLEETLOAD_K6_SETTINGS), and how the target
// given at k6 run time (-e FLEET_TCP=host:port, -e FLEET_HTTP=url) is laid over it. Pure: Node code (the bundler and
// its tests) imports this file too.
import type { FleetConfig } from '../../../src/sim/fleet-config';

/** grafana/xk6-tcp release whose JavaScript API the bundle is written against (see types/k6-x-tcp.d.ts). */
export const XK6_TCP_RELEASE = 'v0.3.1';

/** One k6 threshold entry and the SLO objective it stands for. */
export interface BundleThreshold {
  /** SLO objective id, or generator_* for the generator-health checks */
  objective: string;
  metric: string;
  /** k6 threshold expressions, e.g. "p(95)<1000" */
  expressions: string[];
  /** only when that client runs (appliesIf api.configured / ws.configured) */
  requires?: 'api' | 'ws';
}

export interface BundleSettings {
  /** the resolved fleet config; tcpHost '' / tcpPort 0 when the target is left to FLEET_TCP */
  config: FleetConfig;
  /** devices one VU drives concurrently on its event loop (one VU per device costs megabytes each) */
  devicesPerVu: number;
  /** Trend samples are taken for one event in this many (bounded k6 Trend memory on long runs) */
  trendSampleEvery: number;
  thresholds: BundleThreshold[];
  profile: string;
  slo: string;
  fleetloadVersion: string;
  xk6Tcp: string;
}

export type Env = Record<string, string | undefined>;

/** host:port, [v6]:port */
export function parseHostPort(text: string): { host: string; port: number } | undefined {
  const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[2]) : NaN;
  return m && port >= 1 && port <= 65535 ? { host: m[1], port } : undefined;
}

/** The embedded config with the run-time target (FLEET_TCP, FLEET_HTTP) applied; a malformed value throws. */
export function resolveTarget(base: FleetConfig, env: Env): FleetConfig {
  const config: FleetConfig = { ...base };
  const tcp = env.FLEET_TCP;
  if (tcp !== undefined && tcp !== '') {
    const t = parseHostPort(tcp);
    if (!t) throw new Error(`FLEET_TCP: expected host:port such as 10.0.0.5:5027, got "${tcp}"`);
    config.tcpHost = t.host;
    config.tcpPort = t.port;
  }
  const http = env.FLEET_HTTP;
  if (http !== undefined && http !== '') {
    if (!/^https?:\/\/[^/\s]+/.test(http)) throw new Error(`FLEET_HTTP: expected http(s)://host:port, got "${http}"`);
    config.httpUrl = http.replace(/\/$/, '');
  }
  return config;
}

/** Why the devices cannot start, or undefined when the target is known. */
export function targetProblem(config: FleetConfig): string | undefined {
  return config.tcpHost && config.tcpPort > 0 ? undefined : 'no device target: run k6 with -e FLEET_TCP=host:port (the platform\'s Teltonika TCP listener), or bundle with --tcp';
}

/** Which clients run with this config (API and WebSocket clients need the HTTP base URL). */
export function clientsOf(config: FleetConfig): { api: boolean; ws: boolean } {
  return {
    api: !!(config.api && config.httpUrl && config.api.endpoints.length > 0),
    ws: !!(config.ws && config.httpUrl && config.ws.clients > 0),
  };
}
