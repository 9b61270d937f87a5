// REST API clients: endpoints, weights, headers and auth come from the profile's API config (embedded in the
// bundle's FleetConfig); the arrival-rate scenario (open model) calls apiRequest() per request. Every request is
// tagged endpoint=<name> (also as k6's `name` tag, so per-IMEI URLs do not become separate series). 429 is counted as
// fleet_api_throttled, apart from errors. The bearer token comes from the environment variable the config names
// (FLEET_API_TOKEN by default) and is never logged.
import exec from 'k6/execution';
import http from 'k6/http';
import { IMEI_INDEX_LIMIT, imeiForIndex } from '../../../src/protocol/teltonika/index';
import { fleetSteps, type ApiEndpoint } from '../../../src/sim/fleet-config';
import { config } from './config';
import * as m from './metrics';
import { clientsOf } from './settings';

const api = config.api;
// no FLEET_HTTP: no API scenario, and nothing prepared for one
const endpoints: ApiEndpoint[] = clientsOf(config).api ? (api?.endpoints ?? []) : [];
const totalWeight = endpoints.reduce((s, e) => s + e.weight, 0);
const token = api?.tokenEnv ? __ENV[api.tokenEnv] : undefined;
const baseHeaders: Record<string, string> = { ...(api?.headers ?? {}) };
if (token) baseHeaders.Authorization = `Bearer ${token}`;
const steps = fleetSteps(config);

// per endpoint: the statuses that count as success for http_req_failed (2xx/3xx, its own `expect`, and 429)
const callbacks = endpoints.map((e) => http.expectedStatuses({ min: 200, max: 399 }, 429, ...(e.expect ?? [])));
const headersOf = endpoints.map((e) => ({ ...baseHeaders, ...(e.body ? { 'Content-Type': 'application/json' } : {}), ...(e.headers ?? {}) }));

function pick(): number {
  let r = Math.random() * totalWeight;
  for (let i = 0; i < endpoints.length; i++) {
    r -= endpoints[i].weight;
    if (r < 0) return i;
  }
  return endpoints.length - 1;
}

/** Devices that exist at this moment of a stepped run. */
function activeDevices(): number {
  const elapsed = Date.now() - (exec.scenario.startTime - (api?.startMs ?? 0));
  let n = steps[0].devices;
  for (const s of steps) if (s.startMs <= elapsed) n = s.devices;
  return n;
}

function fill(template: string, apiImei: string): string {
  const now = Date.now();
  return template.replace(/\{(\w+)\}/g, (whole, key: string) => {
    switch (key) {
      case 'imei':
        return imeiForIndex(config.seed, Math.floor(Math.random() * activeDevices()));
      case 'apiImei':
        return apiImei;
      case 'from':
        return new Date(now - 10 * 60_000).toISOString();
      case 'to':
        return new Date(now).toISOString();
      case 'nowMs':
        return String(now);
      case 'lat':
        return (config.centre.latitude + (Math.random() - 0.5) * 0.05).toFixed(6);
      case 'lon':
        return (config.centre.longitude + (Math.random() - 0.5) * 0.05).toFixed(6);
      default:
        return whole;
    }
  });
}

export function apiRequest(): void {
  if (endpoints.length === 0 || !config.httpUrl) return;
  const i = pick();
  const e = endpoints[i];
  // writes go to IMEIs at the top of the index space, never to a simulated device (its records are checked exactly)
  const apiImei = imeiForIndex(config.seed, IMEI_INDEX_LIMIT - 1 - (exec.scenario.iterationInTest % 16));
  const url = config.httpUrl.replace(/\/$/, '') + fill(e.path, apiImei);
  const body = e.body !== undefined ? fill(e.body, apiImei) : null;
  const tags = { endpoint: e.name, name: e.name };
  const res = http.request(e.method, url, body, {
    headers: headersOf[i],
    tags,
    timeout: `${api?.timeoutMs ?? 10_000}ms`,
    responseCallback: callbacks[i],
  });
  m.apiRequests.add(1, { endpoint: e.name });
  m.apiLatency.add(res.timings.duration, { endpoint: e.name });
  if (res.status === 429) {
    m.apiThrottled.add(1, { endpoint: e.name });
    m.apiErrorRate.add(false, { endpoint: e.name });
    return;
  }
  // status 0: timeout, refused, reset (no response at all)
  const ok = (res.status >= 200 && res.status < 400) || (e.expect ?? []).includes(res.status);
  m.apiErrorRate.add(!ok, { endpoint: e.name });
  if (!ok) m.apiErrors.add(1, { endpoint: e.name, status: String(res.status) });
}
