// The device state machine and session logic in Node: packet cutting, replay order, resend of the same packet,
// backoff, link drops, codec mix — unit-level on DeviceCore, and end to end over real sockets (the engine's TCP link).
import { afterEach, describe, expect, it } from 'vitest';
import { decodeAvlPacket } from '../../src/protocol/teltonika/index.js';
import { codecOf, DeviceCore, deviceSettings, recordsBetween } from '../../src/sim/device.js';
import type { FleetConfig } from '../../src/sim/fleet-config.js';
import { runDevice, type DeviceEvents } from '../../src/sim/session.js';
import { startTeltonikaServer, type TestServer } from '../scenarios/teltonika-server.js';
import { nodeIO } from './node-io.js';

const base: FleetConfig = {
  runId: 't',
  seed: 3,
  devices: 10,
  durationSec: 60,
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
const T0 = Date.UTC(2026, 0, 5, 8, 0, 0);

function counting(): DeviceEvents & { counts: Record<string, number>; errors: string[] } {
  const counts: Record<string, number> = {};
  const inc = (k: string, n = 1) => (counts[k] = (counts[k] ?? 0) + n);
  const errors: string[] = [];
  return {
    counts,
    errors,
    error: (r) => errors.push(r),
    login: (_l, re) => inc(re ? 'reconnects' : 'logins'),
    connected: () => inc('connected'),
    disconnected: () => inc('disconnected'),
    packet: (n, resend) => inc(resend ? 'resent' : 'sent', n),
    acked: (p) => inc('acked', p.count),
    sendLag: () => inc('lagSamples'),
    keepAlive: () => inc('keepAlives'),
    outage: (k) => inc(`outage_${k}`),
  };
}

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('DeviceCore', () => {
  it('is deterministic: same seed and start, same bytes', () => {
    const s = deviceSettings({ ...base, codec8eShare: 0.5 });
    const a = new DeviceCore(s, 4, T0);
    const b = new DeviceCore(s, 4, T0);
    a.acquire(T0 + 5000, Infinity);
    b.acquire(T0 + 5000, Infinity);
    expect(Buffer.from(a.nextPacket()!.bytes)).toEqual(Buffer.from(b.nextPacket()!.bytes));
  });

  it('cuts a backlog into packets of at most 1280 bytes, oldest first, and resends the same bytes until ACKed', () => {
    const s = deviceSettings({ ...base, codec8eShare: 1 });
    const d = new DeviceCore(s, 1, T0);
    d.acquire(T0 + 120_000, Infinity); // two minutes offline
    const n = d.buffered;
    expect(n).toBeGreaterThan(100);
    const first = d.nextPacket()!;
    expect(first.bytes.length).toBeLessThanOrEqual(1280);
    expect(first.count).toBeGreaterThan(5);
    const recs = decodeAvlPacket(first.bytes).records;
    expect(recs.map((r) => r.timestamp)).toEqual([...recs.map((r) => r.timestamp)].sort((x, y) => x - y));
    // ACK timeout or mismatch: the next packet is the same one, marked as a resend
    expect(d.ack(first.count - 1)).toBe(false);
    const again = d.nextPacket()!;
    expect(again.resend).toBe(true);
    expect(Buffer.from(again.bytes)).toEqual(Buffer.from(first.bytes));
    expect(d.ack(first.count)).toBe(true);
    expect(d.buffered).toBe(n - first.count);
    const second = decodeAvlPacket(d.nextPacket()!.bytes).records;
    expect(second[0].timestamp).toBeGreaterThan(recs[recs.length - 1].timestamp);
  });

  it('replays newest first when configured, and never more than 255 records per packet', () => {
    const d = new DeviceCore(deviceSettings({ ...base, replayOrder: 'newest-first', maxFrameBytes: 1 << 20 }), 2, T0);
    d.acquire(T0 + 400_000, Infinity);
    const p = d.nextPacket()!;
    expect(p.count).toBe(255);
    const ts = decodeAvlPacket(p.bytes, { maxFrameBytes: 1 << 20 }).records.map((r) => r.timestamp);
    expect(ts[0]).toBeGreaterThan(ts[ts.length - 1]);
    expect(p.dueAt).toBe(ts[0]);
  });

  it('parks with a longer interval when the ignition is off; recordsBetween agrees with acquire', () => {
    const s = deviceSettings({ ...base, parkedIntervalMs: 30_000, intervalMs: 5000, recordsPerPacket: 5 });
    const d = new DeviceCore(s, 6, T0);
    d.acquire(T0 + 3 * 3600_000 + 10_000, Infinity);
    const all: number[] = [];
    for (;;) {
      const p = d.nextPacket();
      if (!p) break;
      all.push(...decodeAvlPacket(p.bytes).records.map((r) => r.timestamp));
      d.ack(p.count);
    }
    const gaps = all.slice(1).map((t, i) => t - all[i]);
    expect(new Set(gaps)).toEqual(new Set([1000, 30_000, ...gaps.filter((g) => g !== 1000 && g !== 30_000)]));
    expect(gaps.filter((g) => g === 30_000).length).toBeGreaterThan(3); // layovers
    expect(recordsBetween(s, 6, T0, T0, T0 + 3 * 3600_000)).toBe(all.filter((t) => t >= T0 && t <= T0 + 3 * 3600_000).length);
  });

  it('backs off exponentially with jitter, capped', () => {
    const d = new DeviceCore(deviceSettings(base), 0, T0);
    const delays = Array.from({ length: 6 }, () => d.nextBackoff());
    expect(delays[0]).toBeGreaterThanOrEqual(100);
    expect(delays[0]).toBeLessThan(150);
    expect(delays[2]).toBeGreaterThanOrEqual(400);
    expect(delays[5]).toBeLessThan(1200);
    d.resetBackoff();
    expect(d.nextBackoff()).toBeLessThan(150);
  });

  it('mixes codecs by share and schedules link drops and the storm', () => {
    const s = deviceSettings({ ...base, codec8eShare: 0.3 });
    const share = Array.from({ length: 2000 }, (_, i) => codecOf(s, i)).filter((c) => c === 0x8e).length / 2000;
    expect(share).toBeGreaterThan(0.25);
    expect(share).toBeLessThan(0.35);
    const d = new DeviceCore(deviceSettings({ ...base, storm: { atMs: 10_000, offlineMs: 5000 }, linkDrops: { perDeviceHour: 3600, offlineMs: 100 } }), 0, T0);
    expect(d.nextOutageAt()).toBeLessThanOrEqual(T0 + 10_000);
    expect(d.outageAt(T0 + 10_001)).toMatchObject({ kind: 'storm', until: T0 + 15_000 });
  });
});

describe('device session over real sockets', () => {
  it('sends on schedule, every record ACKed once', async () => {
    server = await startTeltonikaServer();
    const s = deviceSettings({ ...base, tcpPort: server.port });
    const start = Date.now();
    const core = new DeviceCore(s, 0, start);
    const ev = counting();
    const unsent = await runDevice(core, nodeIO(server.port), ev, { deadline: start + 3000, drainUntil: start + 5000, ackTimeoutMs: 500, keepAliveMs: 0 });
    expect(unsent).toBe(0);
    expect(ev.errors).toEqual([]);
    // device 0 connects at the start and takes its first record firstRecordLeadMs (1 s) later: ticks at +1 s, +2 s
    expect(ev.counts.acked).toBe(2);
    expect(server.packets.map((p) => p.records.length)).toEqual([1, 1]);
    expect(ev.counts.lagSamples).toBeGreaterThanOrEqual(1);
  });

  it('withheld ACK: times out, reconnects, resends the same packet; falsified count: the same', async () => {
    server = await startTeltonikaServer((_p, nth) => (nth === 1 ? 'none' : nth === 3 ? { count: 7 } : 'ack'));
    const start = Date.now();
    const core = new DeviceCore(deviceSettings({ ...base, ackTimeoutMs: 300 }), 1, start);
    const ev = counting();
    const unsent = await runDevice(core, nodeIO(server.port), ev, { deadline: start + 3000, drainUntil: start + 6000, ackTimeoutMs: 300, keepAliveMs: 0 });
    expect(unsent).toBe(0);
    expect(ev.errors).toEqual(['ack_timeout', 'ack_mismatch']);
    expect(server.packets[1].bytes.equals(server.packets[0].bytes)).toBe(true);
    expect(server.packets[3].bytes.equals(server.packets[2].bytes)).toBe(true);
    expect(ev.counts.reconnects).toBe(2);
    // every record reached the server at least once, and was ACKed exactly once
    const stamps = new Set(server.packets.flatMap((p) => p.records.map((r) => r.timestamp)));
    expect(ev.counts.acked).toBe(stamps.size);
  });

  it('goes offline at a link drop, buffers, reconnects and flushes; keep-alives when idle', async () => {
    server = await startTeltonikaServer();
    const start = Date.now();
    const cfg = { ...base, intervalMs: 1000, storm: { atMs: 700, offlineMs: 1500 } };
    const core = new DeviceCore(deviceSettings(cfg), 0, start);
    const ev = counting();
    const unsent = await runDevice(core, nodeIO(server.port), ev, { deadline: start + 4000, drainUntil: start + 6000, ackTimeoutMs: 500, keepAliveMs: 300 });
    expect(unsent).toBe(0);
    expect(ev.counts.outage_storm).toBe(1);
    expect(ev.counts.reconnects).toBe(1);
    expect(server.packets.some((p) => p.records.length >= 2)).toBe(true); // the backlog went in one packet
    expect(server.keepAlives).toBeGreaterThan(0);
    // ticks at +1 s, +2 s, +3 s (the first record comes firstRecordLeadMs after connecting)
    expect(ev.counts.acked).toBe(3);
  });
});
