// The engine's WebSocket clients (src/engine/ws-clients.ts) over real sockets on 127.0.0.1: against the reference
// platform fed by real simulated devices (every expected record arrives), against the platform refusing the upgrade
// (401) and a port with nothing listening (refused, the whole window missed), and against a small feed written here
// that sends fewer records than expected, a non-JSON message, and then drops the client mid-run.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { systemClock } from '../../src/core/clock.js';
import { parseSeriesKey, Stats } from '../../src/engine/stats.js';
import { expectedRecords, runWsClients, type ClientContext } from '../../src/engine/ws-clients.js';
import { imeiForIndex } from '../../src/protocol/teltonika/index.js';
import { DeviceCore, deviceSettings, recordsBetween } from '../../src/sim/device.js';
import type { FleetConfig, WsClientConfig } from '../../src/sim/fleet-config.js';
import { runDevice, type DeviceEvents } from '../../src/sim/session.js';
import { usePlatformFixture } from '../platform/helpers.js';
import { nodeIO } from '../sim/node-io.js';

const fleet: FleetConfig = {
  runId: 'ws-test',
  seed: 5,
  devices: 3,
  durationSec: 3,
  intervalMs: 200,
  recordsPerPacket: 2,
  codec: 8,
  ackTimeoutMs: 1000,
  reconnectBaseMs: 100,
  reconnectMaxMs: 400,
  tcpHost: '127.0.0.1',
  tcpPort: 0,
  centre: { latitude: 44.7722, longitude: 17.191 },
};

function context(httpUrl: string, ws: Partial<WsClientConfig>, over: Partial<ClientContext> = {}, fleetOver: Partial<FleetConfig> = {}): ClientContext {
  const config: FleetConfig = { ...fleet, ...fleetOver, httpUrl, ws: { clients: 1, subscribe: 'all', startMs: 0, durationMs: 1500, graceMs: 200, ...ws } };
  return { config, testStartMs: Date.now(), stats: new Stats(), clock: systemClock, env: {}, ...over };
}

function count(stats: Stats, name: string, labels: Record<string, string> = {}): number {
  let n = 0;
  for (const [key, v] of stats.counters) {
    const s = parseSeriesKey(key);
    if (s.name === name && Object.entries(labels).every(([k, x]) => s.labels[k] === x)) n += v;
  }
  return n;
}

const quietDevice: DeviceEvents = {
  error: () => {},
  login: () => {},
  connected: () => {},
  disconnected: () => {},
  packet: () => {},
  acked: () => {},
  sendLag: () => {},
  keepAlive: () => {},
  outage: () => {},
};

describe('expected records', () => {
  it('devices of a later step count from their step start; an empty or inverted window expects nothing', () => {
    const config: FleetConfig = { ...fleet, steps: [{ devices: 1, startMs: 0 }, { devices: 3, startMs: 1000 }] };
    const t = Date.UTC(2026, 0, 5, 8, 0, 0);
    const s = deviceSettings(config);
    // device 0 runs from the start; devices 1 and 2 from 1 s (their first packet carries a record from up to one
    // interval before its tick, hence nothing before 0.9 s)
    expect(expectedRecords(config, t, [1, 2], t, t + 900)).toBe(0);
    expect(expectedRecords(config, t, [0], t, t + 900)).toBeGreaterThan(0);
    expect(expectedRecords(config, t, [0, 1, 2], t, t + 2000)).toBe(
      recordsBetween(s, 0, t, t, t + 2000) + recordsBetween(s, 1, t + 1000, t, t + 2000) + recordsBetween(s, 2, t + 1000, t, t + 2000),
    );
    expect(expectedRecords(config, t, [0], t + 500, t + 500 - 1)).toBe(0);
  });
});

