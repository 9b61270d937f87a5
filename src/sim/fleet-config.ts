// The fleet settings a run hands to the load engine: built from a profile by src/run/fleet-plan.ts, run by
// src/engine (and by the k6 bundle for teams on k6), so no Node APIs here.
// Fields after `centre` are optional so that older callers keep working; absent means the documented default.
import type { RouteOptions } from './route.js';

export type ReplayOrder = 'oldest-first' | 'newest-first';

export interface FleetConfig {
  /** Run id; labels the engine's metrics (run_id) and names the report folder. */
  runId: string;
  seed: number;
  /** Number of simulated devices in the whole test (all shards together; the last step's count). */
  devices: number;
  durationSec: number;
  /** Send period while the ignition is on (a packet per interval). */
  intervalMs: number;
  /** Records acquired per send period while moving (spread evenly over the interval). */
  recordsPerPacket: number;
  /** Codec of devices outside codec8eShare (kept for older callers: 142 = all devices on 8E). */
  codec: 8 | 142;
  ackTimeoutMs: number;
  /** Backoff before a device reconnects after an error, doubled per failure up to reconnectMaxMs, plus jitter. */
  reconnectBaseMs: number;
  reconnectMaxMs: number;
  tcpHost: string;
  tcpPort: number;
  /** Centre of the simulated bus lines (degrees). */
  centre: { latitude: number; longitude: number };

  /** Send period while the ignition is off (terminus layover). Default: intervalMs. */
  parkedIntervalMs?: number;
  /** Share of devices (0..1) that speak Codec 8 Extended. Default: codec === 142 ? 1 : 0. */
  codec8eShare?: number;
  /** Order in which a backlog is sent after an outage (Teltonika parameter 1002). Default oldest-first. */
  replayOrder?: ReplayOrder;
  /** Send a 0xFF keep-alive byte after this long without a write (0 = never, the Teltonika default). */
  keepAliveMs?: number;
  /** Largest AVL frame a device builds (Teltonika: 1280 bytes). */
  maxFrameBytes?: number;
  /** Random link losses: a Poisson process per device; the device closes the socket and stays offline. */
  linkDrops?: { perDeviceHour: number; offlineMs: number };
  /** Reconnect storm: every device drops its link at atMs after the start, stays offline offlineMs, then reconnects. */
  storm?: { atMs: number; offlineMs: number };
  /** Records a device may keep in its flash while offline; beyond it the oldest are lost (counted). */
  bufferLimit?: number;
  /** After the deadline, devices keep delivering their backlog for up to this long (no new records). */
  drainMs?: number;
  route?: Partial<RouteOptions>;
  /** Stepped fleet: cumulative device counts and when each step starts (ms after the test start). */
  steps?: Array<{ devices: number; startMs: number }>;
  /** Base URL of the platform's HTTP API (http://host:port); API and WebSocket clients need it. */
  httpUrl?: string;
  api?: ApiClientConfig;
  ws?: WsClientConfig;
}

/** One API endpoint, from the API config file (scenarios/api/*.yaml). */
export interface ApiEndpoint {
  name: string;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';
  /** Path with placeholders: {imei} {apiImei} {from} {to} {nowMs} {lat} {lon} {limit} */
  path: string;
  weight: number;
  /** JSON body template (same placeholders), POST/PUT/PATCH only */
  body?: string;
  headers?: Record<string, string>;
  /** statuses that count as success (besides 2xx); 429 is always counted apart as throttled */
  expect?: number[];
}

export interface ApiClientConfig {
  /** name of the API config file that supplied the endpoints (for the report) */
  source: string;
  endpoints: ApiEndpoint[];
  headers: Record<string, string>;
  /** send `Authorization: Bearer $<tokenEnv>` when that variable is set */
  tokenEnv?: string;
  /** constant arrival rate (requests/s) … */
  rate?: number;
  /** … or ramping-arrival-rate stages (target requests/s, duration ms) */
  stages?: Array<{ target: number; durationMs: number }>;
  startMs: number;
  durationMs: number;
  /** keep-alive connections in the pool = requests in flight at most; an arrival finding all busy is dropped */
  connections: number;
  timeoutMs: number;
}

export interface WsClientConfig {
  clients: number;
  /** 'all' = every record; a number = each client subscribes to that many fleet IMEIs (disjoint where possible) */
  subscribe: 'all' | number;
  startMs: number;
  durationMs: number;
  /** expected-vs-received counts only records whose timestamps fall in [subscribed + grace, end - grace] */
  graceMs: number;
  tokenEnv?: string;
}

/** The steps of a fleet (one step starting at 0 with every device when the config has none). */
export function fleetSteps(c: Pick<FleetConfig, 'devices' | 'steps'>): Array<{ devices: number; startMs: number }> {
  return c.steps && c.steps.length > 0 ? c.steps : [{ devices: c.devices, startMs: 0 }];
}

/** How long devices may keep delivering their backlog after the deadline. */
export function drainMs(c: Pick<FleetConfig, 'drainMs' | 'ackTimeoutMs'>): number {
  return c.drainMs ?? Math.min(c.ackTimeoutMs, 10_000);
}

export interface FleetStep {
  step: number;
  /** first device index this step adds, and one past the last */
  from: number;
  to: number;
  startMs: number;
}

/** The steps of a fleet as device index ranges; each step ADDS the devices between the previous count and its own. */
export function stepRanges(c: Pick<FleetConfig, 'devices' | 'steps'>): FleetStep[] {
  const out: FleetStep[] = [];
  let from = 0;
  fleetSteps(c).forEach((s, i) => {
    if (s.devices > from) {
      out.push({ step: i + 1, from, to: s.devices, startMs: s.startMs });
      from = s.devices;
    }
  });
  return out;
}
