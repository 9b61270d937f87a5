// `fleetload generate` as a user runs it: the engine alone against a Teltonika server, a summary with the
// contract's fields, and each kind of bad input a one-line error with its own exit code before any load.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fleetload } from '../helpers/cli.js';
import { startTeltonikaServer, type TestServer } from '../scenarios/teltonika-server.js';

const dir = mkdtempSync(join(tmpdir(), 'generate-'));
let server: TestServer;
beforeAll(async () => {
  server = await startTeltonikaServer();
});
afterAll(async () => {
  await server.close();
});

describe('fleetload generate', () => {
  it('runs the profile\'s devices against any Teltonika server and writes the summary contract', async () => {
    const out = join(dir, 'summary.json');
    const res = await fleetload(['generate', '--profile', 'smoke', '--tcp', `127.0.0.1:${server.port}`, '--devices', '6', '--duration', '3s', '--summary', out], { timeoutMs: 60_000 });
    expect(res.code, res.stderr).toBe(0);
    // smoke has API and WebSocket clients: without --http they are left out, and it says so
    expect(res.stderr).toMatch(/no --http: the profile's REST API and WebSocket clients are left out/);
    const s = JSON.parse(readFileSync(out, 'utf8'));
    expect(s.records.sent).toBeGreaterThan(6);
    expect(s.records).toMatchObject({ acked: s.records.sent, resent: 0 });
    expect(s.packets).toEqual({ sent: server.packets.length, acked: server.packets.length });
    expect(s.devices).toEqual({ planned: 6, connectedPeak: 6 });
    for (const k of ['p50', 'p95', 'p99', 'max']) expect(typeof s.ackLatencyMs[k]).toBe('number');
    expect(s.generator.rssPeakBytes).toBeGreaterThan(10e6);
    expect(s.generator.cpuSeconds).toBeGreaterThan(0);
    expect(s.generator.workers).toBeGreaterThanOrEqual(1);
    expect(s.api.configured).toBe(false);
  }, 90_000);

  it('exit 3 naming the address when the target cannot be reached', async () => {
    const free = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const port = (s.address() as { port: number }).port;
        s.close(() => resolve(port));
      });
    });
    const res = await fleetload(['generate', '--profile', 'smoke', '--tcp', `127.0.0.1:${free}`, '--duration', '2s']);
    expect(res.code).toBe(3);
    expect(res.stderr).toMatch(new RegExp(`--tcp 127\\.0\\.0\\.1:${free}: cannot connect \\(ECONNREFUSED\\)`));
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
  }, 30_000);

  it('exit 2 naming file, line and field for an unknown profile field or a negative rate; nothing reaches the server', async () => {
    const before = server.logins.length;
    const unknown = join(dir, 'unknown-field.yaml');
    writeFileSync(unknown, 'name: unknown-field\nduration: 5s\ndevices:\n  count: 2\n  interval: 1s\n  devicesPerVu: 20\n');
    const a = await fleetload(['generate', '--profile', unknown, '--tcp', `127.0.0.1:${server.port}`]);
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/unknown-field\.yaml:6: devices\.devicesPerVu: unknown field — a k6 setting/);
    const negative = join(dir, 'negative-rate.yaml');
    writeFileSync(negative, 'name: negative-rate\nduration: 5s\ndevices:\n  count: 2\n  interval: 1s\napi:\n  rate: -5\n');
    const b = await fleetload(['generate', '--profile', negative, '--tcp', `127.0.0.1:${server.port}`]);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/negative-rate\.yaml:7: api\.rate: must be > 0/);
    expect(server.logins.length).toBe(before);
  }, 30_000);

  it('exit 2 before any load when the metrics port is already in use', async () => {
    const before = server.logins.length;
    const res = await fleetload(['generate', '--profile', 'smoke', '--tcp', `127.0.0.1:${server.port}`, '--devices', '2', '--duration', '2s', '--metrics-port', String(server.port)]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(new RegExp(`--metrics-port: cannot listen on 0\\.0\\.0\\.0:${server.port} \\(EADDRINUSE\\)`));
    expect(server.logins.length).toBe(before);
  }, 30_000);
});