describe('against the reference platform', () => {
  const fx = usePlatformFixture('engine-ws');

  it('two clients on blocks of devices: every expected record received, fresh, closed by the client itself', async () => {
    const { p } = await fx.setup({ apiToken: 'sesame' });
    const ctx = context(`http://127.0.0.1:${p.httpPort}`, { clients: 2, subscribe: 2, durationMs: 2500, graceMs: 400, tokenEnv: 'WS_TOKEN' }, { env: { WS_TOKEN: 'sesame' } });
    const s = deviceSettings(ctx.config);
    const t = ctx.testStartMs;
    const devices = [0, 1, 2].map((i) =>
      runDevice(new DeviceCore(s, i, t), nodeIO(p.tcpPort), quietDevice, { deadline: t + 2600, drainUntil: t + 3000, ackTimeoutMs: 1000, keepAliveMs: 0 }),
    );
    let peak = 0;
    const watch = setInterval(() => (peak = Math.max(peak, ctx.stats.gauges.get('ws_clients_connected') ?? 0)), 20);
    await runWsClients(ctx);
    clearInterval(watch);
    await Promise.all(devices);
    const expected = count(ctx.stats, 'ws_records_expected');
    // client 0 watches devices 0,1 and client 1 devices 2,0: ~1.7 s window × 10 records/s × 4 subscriptions
    expect(expected).toBeGreaterThan(40);
    expect(count(ctx.stats, 'ws_records_received')).toBe(expected);
    expect(count(ctx.stats, 'ws_records_missed')).toBe(0);
    expect(count(ctx.stats, 'ws_connects')).toBe(2);
    expect(count(ctx.stats, 'ws_errors')).toBe(0);
    expect(peak).toBe(2);
    expect(ctx.stats.gauges.get('ws_clients_connected')).toBe(0);
    const fresh = ctx.stats.recorders.get('ws_freshness');
    expect(fresh?.count).toBe(count(ctx.stats, 'ws_messages'));
    expect(fresh?.count ?? 0).toBeGreaterThanOrEqual(expected);
    // a record is pushed within a send period (200 ms) plus the platform's batching
    expect((fresh?.sumSeconds ?? 1) / (fresh?.count ?? 1)).toBeLessThan(0.5);
  });

  it('401 on the upgrade (no token) and nothing listening: refused, and the whole window counts as missed', async () => {
    const { p } = await fx.setup({ apiToken: 'sesame' });
    const port = await freePort();
    const unauthorised = context(`http://127.0.0.1:${p.httpPort}`, { clients: 2, durationMs: 3000, tokenEnv: 'WS_TOKEN' });
    const nobody = context(`http://127.0.0.1:${port}`, { clients: 2, durationMs: 3000 });
    const t0 = Date.now();
    await Promise.all([runWsClients(unauthorised), runWsClients(nobody)]);
    // a client that cannot connect does not wait for its close time
    expect(Date.now() - t0).toBeLessThan(2000);
    for (const ctx of [unauthorised, nobody]) {
      expect(count(ctx.stats, 'ws_errors', { reason: 'refused' })).toBe(2);
      expect(count(ctx.stats, 'ws_connects')).toBe(0);
      expect(count(ctx.stats, 'ws_records_received')).toBe(0);
      // both clients: all 3 devices from the attempt + grace to the close − grace (~2.6 s × 10 records/s × 3)
      const expected = count(ctx.stats, 'ws_records_expected');
      const full = expectedRecords(ctx.config, ctx.testStartMs, [0, 1, 2], ctx.testStartMs + 200, ctx.testStartMs + 2800);
      expect(expected).toBeGreaterThanOrEqual(2 * full - 12);
      expect(expected).toBeLessThanOrEqual(2 * full);
      expect(full).toBeGreaterThan(60);
      expect(count(ctx.stats, 'ws_records_missed')).toBe(expected);
    }
  });
});

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

