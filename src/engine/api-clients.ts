// REST API clients of the engine (ported from the k6 scenario's lib/api.ts, same semantics): an open model. Arrivals
// come on the schedule of clients/schedule.ts whatever the platform does; each picks an endpoint by weight, fills its
// placeholders and is sent over one undici Pool (keep-alive, api.connections connections). An arrival that finds
// that many requests already in flight is dropped and counted (api_dropped), never queued: a slow platform shows up
// as drops and latency, not as a lower offered rate. A timer that fires late sends everything already due at once (counted in api_late), so the
// offered count never shrinks because the event loop was busy.
// Every series carries endpoint=<name>. Outcomes, from the client's view: success = 2xx/3xx or an `expect` status;
// 429 = throttled (apart from errors); any other status = error class 4xx/5xx; no answer within timeoutMs = timeout;
// ECONNREFUSED = refused; reset / socket closed = reset; anything else = other.
// Each arrival is a pure function of (seed, arrival number, time), so a run's request mix is reproducible and does
// not depend on which arrivals were dropped.
import { Pool } from 'undici';
import { IMEI_INDEX_LIMIT, imeiForIndex } from '../protocol/teltonika/index.js';
import type { ApiClientConfig, ApiEndpoint, FleetConfig } from '../sim/fleet-config.js';
import { activeDevices, fillTemplate, pickEndpoint } from '../sim/clients.js';
import { hash32, Rng } from '../sim/rng.js';
import { API_ERROR_CLASSES } from './catalogue.js';
import type { ClientContext } from './clients/context.js';
import { arrivalOffsets, sleepUntil } from './clients/schedule.js';
import type { Stats } from './stats.js';

export type { ClientContext } from './clients/context.js';

export type ApiErrorClass = (typeof API_ERROR_CLASSES)[number];

/** An arrival sent more than this after its due time counts in api_late (timers are routinely ~1 ms late). */
export const API_LATE_MS = 10;
/** Salt of the API arrivals' random stream (apart from the devices' streams of the same seed). */
const API_RNG_SALT = 0x41_50_49; // "API"

interface Prepared {
  endpoint: ApiEndpoint;
  path: string;
  body: string | undefined;
  headers: Record<string, string>;
}

/** Runs the API clients of `ctx.config.api` until their schedule ends and every request has settled. */
export async function runApiClients(ctx: ClientContext): Promise<void> {
  const api = ctx.config.api;
  if (!api || !ctx.config.httpUrl || api.endpoints.length === 0) return;
  const base = new URL(ctx.config.httpUrl);
  const prefix = base.pathname.replace(/\/$/, '');
  const connections = Math.max(1, Math.floor(api.connections) || 1);
  const pool = new Pool(base.origin, {
    connections,
    pipelining: 1,
    headersTimeout: api.timeoutMs,
    bodyTimeout: api.timeoutMs,
    connect: { timeout: api.timeoutMs },
  });
  const inFlight = new Set<Promise<void>>();
  const aborts = new Set<AbortController>();
  const onAbort = () => aborts.forEach((a) => a.abort());
  ctx.signal?.addEventListener('abort', onAbort, { once: true });
  exposeSeries(ctx.stats, api.endpoints);
  try {
    const start = ctx.testStartMs + api.startMs;
    const stopped = () => ctx.signal?.aborted === true;
    let k = 0;
    for (const offset of arrivalOffsets(api)) {
      const due = start + offset;
      await sleepUntil(ctx.clock, due, stopped);
      if (stopped()) break;
      const now = ctx.clock.now();
      const n = k++;
      const rng = new Rng(hash32(ctx.config.seed, API_RNG_SALT, n));
      const endpoint = pickEndpoint(api.endpoints, rng.next());
      if (inFlight.size >= connections) {
        ctx.stats.inc('api_dropped', 1, { endpoint: endpoint.name });
        continue;
      }
      if (now - due > API_LATE_MS) ctx.stats.inc('api_late', 1, { endpoint: endpoint.name });
      const req = prepare(ctx, api, { n, rng, endpoint, now, prefix });
      const p = send(ctx, pool, api.timeoutMs, req, aborts).finally(() => inFlight.delete(p));
      inFlight.add(p);
    }
    await Promise.all(inFlight);
  } finally {
    ctx.signal?.removeEventListener('abort', onAbort);
    if (ctx.signal?.aborted) await pool.destroy();
    else await pool.close();
  }
}

