// TCP ingest against a real PostgreSQL: login, framing, garbage, dedupe, limits, partitions, metrics.
import { beforeAll, describe, expect, it } from 'vitest';
import type { PlatformHandle } from '../../src/platform/platform.js';
import { eventually, usePlatformFixture, metricValue, nextImei, packet, query, RawDevice, records, sleep } from './helpers.js';

const { setup } = usePlatformFixture();

const T0 = Date.UTC(2025, 4, 10, 12, 0, 0);
const countRows = async (url: string, imei: string) =>
  Number((await query(url, `SELECT count(*)::int AS n FROM telemetry_records r JOIN devices d ON d.id = r.device_id WHERE d.imei = $1`, [imei]))[0].n);

describe('tcp ingest', () => {
  let url: string;
  let p: PlatformHandle;
  beforeAll(async () => {
    ({ url, p } = await setup());
  });

  it('accepts a login with 0x01, stores a packet and ACKs its record count', async () => {
    const dev = await RawDevice.connect(p.tcpPort);
    const imei = nextImei();
    expect(await dev.login(imei)).toBe(0x01);
    dev.write(packet(records([T0, T0 + 1000, T0 + 2000])));
    expect(await dev.ack()).toBe(3);
    expect(await countRows(url, imei)).toBe(3);
    const [row] = await query(
      url,
      `SELECT r.latitude, r.longitude, r.altitude, r.speed, r.heading, r.satellites, r.io, r."timestamp", r.received_at
         FROM telemetry_records r JOIN devices d ON d.id = r.device_id WHERE d.imei = $1 ORDER BY r."timestamp" LIMIT 1`,
      [imei],
    );
    expect(row.latitude).toBeCloseTo(44.7654321, 7);
    expect(row.longitude).toBeCloseTo(17.1234567, 7);
    expect(row.io).toEqual({ '239': 1, '66': 12345 });
    expect((row.timestamp as Date).getTime()).toBe(T0);
    expect((row.received_at as Date).getTime()).toBeGreaterThan(Date.now() - 60_000);
    dev.destroy();
  });

  it('handles frames split into single bytes and frames glued together with keep-alives', async () => {
    const imei = nextImei();
    const dev = await RawDevice.connect(p.tcpPort);
    const login = Buffer.from([0xff, ...(await import('../../src/protocol/teltonika/index.js')).encodeLogin(imei)]);
    for (const b of login) {
      dev.write([b]);
      await sleep(1);
    }
    expect((await dev.read(1))[0]).toBe(1);
    const a = packet(records([T0, T0 + 1000]));
    for (const b of a) dev.write([b]);
    expect(await dev.ack()).toBe(2);
    const glued = Buffer.concat([
      Buffer.from([0xff]),
      packet(records([T0 + 10_000])),
      Buffer.from([0xff, 0xff]),
      packet(records([T0 + 20_000, T0 + 21_000, T0 + 22_000])),
    ]);
    dev.write(glued);
    expect(await dev.ack()).toBe(1);
    expect(await dev.ack()).toBe(3);
    expect(await countRows(url, imei)).toBe(6);
    dev.destroy();
  });

  it('closes only the connection that sends garbage and counts the reason', async () => {
    const good = await RawDevice.connect(p.tcpPort);
    const bad = await RawDevice.connect(p.tcpPort);
    const bad2 = await RawDevice.connect(p.tcpPort);
    expect(await good.login(nextImei())).toBe(1);
    expect(await bad.login(nextImei())).toBe(1);
    bad.write(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
    expect(await bad.waitClosed()).toBe(true);
    // A packet with a broken CRC.
    expect(await bad2.login(nextImei())).toBe(1);
    const broken = Buffer.from(packet(records([T0])));
    broken[broken.length - 1] ^= 0xff;
    bad2.write(broken);
    expect(await bad2.waitClosed()).toBe(true);
    // AVL data before login
    const early = await RawDevice.connect(p.tcpPort);
    early.write(packet(records([T0])));
    expect(await early.waitClosed()).toBe(true);

    good.write(packet(records([T0 + 5000])));
    expect(await good.ack()).toBe(1);
    const m = await p.metricsText();
    expect(metricValue(m, 'tcp_frames_rejected_total', { reason: 'bad_preamble' })).toBeGreaterThanOrEqual(1);
    expect(metricValue(m, 'tcp_frames_rejected_total', { reason: 'crc_mismatch' })).toBe(1);
    expect(metricValue(m, 'tcp_frames_rejected_total', { reason: 'avl_before_login' })).toBe(1);
    good.destroy();
  });

  it('stores a resent packet once but ACKs it every time, counting the duplicate', async () => {
    const imei = nextImei();
    const before = metricValue(await p.metricsText(), 'telemetry_records_duplicate_total') ?? 0;
    const pkt = packet(records([T0 + 100_000, T0 + 101_000]));
    const d1 = await RawDevice.connect(p.tcpPort);
    await d1.login(imei);
    d1.write(pkt);
    expect(await d1.ack()).toBe(2);
    d1.destroy();
    // the device did not see the ACK: reconnect and resend
    const d2 = await RawDevice.connect(p.tcpPort);
    await d2.login(imei);
    d2.write(pkt);
    expect(await d2.ack()).toBe(2);
    // and a duplicate inside one packet
    d2.write(packet(records([T0 + 200_000, T0 + 200_000])));
    expect(await d2.ack()).toBe(2);
    expect(await countRows(url, imei)).toBe(3);
    const after = metricValue(await p.metricsText(), 'telemetry_records_duplicate_total') ?? 0;
    expect(after - before).toBe(3);
    d2.destroy();
  });

  it('routes records from 2004 and from the future to partitions without failing the batch', async () => {
    const imei = nextImei();
    const dev = await RawDevice.connect(p.tcpPort);
    await dev.login(imei);
    const ts = [Date.UTC(2004, 1, 29, 10), Date.UTC(1999, 5, 1), Date.now(), Date.UTC(2200, 0, 1), Date.UTC(2030, 6, 1)];
    dev.write(packet(records(ts)));
    expect(await dev.ack()).toBe(5);
    expect(await countRows(url, imei)).toBe(5);
    const parts = await query<{ name: string; n: number }>(
      url,
      `SELECT r.tableoid::regclass::text AS name, count(*)::int AS n FROM telemetry_records r
         JOIN devices d ON d.id = r.device_id WHERE d.imei = $1 GROUP BY 1 ORDER BY 1`,
      [imei],
    );
    const names = parts.map((x) => x.name);
    expect(names).toContain('telemetry_records_y2004m02');
    expect(names).toContain('telemetry_records_default'); // 1999 and 2200
    const idx = await query(url, `SELECT indexdef FROM pg_indexes WHERE indexname = 'idx_telemetry_device_time_covering'`);
    expect(idx[0].indexdef).toMatch(/INCLUDE \(latitude, longitude, speed, heading\)/);
    dev.destroy();
  });

  it('exposes every contract metric, and they move', async () => {
    const m = await p.metricsText();
    for (const name of [
      'tcp_connections_active',
      'telemetry_records_received_total',
      'telemetry_records_inserted_total',
      'telemetry_records_duplicate_total',
      'db_batch_insert_duration_seconds_bucket',
      'db_batch_size_bucket',
      'telemetry_ingest_lag_seconds_bucket',
      'tcp_frames_rejected_total',
      'tcp_ack_duration_seconds_bucket',
      'websocket_connections_active',
      'database_pool_active',
      'database_pool_idle',
      'process_cpu_seconds_total',
      'nodejs_eventloop_lag_seconds',
    ]) {
      expect(metricValue(m, name), name).toBeDefined();
    }
    expect(metricValue(m, 'telemetry_records_received_total')).toBeGreaterThanOrEqual(15);
    expect(metricValue(m, 'telemetry_records_inserted_total')).toBeGreaterThanOrEqual(12);
    expect(metricValue(m, 'db_batch_insert_duration_seconds_count')).toBeGreaterThan(0);
    expect(metricValue(m, 'tcp_ack_duration_seconds_count')).toBeGreaterThan(0);
    expect(metricValue(m, 'telemetry_ingest_lag_seconds_count')).toBeGreaterThan(0);
    for (const le of ['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5']) {
      expect(metricValue(m, 'db_batch_insert_duration_seconds_bucket', { le }), `db bucket ${le}`).toBeDefined();
    }
    for (const le of ['0.1', '0.25', '0.5', '1', '2', '5', '10', '30']) {
      expect(metricValue(m, 'telemetry_ingest_lag_seconds_bucket', { le }), `lag bucket ${le}`).toBeDefined();
    }
    // tcp_connections_active follows connections
    // every earlier device has disconnected; wait until the server has seen all the closes
    await eventually(async () => metricValue(await p.metricsText(), 'tcp_connections_active') === 0);
    const before = 0;
    const dev = await RawDevice.connect(p.tcpPort);
    await dev.login(nextImei());
    expect(metricValue(await p.metricsText(), 'tcp_connections_active')).toBe(before + 1);
    dev.destroy();
    await eventually(async () => metricValue(await p.metricsText(), 'tcp_connections_active') === before);
  });
});

describe('tcp limits', () => {
  it('rejects IMEIs outside the allow-list with 0x00 and closes', async () => {
    const ok = nextImei();
    const { p } = await setup({ allowImeis: new Set([ok]) });
    const d1 = await RawDevice.connect(p.tcpPort);
    expect(await d1.login(ok)).toBe(1);
    const d2 = await RawDevice.connect(p.tcpPort);
    expect(await d2.login(nextImei())).toBe(0);
    expect(await d2.waitClosed()).toBe(true);
    expect(d1.closed).toBe(false);
    d1.destroy();
  });

  it('enforces connections per IP, login timeout and idle timeout', async () => {
    const { p } = await setup({ maxConnectionsPerIp: 2, loginTimeoutMs: 300, idleTimeoutMs: 600 });
    const a = await RawDevice.connect(p.tcpPort);
    const b = await RawDevice.connect(p.tcpPort);
    const c = await RawDevice.connect(p.tcpPort);
    expect(await c.waitClosed()).toBe(true);
    expect(await a.login(nextImei())).toBe(1);
    // b never logs in: closed after the login timeout; a idles out later
    expect(await b.waitClosed(2000)).toBe(true);
    expect(a.closed).toBe(false);
    expect(await a.waitClosed(2000)).toBe(true);
    const m = await p.metricsText();
    expect(metricValue(m, 'tcp_connections_rejected_total', { reason: 'per_ip_limit' })).toBe(1);
    expect(metricValue(m, 'tcp_connections_rejected_total', { reason: 'login_timeout' })).toBe(1);
    expect(metricValue(m, 'tcp_connections_rejected_total', { reason: 'idle_timeout' })).toBe(1);
    // freed slots can be used again
    const d = await RawDevice.connect(p.tcpPort);
    expect(await d.login(nextImei())).toBe(1);
    d.destroy();
  });

  it('refuses frames larger than maxFrameBytes', async () => {
    const { p } = await setup({ maxFrameBytes: 200 });
    const d = await RawDevice.connect(p.tcpPort);
    await d.login(nextImei());
    d.write(packet(records(Array.from({ length: 10 }, (_, i) => T0 + i * 1000))));
    expect(await d.waitClosed()).toBe(true);
    expect(metricValue(await p.metricsText(), 'tcp_frames_rejected_total', { reason: 'length_out_of_bounds' })).toBe(1);
  });
});
