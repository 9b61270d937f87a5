// REST API clients: endpoints, weights, headers and auth come from the profile's API config (embedded in the
// bundle's FleetConfig); the arrival-rate scenario (open model) calls apiRequest() per request. Every request is
// tagged endpoint=<name> (also as k6's `name` tag, so per-IMEI URLs do not become separate series). 429 is counted as
// fleet_api_throttled, apart from errors. The bearer token comes from the environment variable the config names
// (FLEET_API_TOKEN by default) and is never logged.
import exec from 'k6/execution';
import http from 'k6/http';
import { IMEI_INDEX_LIMIT, imeiForIndex } from '../../../src/protocol/teltonika/index';
import { activeDevices, fillTemplate, pickEndpoint } from '../../../src/sim/clients';
import type { ApiEndpoint } from '../../../src/sim/fleet-config';
import { config } from './config';
import * as m from './metrics';
import { clientsOf } from './settings';

const api = config.api;
// no FLEET_HTTP: no API scenario, and nothing prepared for one
const endpoints: ApiEndpoint[] = clientsOf(config).api ? (api?.endpoints ?? []) : [];
const token = api?.tokenEnv ? __ENV[api.tokenEnv] : undefined;
const baseHeaders: Record<string, string> = { ...(api?.headers ?? {}) };
if (token) baseHeaders.Authorization = `Bearer ${token}`;

// per endpoint: the statuses that count as success for http_req_failed (2xx/3xx, its own `expect`, and 429)
const callbacks = endpoints.map((e) => http.expectedStatuses({ min: 200, max: 399 }, 429, ...(e.expect ?? [])));
const headersOf = endpoints.map((e) => ({ ...baseHeaders, ...(e.body ? { 'Content-Type': 'application/json' } : {}), ...(e.headers ?? {}) }));

/** Devices that exist at this moment of a stepped run. */
const devicesNow = () => activeDevices(config, Date.now() - (exec.scenario.startTime - (api?.startMs ?? 0)));

const fill = (template: string, apiImei: string) => fillTemplate(template, config, Math.random, apiImei, Date.now(), devicesNow());

export function apiRequest(): void {
  if (endpoints.length === 0 || !config.httpUrl) return;
  const e = pickEndpoint(endpoints, Math.random());
  const i = endpoints.indexOf(e);
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
