// The engine's REST API clients (src/engine/api-clients.ts): the arrival schedule (pure), then real requests over
// 127.0.0.1 — against the reference platform (exact counts, bearer token) and against small misbehaving HTTP servers
// written here (status classes, timeout, refused, reset, drops when the pool is full, late timers).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock, systemClock, type Clock } from '../../src/core/clock.js';
import { runApiClients, type ClientContext } from '../../src/engine/api-clients.js';
import { arrivalOffsets } from '../../src/engine/clients/schedule.js';
import { parseSeriesKey, Stats } from '../../src/engine/stats.js';
import { IMEI_INDEX_LIMIT, imeiForIndex } from '../../src/protocol/teltonika/index.js';
import type { ApiClientConfig, ApiEndpoint, FleetConfig } from '../../src/sim/fleet-config.js';
import { usePlatformFixture } from '../platform/helpers.js';

const fleet: FleetConfig = {
  runId: 'api-test',
  seed: 11,
  devices: 10,
  durationSec: 5,
  intervalMs: 1000,
  recordsPerPacket: 1,
  codec: 8,
  ackTimeoutMs: 500,
  reconnectBaseMs: 100,
  reconnectMaxMs: 800,
  tcpHost: '127.0.0.1',
  tcpPort: 0,
  centre: { latitude: 44.7722, longitude: 17.191 },
};

const get = (name: string, path: string, extra: Partial<ApiEndpoint> = {}): ApiEndpoint => ({ name, method: 'GET', path, weight: 1, ...extra });

function apiConfig(over: Partial<ApiClientConfig>): ApiClientConfig {
  return { source: 'test', endpoints: [get('ok', '/ok')], headers: {}, rate: 10, startMs: 0, durationMs: 500, connections: 20, timeoutMs: 2000, ...over };
}

function context(httpUrl: string, api: Partial<ApiClientConfig>, over: Partial<ClientContext> = {}, fleetOver: Partial<FleetConfig> = {}): ClientContext {
  const clock: Clock = over.clock ?? systemClock;
  return { config: { ...fleet, ...fleetOver, httpUrl, api: apiConfig(api) }, testStartMs: clock.now(), stats: new Stats(), clock, env: {}, ...over };
}

/** Sum of a counter over every series whose labels include `labels`. */
function count(stats: Stats, name: string, labels: Record<string, string> = {}): number {
  let n = 0;
  for (const [key, v] of stats.counters) {
    const s = parseSeriesKey(key);
    if (s.name === name && Object.entries(labels).every(([k, x]) => s.labels[k] === x)) n += v;
  }
  return n;
}

function latencyCount(stats: Stats): number {
  let n = 0;
  for (const [key, r] of stats.recorders) if (parseSeriesKey(key).name === 'api_latency') n += r.count;
  return n;
}

describe('arrival schedule', () => {
  it('constant rate: arrivals at k/rate strictly inside the window, ⌈rate·window⌉ of them', () => {
    const at = [...arrivalOffsets({ rate: 20, durationMs: 2000 })];
    expect(at).toHaveLength(40);
    expect(at[0]).toBe(0);
    expect(at[39]).toBe(1950);
    expect([...arrivalOffsets({ rate: 2.5, durationMs: 1000 })]).toEqual([0, 400, 800]);
    expect([...arrivalOffsets({ rate: 0, durationMs: 1000 })]).toEqual([]);
  });

  it('ramping stages from 0: ⌈∫rate⌉ arrivals, due where the integral reaches each count; window capped by durationMs', () => {
    // 0 → 10/s over 2 s: N(t) = 2.5 t², so arrival k at √(k/2.5) s; N(2) = 10
    const ramp = [...arrivalOffsets({ stages: [{ target: 10, durationMs: 2000 }], durationMs: 2000 })];
    expect(ramp).toHaveLength(10);
    ramp.forEach((t, k) => expect(t).toBeCloseTo(Math.sqrt(k / 2.5) * 1000, 6));
    // ramp up (N = 5) then hold 10/s for 1 s (N = 10): 15, the held ones 100 ms apart
    const held = [...arrivalOffsets({ stages: [{ target: 10, durationMs: 1000 }, { target: 10, durationMs: 1000 }], durationMs: 2000 })];
    expect(held).toHaveLength(15);
    expect(held.slice(5).map((t) => Math.round(t))).toEqual([1000, 1100, 1200, 1300, 1400, 1500, 1600, 1700, 1800, 1900]);
    // ramp down to 0 (N = 2 + 2) and a stage at 0: nothing due while the rate is 0
    const down = [...arrivalOffsets({ stages: [{ target: 4, durationMs: 1000 }, { target: 0, durationMs: 1000 }, { target: 0, durationMs: 1000 }], durationMs: 5000 })];
    expect(down).toHaveLength(4);
    expect(down.every((t) => t < 2000)).toBe(true);
    expect([...arrivalOffsets({ stages: [{ target: 10, durationMs: 2000 }], durationMs: 1000 })]).toHaveLength(3); // N(1) = 2.5
  });
});

