// The fleet settings the CLI hands to the k6 scenario (as JSON in the FLEET_CONFIG variable).
// Shared by Node (which builds it from a profile, src/run/fleet-plan.ts) and k6 (which runs it), so no Node APIs here.
// Fields after `centre` are optional so that older callers keep working; absent means the documented default.
import type { RouteOptions } from './route.js';

export type ReplayOrder = 'oldest-first' | 'newest-first';

export interface FleetConfig {
  /** Run id; becomes the k6 `testid` tag and names the report folder. */
  runId: string;
  seed: number;
  /** Number of simulated devices in the whole test (all k6 instances together; the last step's count). */
  devices: number;
  durationSec: number;
  /** Send period while the ignition is on (a packet per interval). */
  intervalMs: number;
  /** Records acquired per send period while moving (spread evenly over the interval). */
  recordsPerPacket: number;
  /** Codec of devices outside codec8eShare (kept for older callers: 142 = all devices on 8E). */
  codec: 8 | 142;
  /** How many device sockets one k6 VU drives; few VUs keep k6's memory small. */
  devicesPerVu: number;
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
  /** Add one Trend sample per this many events (bounded Trend memory on long runs). Default 1. */
  trendSampleEvery?: number;
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
  preAllocatedVUs: number;
  maxVUs: number;
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

export interface StepScenario {
  /** k6 scenario name: step_1, step_2, … */
  name: string;
  step: number;
  /** first device index this step adds, and one past the last */
  from: number;
  to: number;
  startMs: number;
  vus: number;
}

/** One k6 scenario per step; each adds the devices between the previous step's count and its own. */
export function stepScenarios(c: Pick<FleetConfig, 'devices' | 'steps' | 'devicesPerVu'>): StepScenario[] {
  const out: StepScenario[] = [];
  let from = 0;
  fleetSteps(c).forEach((s, i) => {
    if (s.devices > from) {
      out.push({ name: `step_${i + 1}`, step: i + 1, from, to: s.devices, startMs: s.startMs, vus: Math.ceil((s.devices - from) / Math.max(1, c.devicesPerVu)) });
      from = s.devices;
    }
  });
  return out;
}

/**
 * The devices one iteration of a step scenario simulates. `iterationInTest` (exec.scenario.iterationInTest) is unique
 * across k6 instances that share --execution-segment-sequence, so distributed segments get disjoint device blocks.
 */
export function devicesOfIteration(s: StepScenario, devicesPerVu: number, iterationInTest: number): { from: number; to: number } {
  const from = s.from + iterationInTest * devicesPerVu;
  return { from: Math.min(from, s.to), to: Math.min(from + devicesPerVu, s.to) };
}
