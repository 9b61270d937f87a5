// The live view's parts without a browser: points from engine ticks (rates, bucket-bound percentiles), the bounded
// history, provisional objectives judged like the verifier judges them, and the real HTTP/SSE server on 127.0.0.1
// (history first on connect, many streams at once, read-only, its CSP, report.html only after the verdict, and bad
// --web / --web-host values as one-line bad input).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { EngineTick } from '../../src/engine/engine.js';
import { Stats } from '../../src/engine/stats.js';
import { bucketQuantileMs, FIELDS, PointMaker, NO_PLATFORM } from '../../src/live/figures.js';
import { decimate, History } from '../../src/live/history.js';
import { openLiveView, parseWebPort, type LiveView } from '../../src/live/index.js';
import { liveSummary, provisionalObjectives } from '../../src/live/provisional.js';
import { loadSloFile } from '../../src/verify/index.js';
import type { FleetConfig } from '../../src/sim/fleet-config.js';
import type { Report } from '../../src/verify/index.js';

const slo = loadSloFile();
const col = (name: (typeof FIELDS)[number]) => FIELDS.indexOf(name);

function config(): FleetConfig {
  return {
    runId: 'live-unit', seed: 3, devices: 10, durationSec: 30, intervalMs: 1000, recordsPerPacket: 1, codec: 8, codec8eShare: 0,
    ackTimeoutMs: 5000, reconnectBaseMs: 1000, reconnectMaxMs: 5000, tcpHost: '127.0.0.1', tcpPort: 1, centre: { latitude: 0, longitude: 0 },
    steps: [{ devices: 5, startMs: 0 }, { devices: 10, startMs: 15_000 }],
  };
}

/** A tick as the engine makes it: `sent` records so far, each ACKed after `ackMs`. */
function tick(sec: number, sent: number, ackMs: number, stats = new Stats()): EngineTick {
  stats.inc('records_sent', sent);
  stats.inc('records_acked', sent);
  stats.inc('packets_sent', sent);
  stats.inc('device_errors', 0, { reason: 'reset' });
  for (let i = 0; i < sent; i++) stats.observe('ack_latency', ackMs);
  stats.set('devices_connected', 5);
  stats.set('event_loop_delay_p99', 0.004, { thread: 'w0' });
  return { elapsedMs: sec * 1000, totalMs: 30_000, stage: 'step 1/2', plannedDevices: 5, counts: stats.snapshot() };
}

describe('points and history', () => {
  it('rates come from consecutive ticks; latency figures are bucket upper bounds', () => {
    const m = new PointMaker(2);
    const stats = new Stats();
    const p0 = m.next(tick(1, 100, 30, stats), { atMs: 0, cpuMicros: 0, rssBytes: 50e6 }, NO_PLATFORM);
    const p1 = m.next(tick(2, 50, 30, stats), { atMs: 1000, cpuMicros: 500_000, rssBytes: 60e6 }, { ...NO_PLATFORM, storedPerSec: 49 });
    expect(p0[col('sentPerSec')]).toBeNull(); // no earlier tick: no rate yet
    expect(p1[col('sentPerSec')]).toBe(50);
    expect(p1[col('storedPerSec')]).toBe(49);
    expect(p1[col('ackP95')]).toBe(50); // 30 ms falls in the (25, 50] ms bucket: "≤ 50 ms"
    expect(p1[col('cpuPercent')]).toBe(25); // 0.5 CPU-s in 1 s on 2 cores
    expect(p1[col('loopP99')]).toBe(4);
    expect(p1[col('rssMb')]).toBe(60);
    // the engine's extra tick at the very end, 20 ms after the last: no rate rather than a 50-fold spike
    const p2 = m.next({ ...tick(2.02, 1, 30, stats) }, { atMs: 1020, cpuMicros: 510_000, rssBytes: 60e6 }, NO_PLATFORM);
    expect(p2[col('sentPerSec')]).toBeNull();
    expect(bucketQuantileMs({ buckets: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], sumSeconds: 400, count: 1 }, 0.5)).toBeNull(); // beyond 300 s
  });

  it('history keeps at most max points, covers the whole run, and keeps latency spikes when it merges', () => {
    const h = new History(100);
    for (let t = 1; t <= 1000; t++) h.add(FIELDS.map((f) => (f === 't' ? t : f === 'ackP95' ? (t === 500 ? 5000 : 10) : f === 'sentPerSec' ? t % 2 === 0 ? 10 : 20 : 1)));
    expect(h.length).toBeLessThanOrEqual(100);
    expect(h.length).toBeGreaterThan(50);
    const pts = h.all();
    expect(pts[0][0]).toBeLessThan(20);
    // the ticks not yet making up a whole stride wait apart, and reach a new page too
    expect(pts[pts.length - 1][0]).toBeGreaterThan(980);
    expect(h.pending().at(-1)?.[0]).toBe(1000);
    expect(pts.length * h.stride + h.pending().length).toBe(1000);
    expect(Math.max(...pts.map((p) => p[col('ackP95')] as number))).toBe(5000);
    expect(pts[5][col('sentPerSec')]).toBe(15); // rates merge by mean
    expect(decimate([[1, 2], [2, 4], [3, 6]]).map((p) => p[0])).toEqual([2, 3]);
  });
});

