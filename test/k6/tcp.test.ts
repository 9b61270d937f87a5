// k6/x/tcp end to end: the real k6 binary (built from src/stack/k6build) against Node TCP servers on 127.0.0.1.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureK6Binary, k6Env, k6Version } from '../../src/stack/k6-binary.js';

const scriptsDir = fileURLToPath(new URL('./scripts/', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'fleetload-k6tcp-'));
let k6 = '';

interface K6Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
  summary?: { metrics: Record<string, Record<string, number> & { thresholds?: Record<string, boolean> }> };
}

let runs = 0;
function runK6(script: string, env: Record<string, string | number>, extraArgs: string[] = [], timeoutMs = 60_000): Promise<K6Result> {
  const summaryFile = join(work, `summary-${++runs}.json`);
  const args = ['run', '--quiet', '--no-color', `--summary-export=${summaryFile}`, ...extraArgs];
  for (const [k, v] of Object.entries(env)) args.push('-e', `${k}=${v}`);
  args.push(join(scriptsDir, script));
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(k6, args, { env: k6Env(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      let summary: K6Result['summary'];
      try {
        summary = JSON.parse(readFileSync(summaryFile, 'utf8')) as K6Result['summary'];
      } catch {
        summary = undefined;
      }
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started, summary });
    });
  });
}

const describeRun = (r: K6Result) => `exit ${r.code} signal ${r.signal} after ${r.ms} ms\n--- stdout\n${r.stdout.slice(-3000)}\n--- stderr\n${r.stderr.slice(-3000)}`;

/** A TCP server on 127.0.0.1:<random port>; `onSocket` decides what it does. */
async function startServer(onSocket: (s: net.Socket) => void): Promise<{ port: number; server: net.Server; sockets: Set<net.Socket>; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    onSocket(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    server,
    sockets,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

const echo = (s: net.Socket) => s.on('data', (d) => s.write(d));

beforeAll(async () => {
  k6 = await ensureK6Binary({ log: (l) => process.stderr.write(`[k6 build] ${l}\n`) });
}, 600_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('k6/x/tcp in the fleetload k6 binary', () => {
  it('is compiled in: k6 version --json lists it', async () => {
    const v = await k6Version(k6);
    expect(v.version).toMatch(/^v2\.2\./);
    const tcp = v.extensions.find((e) => e.imports.includes('k6/x/tcp'));
    expect(tcp, JSON.stringify(v)).toBeDefined();
    expect(tcp?.module).toBe('fleetload.local/k6build/tcp');
  });

  it('echo round-trip: binary bytes, several chunks, ordered unawaited writes, Uint8Array data', async () => {
    const srv = await startServer(echo);
    try {
      const r = await runK6('echo.js', { PORT: srv.port });
      expect(r.code, describeRun(r)).toBe(0);
      const m = r.summary?.metrics ?? {};
      expect(m.checks?.fails, describeRun(r)).toBe(0);
      expect(m.checks?.passes).toBeGreaterThanOrEqual(10);
      expect(m.tcp_connects?.count).toBe(1);
      expect(m.tcp_writes?.count).toBe(100);
      expect(m.tcp_reads?.count).toBeGreaterThan(1);
      expect(m.data_sent?.count).toBe(20000);
      expect(m.data_received?.count).toBe(20000);
      expect(m.tcp_socket_duration?.count ?? m.tcp_socket_duration?.avg).toBeDefined();
      expect(m.tcp_errors).toBeUndefined();
    } finally {
      await srv.close();
    }
  });

  it('drives 500 sockets from one VU', async () => {
    let peak = 0;
    const srv = await startServer((s) => {
      peak = Math.max(peak, srv.sockets.size);
      echo(s);
    });
    try {
      const r = await runK6('many.js', { PORT: srv.port, N: 500 });
      expect(r.code, describeRun(r)).toBe(0);
      const m = r.summary?.metrics ?? {};
      expect(m.checks?.fails, describeRun(r)).toBe(0);
      expect(m.checks?.passes).toBe(1);
      expect(m.tcp_connects?.count).toBe(500);
      expect(m.tcp_errors).toBeUndefined();
      expect(peak).toBeGreaterThan(1);
      await new Promise((r2) => setTimeout(r2, 100));
      expect(srv.sockets.size).toBe(0); // every socket was closed by k6
    } finally {
      await srv.close();
    }
  });

  it('survives a peer reset: error + close in the script, tcp_errors{reason=reset}, exit 0 (no panic)', async () => {
    const srv = await startServer((s) => {
      s.once('data', () => {
        s.write(Buffer.from([9, 9, 9]), () => setTimeout(() => s.resetAndDestroy(), 50));
      });
    });
    const jsonOut = join(work, 'reset-points.json');
    try {
      // the JSON output reads every sample's tags, like the summary: a nil TagSet would crash either
      const r = await runK6('reset.js', { PORT: srv.port }, ['--out', `json=${jsonOut}`]);
      expect(r.code, describeRun(r)).toBe(0);
      expect(r.stderr).not.toMatch(/panic|nil pointer/);
      const m = r.summary?.metrics ?? {};
      expect(m.checks?.fails, describeRun(r)).toBe(0);
      expect(m.tcp_errors?.count).toBeGreaterThan(0);
      const points = readFileSync(jsonOut, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { type: string; metric: string; data?: { tags?: Record<string, string> } })
        .filter((p) => p.type === 'Point' && p.metric === 'tcp_errors');
      expect(points.length).toBe(1);
      expect(points[0].data?.tags).toMatchObject({ reason: 'reset', device: 'reset-1', scenario: 'reset' });
    } finally {
      await srv.close();
    }
  });

  it('rejects connect() when the port is closed', async () => {
    const srv = await startServer(() => {});
    const port = srv.port;
    await srv.close(); // nothing listens on this port now
    const r = await runK6('refused.js', { PORT: port });
    expect(r.code, describeRun(r)).toBe(0);
    const m = r.summary?.metrics ?? {};
    expect(m.checks?.fails, describeRun(r)).toBe(0);
    expect(m.checks?.passes).toBeGreaterThanOrEqual(6);
    expect(m.tcp_errors?.count).toBe(1);
  });

  it('closes sockets left open when the scenario ends and exits promptly', async () => {
    const srv = await startServer(echo);
    try {
      const r = await runK6('linger.js', { PORT: srv.port }, [], 30_000);
      expect(r.code, describeRun(r)).toBe(0);
      expect(r.ms).toBeLessThan(15_000);
      expect(r.stderr).toContain('k6/x/tcp version');
      expect(r.summary?.metrics.tcp_connects?.count).toBeGreaterThanOrEqual(40);
      await new Promise((r2) => setTimeout(r2, 100));
      expect(srv.sockets.size).toBe(0);
    } finally {
      await srv.close();
    }
  });
});
