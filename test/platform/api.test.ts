// HTTP API, WebSocket feed and fault knobs against a real PostgreSQL.
import { beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { eventually, metricValue, nextImei, packet, query, RawDevice, records, sleep, startTestPlatform, usePlatformFixture } from './helpers.js';

const fixture = usePlatformFixture();

const T0 = Date.UTC(2025, 10, 20, 8);

async function setup(opts: Parameters<typeof startTestPlatform>[1] = {}) {
  // /admin/* exists only when enabled (off by default); these tests use the fault knobs
  const { url, p } = await fixture.setup({ enableAdmin: true, ...opts });
  const base = `http://127.0.0.1:${p.httpPort}`;
  const http = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(base + path, {
      method,
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, json, text, ms: 0 };
  };
  return { url, p, http };
}

describe('http api', () => {
  let ctx: Awaited<ReturnType<typeof setup>>;
  beforeAll(async () => {
    ctx = await setup();
  });

  it('serves /health and /metrics', async () => {
    const h = await ctx.http('GET', '/health');
    expect(h.status).toBe(200);
    expect(h.json).toMatchObject({ status: 'ok', db: 'up' });
    const m = await ctx.http('GET', '/metrics');
    expect(m.status).toBe(200);
    expect(m.text).toContain('tcp_connections_active');
    expect(metricValue(m.text, 'http_requests_total', { method: 'GET', route: '/health', status: '200' })).toBe(1);
  });

  it('ingests JSON locations through the batch writer and serves latest, positions and the live fleet', async () => {
    const imei = nextImei();
    const one = await ctx.http('POST', '/v1/telemetry/location', { imei, timestamp: new Date(T0).toISOString(), latitude: 44.5, longitude: 17.25, speed: 33.4, io: { '239': 1 } });
    expect(one.status).toBe(200);
    expect(one.json.accepted).toBe(1);
    const many = await ctx.http('POST', '/v1/telemetry/location', {
      imei,
      records: [1, 2, 3].map((i) => ({ timestamp: T0 + i * 60_000, latitude: 44.5 + i / 100, longitude: 17.25, heading: 90 })),
    });
    expect(many.json.accepted).toBe(3);
    const latest = await ctx.http('GET', `/v1/devices/${imei}/latest`);
    expect(latest.status).toBe(200);
    expect(latest.json).toMatchObject({ imei, timestamp: new Date(T0 + 180_000).toISOString(), latitude: 44.53, heading: 90 });
    expect(latest.json.receivedAt).toBeDefined();
    const pos = await ctx.http('GET', `/v1/devices/${imei}/positions?from=${T0 + 60_000}&to=${new Date(T0 + 120_000).toISOString()}`);
    expect(pos.status).toBe(200);
    expect(pos.json.positions.map((x: { timestamp: string }) => x.timestamp)).toEqual([
      new Date(T0 + 60_000).toISOString(),
      new Date(T0 + 120_000).toISOString(),
    ]);
    const lim = await ctx.http('GET', `/v1/devices/${imei}/positions?limit=2`);
    expect(lim.json.count).toBe(2);
    expect(lim.json.positions[1].timestamp).toBe(new Date(T0 + 180_000).toISOString());
    const first = await ctx.http('GET', `/v1/devices/${imei}/positions?limit=10`);
    expect(first.json.positions[0]).toMatchObject({ speed: 33, io: { '239': 1 } });
    const live = await ctx.http('GET', '/v1/fleet/live');
    expect(live.status).toBe(200);
    expect(live.json.devices.find((d: { imei: string }) => d.imei === imei)).toMatchObject({ latitude: 44.53 });
    const m = await ctx.p.metricsText();
    expect(metricValue(m, 'http_request_duration_seconds_bucket', { route: '/v1/devices/:imei/latest', le: '0.2' })).toBe(1);
    expect(metricValue(m, 'http_request_duration_seconds_bucket', { route: '/v1/devices/:imei/latest', le: '0.5' })).toBe(1);
  });

  it('answers validation errors with 400 and a message, unknown IMEIs with 404', async () => {
    const imei = nextImei();
    const cases: Array<[string, string, unknown, RegExp]> = [
      ['POST', '/v1/telemetry/location', { imei: 'abc', timestamp: T0, latitude: 1, longitude: 1 }, /imei/],
      ['POST', '/v1/telemetry/location', { imei, timestamp: T0, latitude: 91, longitude: 1 }, /latitude/],
      ['POST', '/v1/telemetry/location', { imei, latitude: 1, longitude: 1 }, /timestamp/],
      ['POST', '/v1/telemetry/location', { imei, timestamp: 'yesterday', latitude: 1, longitude: 1 }, /timestamp/],
      ['POST', '/v1/telemetry/location', { imei, timestamp: T0, latitude: 1, longitude: 1, colour: 'red' }, /additional/],
      ['POST', '/v1/telemetry/location', { imei, records: [] }, /records/],
      ['GET', `/v1/devices/12ab/latest`, undefined, /imei/],
      ['GET', `/v1/devices/${imei}/positions?from=notadate`, undefined, /from/],
      ['GET', `/v1/devices/${imei}/positions?from=${T0 + 1}&to=${T0}`, undefined, /from must not be after to/],
      ['GET', `/v1/devices/${imei}/positions?limit=0`, undefined, /limit/],
      ['POST', '/admin/faults', { httpErrorRatio: 3 }, /httpErrorRatio/],
      ['POST', '/admin/faults', { nosuch: 1 }, /unknown fault knob/],
    ];
    for (const [method, path, body, msg] of cases) {
      const r = await ctx.http(method, path, body);
      expect(r.status, `${method} ${path} ${JSON.stringify(body)}`).toBe(400);
      expect(r.json.message, `${method} ${path}`).toMatch(msg);
    }
    const bad = await ctx.http('POST', '/v1/telemetry/location', 'not json{', { 'content-type': 'application/json' });
    expect(bad.status).toBe(400);
    expect((await ctx.http('GET', `/v1/devices/${imei}/latest`)).status).toBe(404);
    expect((await ctx.http('GET', `/v1/devices/${imei}/positions`)).status).toBe(404);
    const m = await ctx.p.metricsText();
    expect(metricValue(m, 'http_requests_total', { route: '/v1/telemetry/location', status: '400' })).toBeGreaterThanOrEqual(6);
  });

  it('pushes committed records over the WebSocket to subscribers of all devices or of chosen IMEIs', async () => {
    const imeiA = nextImei();
    const imeiB = nextImei();
    const open = (q: string) =>
      new Promise<{ ws: WebSocket; msgs: any[] }>((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${ctx.p.httpPort}/ws${q}`);
        const msgs: any[] = [];
        ws.on('message', (d) => msgs.push(JSON.parse(String(d))));
        ws.on('open', () => resolve({ ws, msgs }));
        ws.on('error', reject);
      });
    const all = await open('?all=1');
    const onlyA = await open('');
    onlyA.ws.send(JSON.stringify({ subscribe: [imeiA] }));
    await eventually(() => onlyA.msgs.some((m) => m.type === 'subscribed' && m.count === 1));
    expect(metricValue(await ctx.p.metricsText(), 'websocket_connections_active')).toBe(2);

    for (const imei of [imeiA, imeiB]) {
      const dev = await RawDevice.connect(ctx.p.tcpPort);
      await dev.login(imei);
      dev.write(packet(records([T0, T0 + 1000])));
      expect(await dev.ack()).toBe(2);
      dev.destroy();
    }
    await eventually(() => all.msgs.filter((m) => m.type === 'record').length === 4);
    await eventually(() => onlyA.msgs.filter((m) => m.type === 'record').length === 2);
    const rec = onlyA.msgs.find((m) => m.type === 'record');
    expect(rec).toMatchObject({ imei: imeiA, timestamp: new Date(T0).toISOString(), io: { '239': 1, '66': 12345 } });
    expect(Date.parse(rec.receivedAt)).toBeGreaterThan(Date.now() - 60_000);
    expect(Date.parse(rec.committedAt)).toBeGreaterThanOrEqual(Date.parse(rec.receivedAt));
    all.ws.close();
    onlyA.ws.close();
    await eventually(async () => metricValue(await ctx.p.metricsText(), 'websocket_connections_active') === 0);
  });
});

describe('bearer token', () => {
  it('guards /v1, /admin and /ws but not /health and /metrics', async () => {
    const { http, p } = await setup({ apiToken: 's3cret-token' });
    expect((await http('GET', '/v1/fleet/live')).status).toBe(401);
    expect((await http('GET', '/v1/fleet/live', undefined, { authorization: 'Bearer wrong' })).status).toBe(401);
    expect((await http('GET', '/v1/fleet/live', undefined, { authorization: 'Bearer s3cret-token' })).status).toBe(200);
    expect((await http('POST', '/admin/faults', {})).status).toBe(401);
    expect((await http('GET', '/health')).status).toBe(200);
    expect((await http('GET', '/metrics')).status).toBe(200);
    const refused = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${p.httpPort}/ws`);
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => resolve(101));
    });
    expect(refused).toBe(401);
    const ok = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${p.httpPort}/ws?token=s3cret-token`);
      ws.on('open', () => {
        ws.close();
        resolve(101);
      });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    });
    expect(ok).toBe(101);
  });
});

describe('fault knobs', () => {
  let ctx: Awaited<ReturnType<typeof setup>>;
  beforeAll(async () => {
    ctx = await setup();
  });
  const setFaults = async (f: Record<string, number>) => {
    const r = await ctx.http('POST', '/admin/faults', f);
    expect(r.status).toBe(200);
    return r.json;
  };
  const rows = async (imei: string) =>
    (
      await query<{ ts: Date }>(ctx.url, `SELECT r."timestamp" AS ts FROM telemetry_records r JOIN devices d ON d.id = r.device_id WHERE d.imei = $1 ORDER BY 1`, [imei])
    ).map((r) => r.ts.getTime());
  async function sendTcp(imei: string, ts: number[]) {
    const dev = await RawDevice.connect(ctx.p.tcpPort);
    await dev.login(imei);
    dev.write(packet(records(ts)));
    const n = await dev.ack();
    dev.destroy();
    return n;
  }

  it('are all off by default and exposed as metrics', async () => {
    expect((await ctx.http('GET', '/admin/faults')).json).toEqual({
      httpLatencyMs: 0,
      httpErrorRatio: 0,
      ackedNotStoredRatio: 0,
      duplicateRatio: 0,
      insertDelayMs: 0,
      tcpResetPerSec: 0,
    });
    expect(metricValue(await ctx.p.metricsText(), 'platform_fault_active', { knob: 'httpErrorRatio' })).toBe(0);
  });

  it('httpLatencyMs delays /v1 requests only', async () => {
    await setFaults({ httpLatencyMs: 300 });
    let t = performance.now();
    expect((await ctx.http('GET', '/v1/fleet/live')).status).toBe(200);
    expect(performance.now() - t).toBeGreaterThanOrEqual(290);
    t = performance.now();
    await ctx.http('GET', '/health');
    expect(performance.now() - t).toBeLessThan(250);
    const m = await ctx.p.metricsText();
    expect(metricValue(m, 'http_request_duration_seconds_bucket', { route: '/v1/fleet/live', le: '0.2' })).toBe(0);
    expect(metricValue(m, 'http_request_duration_seconds_bucket', { route: '/v1/fleet/live', le: '0.5' })).toBe(1);
    await setFaults({ httpLatencyMs: 0 });
  });

  it('httpErrorRatio answers that share of /v1 requests with 500', async () => {
    await setFaults({ httpErrorRatio: 1 });
    expect((await ctx.http('GET', '/v1/fleet/live')).status).toBe(500);
    expect((await ctx.http('GET', '/health')).status).toBe(200);
    await setFaults({ httpErrorRatio: 0.5 });
    let errors = 0;
    for (let i = 0; i < 60; i++) if ((await ctx.http('GET', '/v1/fleet/live')).status === 500) errors++;
    expect(errors).toBeGreaterThan(10);
    expect(errors).toBeLessThan(50);
    await setFaults({ httpErrorRatio: 0 });
    expect((await ctx.http('GET', '/v1/fleet/live')).status).toBe(200);
  });

  it('ackedNotStoredRatio ACKs records that are never stored', async () => {
    await setFaults({ ackedNotStoredRatio: 1 });
    const imei = nextImei();
    expect(await sendTcp(imei, [T0, T0 + 1000, T0 + 2000])).toBe(3);
    expect(await rows(imei)).toEqual([]);
    expect(metricValue(await ctx.p.metricsText(), 'telemetry_records_fault_dropped_total')).toBe(3);
    await setFaults({ ackedNotStoredRatio: 0 });
    expect(await sendTcp(imei, [T0 + 3000])).toBe(1);
    expect(await rows(imei)).toEqual([T0 + 3000]);
  });

  it('duplicateRatio stores a second copy at timestamp + 1 ms', async () => {
    await setFaults({ duplicateRatio: 1 });
    const imei = nextImei();
    expect(await sendTcp(imei, [T0, T0 + 1000])).toBe(2);
    expect(await rows(imei)).toEqual([T0, T0 + 1, T0 + 1000, T0 + 1001]);
    expect(metricValue(await ctx.p.metricsText(), 'telemetry_records_fault_duplicated_total')).toBe(2);
    await setFaults({ duplicateRatio: 0 });
    const imei2 = nextImei();
    expect(await sendTcp(imei2, [T0])).toBe(1);
    expect(await rows(imei2)).toEqual([T0]);
  });

  it('insertDelayMs slows every batch insert (and so every ACK)', async () => {
    await setFaults({ insertDelayMs: 400 });
    const t = performance.now();
    expect(await sendTcp(nextImei(), [T0])).toBe(1);
    expect(performance.now() - t).toBeGreaterThanOrEqual(390);
    const m = await ctx.p.metricsText();
    const slow = (metricValue(m, 'db_batch_insert_duration_seconds_count') ?? 0) - (metricValue(m, 'db_batch_insert_duration_seconds_bucket', { le: '0.25' }) ?? 0);
    expect(slow).toBeGreaterThanOrEqual(1);
    await setFaults({ insertDelayMs: 0 });
  });

  it('tcpResetPerSec resets logged-in device connections', async () => {
    const devs = await Promise.all([1, 2, 3].map(() => RawDevice.connect(ctx.p.tcpPort)));
    for (const d of devs) await d.login(nextImei());
    await setFaults({ tcpResetPerSec: 20 });
    for (const d of devs) expect(await d.waitClosed(3000)).toBe(true);
    expect(devs.some((d) => (d.closeError as NodeJS.ErrnoException | undefined)?.code === 'ECONNRESET')).toBe(true);
    await setFaults({ tcpResetPerSec: 0 });
    expect(metricValue(await ctx.p.metricsText(), 'tcp_connections_rejected_total', { reason: 'fault_reset' })).toBe(3);
    const d = await RawDevice.connect(ctx.p.tcpPort);
    await d.login(nextImei());
    await sleep(300);
    expect(d.closed).toBe(false);
    d.destroy();
  });
});