describe('against the reference platform', () => {
  const fx = usePlatformFixture('engine-api');

  it('20 req/s for 2 s: exactly 40 requests, all succeeded with their latencies; without the token every one is a 4xx', async () => {
    const { p } = await fx.setup({ apiToken: 'sesame' });
    const httpUrl = `http://127.0.0.1:${p.httpPort}`;
    const endpoints: ApiEndpoint[] = [
      get('fleet_live', '/v1/fleet/live?limit=100', { weight: 3 }),
      get('device_latest', '/v1/devices/{imei}/latest', { weight: 6, expect: [404] }),
      get('device_positions', '/v1/devices/{imei}/positions?from={from}&to={to}&limit=200', { weight: 2, expect: [404] }),
      {
        name: 'location_post',
        method: 'POST',
        path: '/v1/telemetry/location',
        weight: 1,
        body: '{"imei":"{apiImei}","timestamp":{nowMs},"latitude":{lat},"longitude":{lon},"speed":30,"heading":90,"satellites":9}',
      },
    ];
    const api = { endpoints, headers: { accept: 'application/json' }, tokenEnv: 'FLEET_API_TOKEN', rate: 20, durationMs: 2000 };
    const ctx = context(httpUrl, api, { env: { FLEET_API_TOKEN: 'sesame' } });
    await runApiClients(ctx);
    expect(count(ctx.stats, 'api_requests')).toBe(40);
    expect(count(ctx.stats, 'api_succeeded')).toBe(40);
    expect(count(ctx.stats, 'api_dropped') + count(ctx.stats, 'api_errors') + count(ctx.stats, 'api_throttled')).toBe(0);
    expect(latencyCount(ctx.stats)).toBe(40);
    for (const e of endpoints) expect(count(ctx.stats, 'api_requests', { endpoint: e.name }), e.name).toBeGreaterThan(0);

    const anon = context(httpUrl, { ...api, durationMs: 500 }, { env: {} });
    await runApiClients(anon);
    expect(count(anon.stats, 'api_errors', { class: '4xx' })).toBe(10);
    expect(count(anon.stats, 'api_succeeded')).toBe(0);
  });
});

type Seen = { method: string; url: string; headers: IncomingMessage['headers']; body: string };

