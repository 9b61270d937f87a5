// PostgreSQL outages, backpressure and graceful shutdown (in-process close() and the CLI under SIGTERM).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CuttableProxy, cliEntry, eventually, freshDb, metricValue, nextImei, packet, query, RawDevice, records, sleep, startTestPlatform, usePlatformFixture } from './helpers.js';

const ROOT = join(import.meta.dirname, '..', '..');
const fixture = usePlatformFixture();
const { platforms } = fixture;

const T0 = Date.UTC(2025, 8, 1);
const rowsOf = async (url: string, imei: string) =>
  (
    await query<{ ts: Date }>(url, `SELECT r."timestamp" AS ts FROM telemetry_records r JOIN devices d ON d.id = r.device_id WHERE d.imei = $1 ORDER BY 1`, [imei])
  ).map((r) => r.ts.getTime());

describe('database outage', () => {
  it('sends no ACK while PostgreSQL is unreachable, pauses sockets when the queue is full, and recovers without restart', async () => {
    const url = await freshDb(fixture.server().url);
    const proxy = new CuttableProxy(fixture.server().port);
    await proxy.start();
    const p = await startTestPlatform(proxy.urlFor(url), { retryBaseMs: 50, retryMaxMs: 300, maxQueuedRecords: 40, batchMaxAgeMs: 10 });
    platforms.push(p);
    try {
      const imei = nextImei();
      const dev = await RawDevice.connect(p.tcpPort);
      expect(await dev.login(imei)).toBe(1);
      dev.write(packet(records([T0])));
      expect(await dev.ack()).toBe(1);

      await proxy.cut();
      const sent: number[] = [T0];
      // 6 packets of 10 records: more than maxQueuedRecords (40)
      for (let k = 0; k < 6; k++) {
        const ts = Array.from({ length: 10 }, (_, i) => T0 + 1000 * (1 + k * 10 + i));
        sent.push(...ts);
        dev.write(packet(records(ts)));
      }
      await sleep(800);
      expect(dev.available).toBe(0); // no ACK while the database is away
      const m = await p.metricsText();
      expect(metricValue(m, 'tcp_ingest_paused')).toBe(1);
      expect(metricValue(m, 'db_up')).toBe(0);
      expect(metricValue(m, 'db_batch_errors_total')).toBeGreaterThan(0);
      expect(metricValue(m, 'writer_queued_records')).toBeLessThanOrEqual(60);
      const health = await fetch(`http://127.0.0.1:${p.httpPort}/health`);
      expect(health.status).toBe(503);

      await proxy.restore();
      for (let k = 0; k < 6; k++) expect(await dev.ack(10_000)).toBe(10);
      expect(await rowsOf(url, imei)).toEqual(sent);
      const m2 = await p.metricsText();
      expect(metricValue(m2, 'tcp_ingest_paused')).toBe(0);
      expect(metricValue(m2, 'db_up')).toBe(1);
      dev.destroy();
    } finally {
      await p.close();
      await proxy.stop();
    }
  });

  it('survives a real PostgreSQL restart mid-stream: every ACKed record is stored', async () => {
    const url = await freshDb(fixture.server().url);
    const p = await startTestPlatform(url, { retryBaseMs: 50, retryMaxMs: 500 });
    platforms.push(p);
    const imei = nextImei();
    let dev = await RawDevice.connect(p.tcpPort);
    await dev.login(imei);
    const acked: number[] = [];
    let stop = false;
    const sender = (async () => {
      let ts = T0;
      while (!stop) {
        const batch = [ts, ts + 1000];
        ts += 2000;
        dev.write(packet(records(batch)));
        try {
          if ((await dev.ack(20_000)) === 2) acked.push(...batch);
        } catch {
          // like a device: reconnect and resend (the resend may be a duplicate)
          dev.destroy();
          dev = await RawDevice.connect(p.tcpPort);
          await dev.login(imei);
          ts -= 2000;
        }
      }
    })();
    await sleep(300);
    await fixture.server().restart();
    await sleep(500);
    stop = true;
    await sender;
    dev.destroy();
    const stored = new Set(await rowsOf(url, imei));
    expect(acked.length).toBeGreaterThan(4);
    for (const t of acked) expect(stored.has(t)).toBe(true);
    expect(metricValue(await p.metricsText(), 'db_batch_errors_total')).toBeGreaterThan(0);
    await p.close();
  }, 60_000);
});

