// Hardening of the platform's HTTP API against hostile clients: inputs whose meaning a coercion would change, strings
// PostgreSQL refuses, query numbers out of range, malformed and oversized bodies, trickled requests, the admin
// routes, implausible timestamps, and the start-up checks. After each case the platform is alive: /health answers
// and a fresh device gets its ACK.
import { describe, expect, it } from 'vitest';
import type { PlatformHandle } from '../../src/platform/platform.js';
import { MAX_FRAME_BYTES_LIMIT } from '../../src/protocol/teltonika/index.js';
import { metricValue, nextImei, packet, query, RawDevice, records, sleep, startTestPlatform, usePlatformFixture } from '../platform/helpers.js';
import { openSocket, runGoodFleet } from './devices.js';

const fixture = usePlatformFixture('http-hardening');
const T0 = Date.now() - 3_600_000;

async function http(p: PlatformHandle, method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}) {
  const res = await fetch(`http://127.0.0.1:${p.httpPort}${path}`, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body,
  });
  const text = await res.text();
  let json: { statusCode?: number; error?: string; message?: string; [k: string]: unknown } | undefined;
  try {
    json = JSON.parse(text) as typeof json;
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text, headers: res.headers };
}
const post = (p: PlatformHandle, body: unknown) => http(p, 'POST', '/v1/telemetry/location', JSON.stringify(body));

/** Alive: /health answers 200 and a device that arrives now gets its ACK. */
async function alive(p: PlatformHandle): Promise<void> {
  expect((await http(p, 'GET', '/health')).status).toBe(200);
  const late = await runGoodFleet({ port: p.tcpPort, n: 1, intervalMs: 0, untilMs: Date.now(), maxPackets: 1 });
  expect(late.failures).toEqual([]);
}

const storedCount = async (url: string, imei: string) =>
  (await query<{ n: number }>(url, `SELECT count(*)::int AS n FROM telemetry_records r JOIN devices d ON d.id = r.device_id WHERE d.imei = $1`, [imei]))[0].n;