/** A small HTTP server whose answer depends on the path: /ok /e500 /e429 /e404 /e403 /slow /hang /reset. */
async function misbehavingServer(): Promise<{ url: string; seen: Seen[]; close: () => Promise<void> }> {
  const seen: Seen[] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      const path = (req.url ?? '').split('/')[1];
      const status = /^e(\d{3})$/.exec(path)?.[1];
      if (status) return void res.writeHead(Number(status)).end('{}');
      if (path === 'hang') return; // never answers
      if (path === 'reset') return void req.socket.destroy();
      if (path === 'slow') return void setTimeout(() => res.end('late'), 1200);
      res.end('{"ok":true}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

describe('against misbehaving servers', () => {
  let srv: Awaited<ReturnType<typeof misbehavingServer>> | undefined;
  afterEach(async () => {
    await srv?.close();
    srv = undefined;
  });

  it('status classes per endpoint: 5xx, 4xx, 429 as throttled, an expected 404 as success', async () => {
    srv = await misbehavingServer();
    const endpoints = [get('ok', '/ok'), get('e500', '/e500'), get('e429', '/e429'), get('e404', '/e404', { expect: [404] }), get('e403', '/e403')];
    const ctx = context(srv.url, { endpoints, rate: 50, durationMs: 1000 });
    await runApiClients(ctx);
    const n = (e: string) => count(ctx.stats, 'api_requests', { endpoint: e });
    expect(count(ctx.stats, 'api_requests')).toBe(50);
    for (const e of endpoints) expect(n(e.name), e.name).toBeGreaterThan(0);
    expect(count(ctx.stats, 'api_succeeded')).toBe(n('ok') + n('e404'));
    expect(count(ctx.stats, 'api_errors', { class: '5xx' })).toBe(n('e500'));
    expect(count(ctx.stats, 'api_errors', { class: '5xx', endpoint: 'e500' })).toBe(n('e500'));
    expect(count(ctx.stats, 'api_errors', { class: '4xx' })).toBe(n('e403'));
    expect(count(ctx.stats, 'api_throttled')).toBe(n('e429'));
    expect(count(ctx.stats, 'api_throttled', { endpoint: 'e429' })).toBe(n('e429'));
    expect(count(ctx.stats, 'api_errors')).toBe(n('e500') + n('e403'));
    expect(latencyCount(ctx.stats)).toBe(50);
  });

  it('no answer within timeoutMs → timeout; nothing listening → refused; sockets destroyed → reset', async () => {
    srv = await misbehavingServer();
    const hang = context(srv.url, { endpoints: [get('hang', '/hang')], timeoutMs: 300 });
    const port = await freePort();
    const refused = context(`http://127.0.0.1:${port}`, {});
    const reset = context(srv.url, { endpoints: [get('reset', '/reset')] });
    const t0 = Date.now();
    await Promise.all([runApiClients(hang), runApiClients(refused), runApiClients(reset)]);
    // the schedule (5 arrivals over 500 ms) plus one timeout (300 ms) bounds the run, not the 2 s of a retry or hang
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(count(hang.stats, 'api_errors', { class: 'timeout', endpoint: 'hang' })).toBe(5);
    expect(count(refused.stats, 'api_errors', { class: 'refused' })).toBe(5);
    expect(count(reset.stats, 'api_errors', { class: 'reset' })).toBe(5);
    for (const c of [hang, refused, reset]) {
      expect(count(c.stats, 'api_requests')).toBe(5);
      expect(count(c.stats, 'api_errors')).toBe(5);
      expect(latencyCount(c.stats)).toBe(5);
    }
    const r = [...hang.stats.recorders.values()][0];
    expect(r.sumSeconds / r.count).toBeGreaterThanOrEqual(0.29);
  });

  it('a slow server with 2 pooled connections: arrivals beyond two in flight are dropped and counted, never sent late', async () => {
    srv = await misbehavingServer();
    const ctx = context(srv.url, { endpoints: [get('slow', '/slow')], rate: 10, durationMs: 1000, connections: 2 });
    await runApiClients(ctx);
    expect(count(ctx.stats, 'api_dropped', { endpoint: 'slow' })).toBe(8);
    expect(count(ctx.stats, 'api_requests')).toBe(2);
    expect(count(ctx.stats, 'api_succeeded')).toBe(2);
    expect(srv.seen).toHaveLength(2);
  });

  it('the run signal stops new arrivals and cancels requests in flight (counted as other), then resolves', async () => {
    srv = await misbehavingServer();
    const stop = new AbortController();
    const ctx = context(srv.url, { endpoints: [get('hang', '/hang')], rate: 10, durationMs: 3000, timeoutMs: 10_000 }, { signal: stop.signal });
    const t0 = Date.now();
    setTimeout(() => stop.abort(), 250);
    await runApiClients(ctx);
    expect(Date.now() - t0).toBeLessThan(1500); // not the 3 s schedule, not the 10 s timeout
    expect(count(ctx.stats, 'api_requests')).toBe(3); // arrivals at 0, 100, 200 ms
    expect(count(ctx.stats, 'api_errors', { class: 'other' })).toBe(3);
  });

  it('late timers: arrivals already due go out at once, counted late; on time after that (manual clock)', async () => {
    srv = await misbehavingServer();
    const clock = new ManualClock(Date.now());
    // the API window began 1 s ago: arrivals 0..9 are overdue when the clients start
    const ctx = context(srv.url, { rate: 10, durationMs: 2000 }, { clock, testStartMs: clock.now() - 1000 });
    const run = runApiClients(ctx);
    for (let i = 0; i < 100 && clock.pending === 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(count(ctx.stats, 'api_late')).toBe(10);
    for (let i = 0; i < 20; i++) await clock.advance(50);
    await run;
    expect(count(ctx.stats, 'api_late')).toBe(10);
    expect(count(ctx.stats, 'api_requests')).toBe(20);
    expect(count(ctx.stats, 'api_succeeded')).toBe(20);
    expect(count(ctx.stats, 'api_dropped')).toBe(0);
  });

  it('placeholders, headers and token as api.ts; {imei} only among devices of the current step; reproducible per seed', async () => {
    srv = await misbehavingServer();
    const endpoints: ApiEndpoint[] = [
      get('read', '/r/{imei}/{nowMs}/{lat}/{lon}/{limit}', { headers: { 'x-endpoint': 'read' } }),
      { name: 'write', method: 'POST', path: '/w/{apiImei}', weight: 1, body: '{"imei":"{apiImei}","t":{nowMs},"from":"{from}","to":"{to}"}' },
    ];
    const api = { endpoints, headers: { accept: 'application/json' }, tokenEnv: 'MY_TOKEN', rate: 40, durationMs: 1000 };
    const steps = { steps: [{ devices: 2, startMs: 0 }, { devices: 10, startMs: 500 }] };
    const ctx = context(srv.url, api, { env: { MY_TOKEN: 'tok' } }, steps);
    await runApiClients(ctx);
    const seen = srv.seen.splice(0);
    expect(seen).toHaveLength(40);
    const early = new Set([0, 1].map((i) => imeiForIndex(fleet.seed, i)));
    const all = new Set(Array.from({ length: 10 }, (_, i) => imeiForIndex(fleet.seed, i)));
    const top = new Set(Array.from({ length: 16 }, (_, i) => imeiForIndex(fleet.seed, IMEI_INDEX_LIMIT - 1 - i)));
    let lateImeis = 0;
    for (const s of seen) {
      expect(s.headers.authorization).toBe('Bearer tok');
      expect(s.headers.accept).toBe('application/json');
      if (s.method === 'GET') {
        const [, , imei, nowMs, lat, lon, limit] = s.url.split('/');
        expect(limit).toBe('{limit}');
        expect(Math.abs(Number(lat) - fleet.centre.latitude)).toBeLessThanOrEqual(0.025);
        expect(Math.abs(Number(lon) - fleet.centre.longitude)).toBeLessThanOrEqual(0.025);
        expect(s.headers['x-endpoint']).toBe('read');
        const elapsed = Number(nowMs) - ctx.testStartMs;
        expect(all.has(imei)).toBe(true);
        if (elapsed < 500) expect(early.has(imei), `${imei} at ${elapsed} ms`).toBe(true);
        else if (!early.has(imei)) lateImeis++;
      } else {
        const imei = s.url.split('/')[2];
        expect(top.has(imei)).toBe(true);
        expect(s.headers['content-type']).toBe('application/json');
        const body = JSON.parse(s.body) as { imei: string; t: number; from: string; to: string };
        expect(body.imei).toBe(imei);
        expect(Date.parse(body.to) - Date.parse(body.from)).toBe(600_000);
      }
    }
    expect(lateImeis).toBeGreaterThan(0);
    // same seed → the same request mix; another seed → another (no steps here: a late timer near a step boundary
    // would legitimately pick among more devices)
    const mix = (list: Seen[]) => list.map((x) => x.url.split('/').filter((_, i) => !(x.method === 'GET' && i === 3)).join('/')).sort();
    const short = { ...api, durationMs: 500 };
    await runApiClients(context(srv.url, short));
    const first = mix(srv.seen.splice(0));
    await runApiClients(context(srv.url, short));
    expect(mix(srv.seen.splice(0))).toEqual(first);
    await runApiClients(context(srv.url, short, {}, { seed: 12 }));
    expect(mix(srv.seen.splice(0))).not.toEqual(first);
  });
});