describe('graceful shutdown', () => {
  it('close() stops accepting, flushes queued records and sends their ACKs before closing', async () => {
    const url = await freshDb(fixture.server().url);
    const p = await startTestPlatform(url, { batchMaxAgeMs: 60_000, batchMaxRows: 10_000 });
    const imei = nextImei();
    const dev = await RawDevice.connect(p.tcpPort);
    await dev.login(imei);
    dev.write(packet(records([T0, T0 + 1000])));
    dev.write(packet(records([T0 + 2000])));
    await sleep(200);
    expect(dev.available).toBe(0); // still batching (age 60 s)
    const closing = p.close();
    expect(await dev.ack()).toBe(2);
    expect(await dev.ack()).toBe(1);
    expect(await dev.waitClosed()).toBe(true);
    await closing;
    expect(await rowsOf(url, imei)).toEqual([T0, T0 + 1000, T0 + 2000]);
    await expect(RawDevice.connect(p.tcpPort)).rejects.toThrow();
  });
});


function runCli(entry: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, [entry, 'platform', ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  type Ready = { event: string; tcpPort: number; httpPort: number };
  const ready: Promise<Ready> = eventually(() => {
    const line = stdout.split('\n').find((l) => l.includes('"ready"'));
    return line ? (JSON.parse(line) as Ready) : undefined;
  }, 60_000).then((r) => r as Ready).catch((e: unknown) => {
    throw new Error(`no ready line: ${String(e)}\n${stderr.slice(-2000)}`);
  });
  return { child, ready, exited, out: () => ({ stdout, stderr }) };
}

describe('fleetload platform (CLI)', () => {
  let entry: string;
  beforeAll(async () => {
    entry = await cliEntry();
  }, 60_000);

  it('prints one ready line, logs JSON to stderr without the password, and on SIGTERM flushes, ACKs and exits 0', async () => {
    const url = await freshDb(fixture.server().url);
    const dir = mkdtempSync(join(tmpdir(), 'fleetload-cli-'));
    writeFileSync(join(dir, 'pg-url'), url);
    const run = runCli(entry, ['--pg-url-file', join(dir, 'pg-url'), '--tcp-port', '0', '--http-port', '0', '--batch-max-age-ms', '60000']);
    const ready = await run.ready;
    rmSync(dir, { recursive: true, force: true });
    expect(ready.event).toBe('ready');
    const imei = nextImei();
    const dev = await RawDevice.connect(ready.tcpPort);
    expect(await dev.login(imei)).toBe(1);
    dev.write(packet(records([T0, T0 + 1000, T0 + 2000])));
    await sleep(200);
    expect(dev.available).toBe(0);
    const t0 = Date.now();
    run.child.kill('SIGTERM');
    expect(await dev.ack()).toBe(3);
    expect(await dev.waitClosed()).toBe(true);
    expect(await run.exited).toBe(0);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(await rowsOf(url, imei)).toEqual([T0, T0 + 1000, T0 + 2000]);
    const { stdout, stderr } = run.out();
    expect(stdout.trim().split('\n')).toHaveLength(1);
    const password = decodeURIComponent(new URL(url).password);
    expect(stderr).not.toContain(password);
    const lines = stderr.trim().split('\n').filter((l) => l.startsWith('{'));
    expect(lines.length).toBeGreaterThan(2);
    for (const l of lines) expect(() => JSON.parse(l)).not.toThrow();
  }, 60_000);

  it('exits 2 on bad input and 3 when the database is unreachable', async () => {
    const bad = runCli(entry, ['--pg-url', 'postgres://x@127.0.0.1:1/db', '--fault-http-error-ratio', '2']);
    expect(await bad.exited).toBe(2);
    const down = runCli(entry, ['--tcp-port', '0', '--http-port', '0'], { PG_URL: 'postgres://u:secretpw@127.0.0.1:1/db' });
    expect(await down.exited).toBe(3);
    expect(down.out().stderr).not.toContain('secretpw');
  }, 30_000);

  it('starts an embedded PostgreSQL when no URL is given and still exits 0 on SIGTERM', async () => {
    const run = runCli(entry, ['--tcp-port', '0', '--http-port', '0'], { PG_URL: '', PG_URL_FILE: '' });
    const ready = await run.ready;
    const res = await fetch(`http://127.0.0.1:${ready.httpPort}/health`);
    expect(res.status).toBe(200);
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
  }, 90_000);
});
