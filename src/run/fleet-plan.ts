// From a validated profile (after the CLI's --devices/--duration overrides) to the FleetConfig the engine runs,
// and from that config to the manifest's stage windows.
//   --devices N on a stepped profile scales every step proportionally (the last step becomes N);
//   --duration D scales every hold proportionally; storm times given as percentages follow the duration.
import type { FleetConfig } from '../sim/fleet-config.js';
import type { RunManifest } from '../core/manifest.js';
import type { Profile } from './profile.js';

export interface FleetTarget {
  host: string;
  port: number;
  /** http://host:port of the platform's HTTP API; API and WebSocket clients run only when it is known */
  httpUrl?: string;
}

/** Stepped device counts scaled to `count` devices and hold times scaled to `durationMs`, as start offsets. */
export function scaledSteps(steps: NonNullable<Profile['steps']>, count: number, durationMs: number): Array<{ devices: number; startMs: number }> {
  const nominal = steps[steps.length - 1].devices;
  const holdSum = steps.reduce((a, s) => a + s.holdMs, 0);
  const out: Array<{ devices: number; startMs: number }> = [];
  let start = 0;
  let prev = 0;
  steps.forEach((s, i) => {
    const last = i === steps.length - 1;
    const devices = last ? count : Math.min(count, Math.max(prev, 1, Math.round((s.devices * count) / nominal)));
    out.push({ devices, startMs: Math.round(start) });
    start += (s.holdMs * durationMs) / holdSum;
    prev = devices;
  });
  return out;
}

/** What the engine needs from a validated profile, the run id and where the load goes. */
export function fleetConfigFor(profile: Profile, runId: string, target: FleetTarget): FleetConfig {
  // the engine counts the run in whole seconds, and every window below is fitted into that
  const durationMs = Math.ceil(profile.durationMs / 1000) * 1000;
  const d = profile.devices;
  const config: FleetConfig = {
    runId,
    seed: profile.seed,
    devices: d.count,
    durationSec: durationMs / 1000,
    intervalMs: d.intervalMs,
    recordsPerPacket: d.recordsPerPacket,
    codec: d.codec,
    ackTimeoutMs: d.ackTimeoutMs,
    reconnectBaseMs: d.reconnectBaseMs,
    reconnectMaxMs: d.reconnectMaxMs,
    tcpHost: target.host,
    tcpPort: target.port,
    centre: profile.centre,
    parkedIntervalMs: d.parkedIntervalMs ?? d.intervalMs,
    codec8eShare: d.codec8eShare ?? (d.codec === 142 ? 1 : 0),
    replayOrder: d.replayOrder ?? 'oldest-first',
    keepAliveMs: d.keepAliveMs ?? 0,
    bufferLimit: d.bufferLimit ?? 100_000,
  };
  // optional parts in a fixed order: the config is serialized (k6-bundle.ts), so its key order stays the same
  if (d.linkDrops) config.linkDrops = d.linkDrops;
  if (d.storm) config.storm = stormFor(d.storm, durationMs);
  if (d.route) config.route = d.route;
  if (profile.steps && profile.steps.length > 0) config.steps = scaledSteps(profile.steps, d.count, durationMs);
  if (target.httpUrl) config.httpUrl = target.httpUrl;
  if (profile.api) config.api = apiFor(profile.api, durationMs);
  if (profile.ws) config.ws = wsFor(profile.ws, profile.api?.tokenEnv, durationMs);
  return config;
}

/** The storm in ms after the start; a percentage follows the (possibly overridden) duration. */
function stormFor(storm: NonNullable<Profile['devices']['storm']>, durationMs: number): NonNullable<FleetConfig['storm']> {
  let atMs = storm.atFraction !== undefined ? Math.round(storm.atFraction * durationMs) : (storm.atMs ?? 0);
  // a --duration shorter than the storm time keeps the storm inside the run
  if (atMs >= durationMs) atMs = Math.round(durationMs * 0.3);
  return { atMs, offlineMs: Math.min(storm.offlineMs, Math.max(1000, durationMs - atMs - 1000)) };
}

/** API clients start at most a quarter into the run; ramp stages are scaled to fill the time left. */
function apiFor(a: NonNullable<Profile['api']>, durationMs: number): NonNullable<FleetConfig['api']> {
  const startMs = Math.min(a.startAfterMs, Math.floor(durationMs / 4));
  const apiMs = durationMs - startMs;
  const stageSum = (a.stages ?? []).reduce((s, x) => s + x.durationMs, 0);
  return {
    source: a.configName,
    endpoints: a.endpoints,
    headers: a.headers,
    ...(a.tokenEnv ? { tokenEnv: a.tokenEnv } : {}),
    ...(a.stages && stageSum > 0
      ? { stages: a.stages.map((s) => ({ target: s.target, durationMs: Math.max(1, Math.round((s.durationMs * apiMs) / stageSum)) })) }
      : { rate: a.rate ?? 1 }),
    startMs,
    durationMs: apiMs,
    connections: a.connections,
    timeoutMs: a.timeoutMs,
  };
}

/** WebSocket clients start at most a quarter into the run and get at most a fifth of it as grace. */
function wsFor(w: NonNullable<Profile['ws']>, apiTokenEnv: string | undefined, durationMs: number): NonNullable<FleetConfig['ws']> {
  const startMs = Math.min(w.startAfterMs, Math.floor(durationMs / 4));
  return {
    clients: w.clients,
    subscribe: w.subscribe,
    startMs,
    durationMs: durationMs - startMs,
    graceMs: Math.min(w.graceMs, Math.floor(durationMs / 5)),
    tokenEnv: apiTokenEnv ?? 'FLEET_API_TOKEN',
  };
}