/** Every api_* counter at 0 from the start, per endpoint (a series born mid-run hides its first increments). */
function exposeSeries(stats: Stats, endpoints: ApiEndpoint[]): void {
  for (const e of endpoints) {
    const endpoint = e.name;
    for (const id of ['api_requests', 'api_succeeded', 'api_throttled', 'api_dropped']) stats.inc(id, 0, { endpoint });
    for (const c of API_ERROR_CLASSES) stats.inc('api_errors', 0, { class: c, endpoint });
  }
}

/** Arrival n's request: its endpoint's path, body and headers, placeholders filled from the arrival's own stream. */
function prepare(ctx: ClientContext, api: ApiClientConfig, a: { n: number; rng: Rng; endpoint: ApiEndpoint; now: number; prefix: string }): Prepared {
  const { n: k, rng, endpoint, now, prefix } = a;
  // writes go to IMEIs at the top of the index space, never to a simulated device (its records are checked exactly)
  const apiImei = imeiForIndex(ctx.config.seed, IMEI_INDEX_LIMIT - 1 - (k % 16));
  const fill = (template: string) => fillTemplate(template, ctx.config, () => rng.next(), apiImei, now, activeDevices(ctx.config, now - ctx.testStartMs));
  const headers: Record<string, string> = { ...api.headers };
  const token = api.tokenEnv ? ctx.env[api.tokenEnv] : undefined;
  if (token) headers.authorization = `Bearer ${token}`;
  if (endpoint.body !== undefined) headers['content-type'] = 'application/json';
  Object.assign(headers, endpoint.headers ?? {});
  return { endpoint, path: prefix + fill(endpoint.path), body: endpoint.body !== undefined ? fill(endpoint.body) : undefined, headers };
}



/** Sends one request and records its outcome; never rejects. */
async function send(ctx: ClientContext, pool: Pool, timeoutMs: number, req: Prepared, aborts: Set<AbortController>): Promise<void> {
  const endpoint = req.endpoint.name;
  const abort = new AbortController();
  aborts.add(abort);
  let timedOut = false;
  // the whole request (connect, headers, body) within timeoutMs, as k6's `timeout`
  const timer = setTimeout(() => {
    timedOut = true;
    abort.abort();
  }, timeoutMs);
  const t0 = performance.now();
  let outcome: { status: number } | { error: ApiErrorClass };
  try {
    const res = await pool.request({ path: req.path, method: req.endpoint.method, headers: req.headers, body: req.body, signal: abort.signal });
    for await (const chunk of res.body) void chunk; // the answer counts when it has fully arrived
    outcome = { status: res.statusCode };
  } catch (err) {
    outcome = { error: timedOut ? 'timeout' : errorClass(err) };
  } finally {
    clearTimeout(timer);
    aborts.delete(abort);
  }
  const ms = performance.now() - t0;
  ctx.stats.inc('api_requests', 1, { endpoint });
  ctx.stats.observe('api_latency', ms, { endpoint });
  if ('error' in outcome) return ctx.stats.inc('api_errors', 1, { class: outcome.error, endpoint });
  const { status } = outcome;
  if (status === 429) return ctx.stats.inc('api_throttled', 1, { endpoint });
  if ((status >= 200 && status < 400) || (req.endpoint.expect ?? []).includes(status)) return ctx.stats.inc('api_succeeded', 1, { endpoint });
  ctx.stats.inc('api_errors', 1, { class: status >= 500 && status < 600 ? '5xx' : status >= 400 && status < 500 ? '4xx' : 'other', endpoint });
}

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT', 'ETIMEDOUT']);
const RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'ECONNABORTED']);

/** The class of a network failure, from the error's code or its causes' (undici wraps socket errors). */
export function errorClass(err: unknown): ApiErrorClass {
  const codes: string[] = [];
  const seen = new Set<unknown>();
  const visit = (e: unknown) => {
    if (!e || typeof e !== 'object' || seen.has(e)) return;
    seen.add(e);
    const x = e as { code?: unknown; cause?: unknown; errors?: unknown };
    if (typeof x.code === 'string') codes.push(x.code);
    visit(x.cause);
    if (Array.isArray(x.errors)) x.errors.forEach(visit);
  };
  visit(err);
  if (codes.some((c) => TIMEOUT_CODES.has(c))) return 'timeout';
  if (codes.includes('ECONNREFUSED')) return 'refused';
  if (codes.some((c) => RESET_CODES.has(c))) return 'reset';
  return 'other';
}
