// WebSocket feed against clients that try to exhaust memory: subscribe floods, invalid and too many IMEIs, clients
// that never read, and more clients than allowed. After each case /health answers, a fresh device gets its ACK, and
// the heap of this process (the platform runs in it) grew by less than HEAP_BOUND_MB.
import WebSocket from 'ws';
import { describe, expect, it } from 'vitest';
import type { PlatformHandle } from '../../src/platform/platform.js';
import { eventually, metricValue, nextImei, sleep, usePlatformFixture } from '../platform/helpers.js';
import { runGoodFleet } from './devices.js';

const { setup } = usePlatformFixture('ws-abuse');
const HEAP_BOUND_MB = 150;

async function alive(p: PlatformHandle, heapBefore: number): Promise<void> {
  expect((await fetch(`http://127.0.0.1:${p.httpPort}/health`)).status).toBe(200);
  const late = await runGoodFleet({ port: p.tcpPort, n: 1, intervalMs: 0, untilMs: Date.now(), maxPackets: 1 });
  expect(late.failures).toEqual([]);
  const grewMb = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20;
  expect(grewMb, `heap grew ${grewMb.toFixed(0)} MB`).toBeLessThan(HEAP_BOUND_MB);
}

function open(port: number, q = ''): Promise<{ ws: WebSocket; msgs: Array<Record<string, unknown>>; closed: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws${q}`);
    const msgs: Array<Record<string, unknown>> = [];
    const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
    ws.on('message', (d) => msgs.push(JSON.parse(String(d)) as Record<string, unknown>));
    ws.on('open', () => resolve({ ws, msgs, closed }));
    ws.on('error', reject);
    ws.on('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
  });
}

const imeis = (n: number) => Array.from({ length: n }, () => nextImei());
const counter = async (p: PlatformHandle, name: string, labels: Record<string, string> = {}) => metricValue(await p.metricsText(), name, labels) ?? 0;

describe('WebSocket feed against memory exhaustion', () => {
  it('validates IMEIs, caps subscriptions, and replies with a count, never the list', async () => {
    const heap = process.memoryUsage().heapUsed;
    const { p } = await setup({ wsMaxSubscriptions: 100, wsControlPerSec: 1000 });
    const c = await open(p.httpPort);
    for (const bad of [['123'], ['3563070424410130'], ['35630704244101x'], ['']]) c.ws.send(JSON.stringify({ subscribe: bad }));
    c.ws.send(JSON.stringify({ subscribe: imeis(60) }));
    c.ws.send(JSON.stringify({ subscribe: imeis(60) })); // 120 > 100: refused whole
    c.ws.send(JSON.stringify({ subscribe: imeis(40) }));
    await eventually(() => c.msgs.length === 7);
    expect(c.msgs.slice(0, 4).map((m) => m.type)).toEqual(['error', 'error', 'error', 'error']);
    expect(c.msgs[4]).toEqual({ type: 'subscribed', all: false, count: 60 });
    expect(c.msgs[5]).toMatchObject({ type: 'error', message: expect.stringMatching(/at most 100/) });
    expect(c.msgs[6]).toEqual({ type: 'subscribed', all: false, count: 100 });
    c.ws.close();
    await alive(p, heap);
  });

  it('closes a client that floods control messages (the 3.8 GB case) and counts it', async () => {
    const heap = process.memoryUsage().heapUsed;
    const { p } = await setup({ wsControlPerSec: 10 });
    const c = await open(p.httpPort);
    const list = JSON.stringify({ subscribe: imeis(1000) });
    let sent = 0;
    const stop = Date.now() + 3000;
    while (c.ws.readyState === WebSocket.OPEN && sent < 2000 && Date.now() < stop) {
      c.ws.send(list);
      sent++;
      if (sent % 50 === 0) await sleep(1);
    }
    expect(await Promise.race([c.closed, sleep(3000).then(() => -1)])).toBe(1008);
    expect(sent).toBeLessThan(2000);
    expect(await counter(p, 'websocket_evictions_total', { reason: 'control_rate' })).toBe(1);
    await alive(p, heap);
  }, 20_000);

  it('refuses clients past maxWsClients with 503 and counts them', async () => {
    const heap = process.memoryUsage().heapUsed;
    const { p } = await setup({ maxWsClients: 5 });
    const ok = await Promise.all(Array.from({ length: 5 }, () => open(p.httpPort)));
    await expect(open(p.httpPort)).rejects.toThrow(/HTTP 503/);
    expect(await counter(p, 'websocket_connections_rejected_total', { reason: 'max_clients' })).toBe(1);
    for (const c of ok) c.ws.close();
    await eventually(async () => (await counter(p, 'websocket_connections_active')) === 0);
    (await open(p.httpPort)).ws.close(); // room again
    await alive(p, heap);
  });

  it('evicts clients that never read once they stay over the buffered cap past the grace period', async () => {
    const heap = process.memoryUsage().heapUsed;
    const { p } = await setup({ wsMaxBufferedBytes: 256 * 1024, wsSlowGraceMs: 500 });
    const slow = await Promise.all(Array.from({ length: 20 }, () => open(p.httpPort, '?all=1')));
    for (const c of slow) (c.ws as unknown as { _socket: { pause(): void } })._socket.pause(); // never read again
    const reader = await open(p.httpPort, '?all=1');
    const imei = nextImei();
    const big = 'x'.repeat(4000);
    // ~16 MB of records per slow client, far more than the loopback socket buffers hold
    for (let k = 0; k < 20; k++) {
      const res = await fetch(`http://127.0.0.1:${p.httpPort}/v1/telemetry/location`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ imei, records: Array.from({ length: 200 }, (_, i) => ({ timestamp: Date.now() - 3_600_000 + k * 1000 + i, latitude: 1, longitude: 1, io: { '1': big } })) }),
      });
      expect(res.status).toBe(200);
    }
    await eventually(async () => (await counter(p, 'websocket_evictions_total', { reason: 'slow' })) === 20, 5000);
    expect(await counter(p, 'websocket_messages_dropped_total')).toBeGreaterThan(0);
    expect(reader.ws.readyState).toBe(WebSocket.OPEN); // a reading client is not evicted
    expect(reader.msgs.filter((m) => m.type === 'record').length).toBe(4000);
    reader.ws.close();
    for (const c of slow) c.ws.terminate();
    await alive(p, heap);
  }, 30_000);
});