describe('HTTP API against hostile input', () => {
  it('refuses what a coercion would change, strings PostgreSQL refuses and out-of-range query numbers with 400, storing nothing', async () => {
    const { url, p } = await fixture.setup();
    const imei = nextImei();
    const ok = { imei, timestamp: T0, latitude: 1, longitude: 2 };
    const cases: Array<[string, unknown]> = [
      ['latitude null', { ...ok, latitude: null }],
      ['longitude true', { ...ok, longitude: true }],
      ['latitude as a string', { ...ok, latitude: '45' }],
      ['altitude as an array', { ...ok, altitude: [5] }],
      ['timestamp null', { ...ok, timestamp: null }],
      ['timestamp 1.5', { ...ok, timestamp: 1.5 }],
      ['io value null', { ...ok, io: { '1': null } }],
      ['io nested object', { ...ok, io: { '1': { a: 1 } } }],
      ['io with NUL', { ...ok, io: { '1': 'a\u0000b' } }],
      ['io key with NUL', { ...ok, io: { 'a\u0000': 1 } }],
      ['io lone high surrogate', { ...ok, io: { '1': 'x\ud800' } }],
      ['io lone low surrogate', { ...ok, io: { '1': '\udc00y' } }],
      ['imei as a number', { ...ok, imei: Number(imei) }],
      ['records null', { imei, records: null }],
      ['a record null', { imei, records: [null] }],
      ['year 9999', { ...ok, timestamp: Date.UTC(9999, 0, 1) }],
      ['1970', { ...ok, timestamp: 0 }],
      ['an hour ahead', { ...ok, timestamp: Date.now() + 3_600_000 }],
    ];
    for (const [what, body] of cases) {
      const r = await post(p, body);
      expect(r.status, what).toBe(400);
      expect(r.json?.error, what).toBe('Bad Request');
    }
    expect(await storedCount(url, imei)).toBe(0);
    const m = await p.metricsText();
    expect(metricValue(m, 'telemetry_records_implausible_time_total', { path: 'http' })).toBe(3);
    // a valid surrogate pair is fine, and nothing coerced: the same body with numbers is stored
    expect((await post(p, { ...ok, io: { '1': 'ok \ud83d\ude00' } })).status).toBe(200);
    expect(await storedCount(url, imei)).toBe(1);
    for (const q of ['offset=1e20', 'offset=-1', 'offset=1.5', 'limit=0', 'limit=abc', 'limit=99999', 'offset=9999999999', 'limit=1&limit=2']) {
      const r = await http(p, 'GET', `/v1/fleet/live?${q}`);
      expect(r.status, q).toBe(400);
    }
    expect((await http(p, 'GET', `/v1/devices/${imei}/positions?limit=1e3`)).status).toBe(400);
    expect((await http(p, 'GET', '/v1/fleet/live?limit=5&offset=0')).status).toBe(200);
    await alive(p);
  }, 30_000);

  it('answers malformed JSON of every shape, deep nesting, binary and wrong content types with 4xx and stays up', async () => {
    const { p } = await fixture.setup();
    const deep = '['.repeat(200_000) + ']'.repeat(200_000);
    const deepObj = '{"a":'.repeat(50_000) + '1' + '}'.repeat(50_000);
    const bodies: Array<[string, string | Buffer, Record<string, string>?]> = [
      ['empty', ''],
      ['not json', 'not json{'],
      ['truncated', '{"imei":"35'],
      ['null', 'null'],
      ['number', '42'],
      ['string', '"x"'],
      ['array', '[]'],
      ['deep array', deep],
      ['deep object', deepObj],
      ['proto poisoning', '{"__proto__":{"x":1},"imei":"356307042441013"}'],
      ['constructor poisoning', '{"constructor":{"prototype":{"x":1}}}'],
      ['binary', Buffer.from([0, 0xff, 0xfe, 0x80, 1, 2, 3])],
      ['invalid utf-8 in a string', Buffer.concat([Buffer.from('{"imei":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')])],
      ['duplicate keys', `{"imei":"${nextImei()}","latitude":1,"latitude":null,"longitude":1,"timestamp":${T0}}`],
      ['text/plain', '{}', { 'content-type': 'text/plain' }],
      ['octet-stream', Buffer.from([1, 2, 3]), { 'content-type': 'application/octet-stream' }],
    ];
    for (const [what, body, headers] of bodies) {
      const r = await http(p, 'POST', '/v1/telemetry/location', body, headers);
      expect(r.status, what).toBeGreaterThanOrEqual(400);
      expect(r.status, what).toBeLessThan(500);
      expect(r.json?.statusCode, what).toBe(r.status);
    }
    await alive(p);
  }, 30_000);

  it('names the status in 404, 405 and 413 bodies', async () => {
    const { p } = await fixture.setup({ bodyLimitBytes: 4096 });
    const nf = await http(p, 'GET', '/nope');
    expect(nf.status).toBe(404);
    expect(nf.json).toMatchObject({ statusCode: 404, error: 'Not Found' });
    const na = await http(p, 'DELETE', '/v1/fleet/live');
    expect(na.status).toBe(405);
    expect(na.json).toMatchObject({ statusCode: 405, error: 'Method Not Allowed' });
    expect(na.headers.get('allow')).toContain('GET');
    const big = await http(p, 'POST', '/v1/telemetry/location', JSON.stringify({ imei: nextImei(), io: { '1': 'x'.repeat(10_000) } }));
    expect(big.status).toBe(413);
    expect(big.json).toMatchObject({ statusCode: 413, error: 'Payload Too Large' });
    await alive(p);
  });

  it('cuts off a trickled request at the request timeout', async () => {
    const { p } = await fixture.setup({ requestTimeoutMs: 1000 });
    const s = await openSocket({ port: p.httpPort });
    s.on('error', () => {});
    const t0 = Date.now();
    const closed = new Promise<number>((r) => s.once('close', () => r(Date.now() - t0)));
    s.write('POST /v1/telemetry/location HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n{');
    const trickle = setInterval(() => s.write(' '), 200);
    const ms = await Promise.race([closed, sleep(6000).then(() => -1)]);
    clearInterval(trickle);
    s.destroy();
    expect(ms, 'a trickled body held the socket for 6 s').toBeGreaterThan(0);
    expect(ms).toBeLessThan(3500);
    await alive(p);
  }, 15_000);

  it('serves /admin/* only when enabled, and then behind the token when one is set', async () => {
    const { p } = await fixture.setup();
    expect((await http(p, 'GET', '/admin/faults')).status).toBe(404);
    expect((await http(p, 'POST', '/admin/faults', '{"httpErrorRatio":1}')).status).toBe(404);
    expect((await http(p, 'GET', '/v1/fleet/live')).status).toBe(200); // nothing was switched on
    const { p: guarded } = await fixture.setup({ enableAdmin: true, apiToken: 'tok-123' });
    expect((await http(guarded, 'GET', '/admin/faults')).status).toBe(401);
    expect((await http(guarded, 'GET', '/admin/faults', undefined, { authorization: 'Bearer tok-123' })).status).toBe(200);
    await expect(startTestPlatform('postgres://x@127.0.0.1:1/db', { enableAdmin: true, host: '0.0.0.0' })).rejects.toThrow(/enableAdmin .* needs an API token/);
  });

  it('refuses a max frame size the framer cannot handle at start-up, not at the first device', async () => {
    await expect(startTestPlatform('postgres://x@127.0.0.1:1/db', { maxFrameBytes: MAX_FRAME_BYTES_LIMIT + 1 })).rejects.toThrow(/maxFrameBytes must be an integer from \d+ to 16777216/);
    const { p } = await fixture.setup({ maxFrameBytes: MAX_FRAME_BYTES_LIMIT });
    await alive(p);
  });

  it('keeps a descriptor reserve: device connections past (open-file limit - fdReserve) are refused and counted', async () => {
    const { openFileLimit } = await import('../../src/platform/platform.js');
    const limit = openFileLimit();
    expect(limit).toBeGreaterThan(100);
    const { p } = await fixture.setup({ fdReserve: (limit as number) - 20, loginTimeoutMs: 10_000 });
    const flood = await Promise.allSettled(Array.from({ length: 40 }, () => openSocket({ port: p.tcpPort })));
    const sockets = flood.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    for (const s of sockets) s.on('error', () => {});
    await sleep(300);
    const refused = metricValue(await p.metricsText(), 'tcp_connections_rejected_total', { reason: 'fd_reserve' }) ?? 0;
    expect(refused).toBeGreaterThanOrEqual(20);
    expect((await http(p, 'GET', '/metrics')).status).toBe(200);
    expect((await http(p, 'GET', '/health')).status).toBe(200);
    for (const s of sockets) s.destroy();
    await sleep(200);
    await alive(p);
  });
});