describe('provisional objectives', () => {
  it('judges the engine objectives of the SLO file on the counts so far; the rest wait for the end', () => {
    const shape = { runId: 'x', seed: 1, apiConfigured: false, wsConfigured: false, wsClients: 0 };
    const fast = provisionalObjectives(slo, liveSummary(tick(10, 5000, 30), shape, 5));
    const slow = provisionalObjectives(slo, liveSummary(tick(10, 5000, 1500), shape, 5));
    const ack = (l: typeof fast) => l.find((o) => o.id === 'ack_latency_p95')!;
    expect(ack(fast)).toMatchObject({ status: 'pass', value: '≤ 50 ms' });
    expect(ack(slow)).toMatchObject({ status: 'warn', value: '≤ 2000 ms' });
    // 0 errors in 5,000 packets bounds the ratio below 0.1 % (the verifier's Wilson rule, applied as it is)
    expect(fast.find((o) => o.id === 'device_error_ratio')?.status).toBe('pass');
    expect(fast.find((o) => o.id === 'records_missing')).toMatchObject({ status: 'at-end', source: 'ledger' });
    // the API objectives do not apply: no API clients in this run
    const api = fast.find((o) => o.id === 'api_error_ratio' || o.id.startsWith('api_'));
    if (api && api.source === 'engine') expect(api.why).toMatch(/not applicable/);
  });
});

/** Reads one SSE stream until `until` says enough. */
async function readEvents(url: string, until: (events: Array<{ event: string; data: string }>) => boolean, timeoutMs = 5000) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), timeoutMs);
  const events: Array<{ event: string; data: string }> = [];
  try {
    const res = await fetch(url, { signal: ctl.signal });
    const reader = res.body!.getReader();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += Buffer.from(value).toString();
      let i: number;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event && data !== undefined) events.push({ event, data });
      }
      if (until(events)) break;
    }
  } finally {
    clearTimeout(timer);
    ctl.abort();
  }
  return events;
}