describe('against a misbehaving feed', () => {
  let wss: WebSocketServer | undefined;
  afterEach(async () => {
    for (const c of wss?.clients ?? []) c.terminate();
    await new Promise<void>((resolve) => (wss ? wss.close(() => resolve()) : resolve()));
    wss = undefined;
  });

  it('the run signal closes clients early: no failure counted, the window ends at the stop', async () => {
    wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => wss?.once('listening', resolve));
    const { port } = wss.address() as AddressInfo;
    wss.on('connection', (ws: WebSocket) => ws.on('message', () => ws.send(JSON.stringify({ type: 'subscribed', all: true, imeis: [] }))));
    const stop = new AbortController();
    const ctx = context(`http://127.0.0.1:${port}`, { clients: 2, durationMs: 4000, graceMs: 100 }, { signal: stop.signal }, { intervalMs: 100, recordsPerPacket: 1 });
    setTimeout(() => stop.abort(), 700);
    await runWsClients(ctx);
    const stoppedAfter = Date.now() - ctx.testStartMs;
    expect(stoppedAfter).toBeLessThan(2500);
    expect(count(ctx.stats, 'ws_connects')).toBe(2);
    expect(count(ctx.stats, 'ws_errors')).toBe(0);
    // per client, subscribed + 100 ms … stop − 100 ms of 3 devices at 10 records/s (not up to the 4 s close): nothing arrived
    const expected = count(ctx.stats, 'ws_records_expected');
    expect(expected).toBeGreaterThan(10);
    expect(expected).toBeLessThanOrEqual(2 * 3 * 10 * (stoppedAfter / 1000) + 6);
    expect(count(ctx.stats, 'ws_records_missed')).toBe(expected);
    expect(ctx.stats.gauges.get('ws_clients_connected')).toBe(0);
  });

  it('fewer records than expected → missed; a non-JSON message → json; dropped by the server mid-run → dropped', async () => {
    wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => wss?.once('listening', resolve));
    const { port } = wss.address() as AddressInfo;
    const mine = imeiForIndex(fleet.seed, 1);
    let subscribedAt = 0;
    let subscribe: unknown;
    wss.on('connection', (ws: WebSocket) => {
      ws.on('message', (data) => {
        subscribe = JSON.parse(String(data));
        subscribedAt = Date.now();
        ws.send(JSON.stringify({ type: 'subscribed', all: false, imeis: [mine] }));
        const record = (imei: string, ts: number) => JSON.stringify({ type: 'record', imei, timestamp: new Date(ts).toISOString() });
        setTimeout(() => {
          // 4 records inside the window, 1 from before it, 1 of a device the client did not ask for, then garbage
          for (let j = 0; j < 4; j++) ws.send(record(mine, subscribedAt + 250 + j * 10));
          ws.send(record(mine, subscribedAt - 5000));
          ws.send(record(imeiForIndex(fleet.seed, 2), subscribedAt + 260));
          ws.send('this is not json');
        }, 300);
        setTimeout(() => ws.terminate(), 500);
      });
    });
    // one client with subscribe = 2 watches devices 0 and 1
    const ctx = context(`http://127.0.0.1:${port}`, { clients: 1, subscribe: 2, durationMs: 3000, graceMs: 200 }, {}, { intervalMs: 100, recordsPerPacket: 1 });
    const t0 = Date.now();
    await runWsClients(ctx);
    expect(Date.now() - t0).toBeLessThan(2000); // resolved at the drop, not at the close time
    expect(subscribe).toEqual({ subscribe: [imeiForIndex(fleet.seed, 0), mine] });
    expect(count(ctx.stats, 'ws_errors', { reason: 'dropped' })).toBe(1);
    expect(count(ctx.stats, 'ws_errors', { reason: 'json' })).toBe(1);
    expect(count(ctx.stats, 'ws_errors')).toBe(2);
    expect(count(ctx.stats, 'ws_messages')).toBe(6);
    expect(count(ctx.stats, 'ws_records_received')).toBe(4);
    // expected: devices 0 and 1 from the subscription + grace to the close − grace, although the client was dropped
    const expected = count(ctx.stats, 'ws_records_expected');
    const t = ctx.testStartMs;
    const most = expectedRecords(ctx.config, t, [0, 1], subscribedAt + 200, t + 2800);
    expect(expected).toBeLessThanOrEqual(most);
    expect(expected).toBeGreaterThanOrEqual(most - 2);
    expect(expected).toBeGreaterThan(40);
    expect(count(ctx.stats, 'ws_records_missed')).toBe(expected - 4);
    expect(ctx.stats.gauges.get('ws_clients_connected')).toBe(0);
    expect(ctx.stats.recorders.get('ws_freshness')?.count).toBe(6);
  });
});