describe('implausible device timestamps over TCP', () => {
  it('are stored and ACKed (a device would resend forever) but counted and kept out of "latest" and the lag histogram', async () => {
    const { url, p } = await fixture.setup();
    const imei = nextImei();
    const dev = await RawDevice.connect(p.tcpPort);
    expect(await dev.login(imei)).toBe(1);
    dev.write(packet(records([T0])));
    expect(await dev.ack()).toBe(1);
    const lagBefore = metricValue(await p.metricsText(), 'telemetry_ingest_lag_seconds_count') ?? 0;
    dev.write(packet(records([Date.UTC(9999, 0, 1), 1000, Date.UTC(1999, 11, 31)])));
    expect(await dev.ack()).toBe(3);
    dev.destroy();
    expect(await storedCount(url, imei)).toBe(4);
    const m = await p.metricsText();
    expect(metricValue(m, 'telemetry_records_implausible_time_total', { reason: 'future', path: 'tcp' })).toBe(1);
    expect(metricValue(m, 'telemetry_records_implausible_time_total', { reason: 'too_old', path: 'tcp' })).toBe(2);
    expect(metricValue(m, 'telemetry_ingest_lag_seconds_count')).toBe(lagBefore);
    const latest = await http(p, 'GET', `/v1/devices/${imei}/latest`);
    expect(latest.json?.timestamp).toBe(new Date(T0).toISOString());
    const live = await http(p, 'GET', '/v1/fleet/live');
    expect((live.json?.devices as Array<{ imei: string; timestamp: string }>).find((d) => d.imei === imei)?.timestamp).toBe(new Date(T0).toISOString());
  });
});