describe('the live server', () => {
  let view: LiveView | undefined;
  let blocker: Server | undefined;
  afterEach(async () => {
    await view?.close();
    view = undefined;
    await new Promise<void>((r) => (blocker ? blocker.close(() => r()) : r()));
    blocker = undefined;
  });

  it('sends the history first, then every tick to many pages at once; serves report.html only after the verdict', async () => {
    view = await openLiveView({ port: 0, runId: 'live-unit', title: 'run live-unit', slo, log: () => {}, lingerMs: 0 });
    const observe = view.observer(config());
    const stats = new Stats();
    for (let s = 1; s <= 5; s++) observe(tick(s, 10, 30, stats));
    const url = view.url;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const page = await fetch(url);
    expect(page.headers.get('content-security-policy')).toMatch(/^default-src 'self'/);
    expect(await page.text()).toContain('<script src="/live.js"></script>');
    expect((await fetch(`${url}uplot.js`)).status).toBe(200);
    expect((await fetch(url, { method: 'POST' })).status).toBe(405);
    expect((await fetch(`${url}report.html`)).status).toBe(404);

    // 20 pages open at once: each gets the history (5 points) first, then the next tick
    const streams = Array.from({ length: 20 }, () => readEvents(`${url}events`, (ev) => ev.some((e) => e.event === 'tick')));
    await new Promise((r) => setTimeout(r, 300));
    observe(tick(6, 10, 30, stats));
    const all = await Promise.all(streams);
    for (const ev of all) {
      expect(ev[0].event).toBe('init');
      const init = JSON.parse(ev[0].data) as { history: unknown[]; meta: { steps: unknown[]; fields: string[] }; phase: { phase: string } };
      expect(init.history).toHaveLength(5);
      expect(init.meta.steps).toHaveLength(2);
      expect(init.phase.phase).toBe('load');
      const t = JSON.parse(ev.find((e) => e.event === 'tick')!.data) as { elapsedS: number; objectives: Array<{ id: string; status: string }> };
      expect(t.elapsedS).toBe(6);
      expect(t.objectives.find((o) => o.id === 'ack_latency_p95')?.status).toBe('pass');
    }

    const dir = mkdtempSync(join(tmpdir(), 'live-'));
    writeFileSync(join(dir, 'report.html'), '<!doctype html><p>the report</p>');
    view.loadDone();
    view.finish({ verdict: 'pass', score: 100, objectives: [] } as unknown as Report, dir);
    const report = await fetch(`${url}report.html`);
    expect(report.status).toBe(200);
    expect(report.headers.get('content-security-policy')).toMatch(/^default-src 'none'/);
    expect(await report.text()).toContain('the report');
    const after = await readEvents(`${url}events`, (ev) => ev.length > 0);
    expect(JSON.parse(after[0].data).final).toMatchObject({ verdict: 'pass', reportUrl: '/report.html' });
  });

  it('refuses a Host that names another site (DNS rebinding)', async () => {
    view = await openLiveView({ port: 0, runId: 'r', title: 'r', slo, log: () => {}, lingerMs: 0 });
    const { request } = await import('node:http');
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(view!.url, { headers: { host: 'evil.example:80' } }, (res) => (res.resume(), resolve(res.statusCode ?? 0)));
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(421);
  });

  it('a taken port, a foreign address or a bad port is one line of bad input (exit 2)', async () => {
    blocker = createServer();
    const port = await new Promise<number>((r) => blocker!.listen(0, '127.0.0.1', () => r((blocker!.address() as { port: number }).port)));
    const fail = (o: { port: string | number | true; host?: string }) => openLiveView({ ...o, runId: 'r', title: 'r', slo, log: () => {} }).then(() => undefined, (e: unknown) => e as Error & { exitCode?: number });
    const taken = await fail({ port });
    expect(taken?.exitCode).toBe(2);
    expect(taken?.message).toBe(`--web ${port}: 127.0.0.1:${port} is already in use; pick another port (--web 0 = a free one)`);
    const foreign = await fail({ port: 0, host: '10.9.9.9' });
    expect(foreign?.exitCode).toBe(2);
    expect(foreign?.message).toMatch(/^--web-host 10\.9\.9\.9: not an address of this machine/);
    expect(() => parseWebPort('70000')).toThrow(/--web: expected a port number from 0 to 65535/);
    expect(parseWebPort(true)).toBe(9470);
  });
});
