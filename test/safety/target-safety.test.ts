// Target safety: only loopback targets unless the host is named (--allow-target / FLEETLOAD_ALLOW_TARGETS),
// the refusal happens before anything is sent, the run says loudly where the load goes, and the engine cannot run
// past its hard time limit.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FleetloadError } from '../../src/core/errors.js';
import { runEngine } from '../../src/engine/engine.js';
import { encodeLoginReply, TeltonikaFramer } from '../../src/protocol/teltonika/index.js';
import { allowedTargets, checkTarget, isLoopback, targetBanner } from '../../src/run/target-safety.js';
import type { FleetConfig } from '../../src/sim/fleet-config.js';
import { fleetload } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'fleetload-safety-'));

// Documentation addresses (RFC 5737 / RFC 3849): nothing of ours is there, nothing may ever go there.
const FOREIGN_V4 = '192.0.2.10';
const FOREIGN_V6 = '2001:db8::10';

/**
 * Preloaded into the CLI under test: records (and blocks) every outgoing socket connection to a
 * non-loopback address and every child process, so the test proves that nothing was sent and nothing
 * (PostgreSQL, Prometheus, the platform) was started — and would keep the machine from sending anything if that broke.
 */
function writeGuard(): { preload: string; log: string } {
  const preload = join(dir, 'no-egress.cjs');
  const log = join(dir, 'egress.log');
  writeFileSync(log, '');
  writeFileSync(
    preload,
    `const net = require('node:net'); const cp = require('node:child_process'); const fs = require('node:fs');
const { syncBuiltinESMExports } = require('node:module');
const log = ${JSON.stringify(log)};
const loop = (h) => h === 'localhost' || /^127\\./.test(h) || h === '::1' || /^\\/|^\\\\/.test(String(h));
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  // net.connect() hands Socket#connect its normalized arguments: [[options, callback]]
  const a0 = Array.isArray(args[0]) ? args[0][0] : args[0];
  const o = a0 && typeof a0 === 'object' ? a0 : { port: a0, host: typeof args[1] === 'string' ? args[1] : undefined };
  const host = o.path ?? o.host ?? 'localhost';
  fs.appendFileSync(log, 'connect ' + String(host) + ':' + String(o.port) + '\\n');
  if (!loop(host)) { process.nextTick(() => this.destroy(new Error('blocked by the test: non-loopback connect'))); return this; }
  return connect.apply(this, args);
};
for (const f of ['spawn', 'spawnSync', 'execFile', 'execFileSync', 'exec', 'execSync', 'fork']) {
  const orig = cp[f];
  cp[f] = function (...a) { fs.appendFileSync(log, f + ' ' + String(a[0]) + '\\n'); return orig.apply(this, a); };
}
syncBuiltinESMExports();
`,
  );
  return { preload, log };
}

describe('target safety', () => {
  it('knows loopback addresses', () => {
    for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) expect(isLoopback(a), a).toBe(true);
    for (const a of ['10.0.0.1', '192.168.1.1', '0.0.0.0', '::', '::ffff:10.0.0.1', FOREIGN_V6, '128.0.0.1']) expect(isLoopback(a), a).toBe(false);
  });

  it('refuses non-loopback hosts unless named, and names the flag to pass', async () => {
    for (const host of [FOREIGN_V4, FOREIGN_V6, `[${FOREIGN_V6}]`]) {
      const err = await checkTarget(host, []).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(FleetloadError);
      expect((err as FleetloadError).exitCode).toBe(2);
      expect((err as Error).message).toMatch(/--allow-target/);
    }
    const ok = await checkTarget(FOREIGN_V4, [FOREIGN_V4]);
    expect(ok).toMatchObject({ addresses: [FOREIGN_V4], loopback: false, allowedExplicitly: true });
    // a name resolving to loopback is fine without any allow-list
    const local = await checkTarget('localhost', []);
    expect(local.loopback).toBe(true);
    expect(local.addresses.every(isLoopback)).toBe(true);
    // allowing one host does not allow another
    await expect(checkTarget('192.0.2.11', [FOREIGN_V4])).rejects.toThrow(/refusing/);
    await expect(checkTarget('no-such-host.invalid', [])).rejects.toThrow(/does not resolve/);
  });

  it('merges --allow-target with FLEETLOAD_ALLOW_TARGETS (comma or space separated, case-insensitive)', () => {
    expect(allowedTargets(['Staging.Example'], { FLEETLOAD_ALLOW_TARGETS: 'a.example, b.example  [2001:db8::1]' })).toEqual([
      'staging.example',
      'a.example',
      'b.example',
      '2001:db8::1',
    ]);
    expect(allowedTargets([], {})).toEqual([]);
  });

  it('says loudly where the load goes', async () => {
    const line = targetBanner(await checkTarget(FOREIGN_V4, [FOREIGN_V4]), 5000, { embedded: false, devices: 10, durationSec: 30 });
    expect(line).toMatch(/LOAD TARGET: 192\.0\.2\.10:5000 \(resolves to 192\.0\.2\.10\).*NON-LOOPBACK.*10 devices for 30 s/);
    const v6 = targetBanner(await checkTarget('::1', []), 5000, { embedded: true, devices: 1, durationSec: 1 });
    expect(v6).toMatch(/\[::1\]:5000.*embedded/);
  });

  it('`fleetload run --tcp <non-loopback>` exits 2 before sending anything or starting any process', async () => {
    const { preload, log } = writeGuard();
    // control: the guard sees (and blocks) a connection and a child process started through ESM imports
    const { execFileSync } = await import('node:child_process');
    execFileSync(process.execPath, ['--require', preload, '--input-type=module', '-e', `import { connect } from 'node:net'; import { spawnSync } from 'node:child_process'; connect(9, '${FOREIGN_V4}').on('error', () => {}); spawnSync('true');`]);
    expect(readFileSync(log, 'utf8')).toBe(`connect ${FOREIGN_V4}:9\nspawnSync true\n`);
    writeFileSync(log, '');
    const reports = join(dir, 'reports');
    for (const tcp of [`${FOREIGN_V4}:5000`, `[${FOREIGN_V6}]:5000`]) {
      const res = await fleetload(['run', '--profile', 'smoke', '--tcp', tcp, '--prometheus-url', `http://${FOREIGN_V4}:9090`, '--pg-url', `postgres://u:pw@${FOREIGN_V4}/db`, '--reports-dir', reports], {
        env: { NODE_OPTIONS: `--require ${preload}`, FLEETLOAD_ALLOW_TARGETS: 'some-other-host.example' },
        timeoutMs: 30_000,
      });
      expect(res.code, res.stderr).toBe(2);
      expect(res.stderr).toMatch(/refusing to send load to .*only loopback targets are allowed by default.*--allow-target/);
      expect(res.stderr).not.toContain('pw@');
    }
    expect(readFileSync(log, 'utf8')).toBe(''); // no connection attempted, no process started
    expect(() => readdirSync(reports)).toThrow(); // no run folder either
  });
});

/**
 * A Teltonika server that accepts every login and then never ACKs a packet: devices with long ACK timeouts and
 * drain would wait on it for ever. Counts its open connections and the bytes it got, to see what is left behind.
 */
async function startSilentServer(): Promise<{ port: number; open: () => number; avlBytes: () => number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let avlBytes = 0;
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    const framer = new TeltonikaFramer();
    s.on('data', (chunk) => {
      for (const f of framer.push(chunk)) {
        if (f.type === 'login') s.write(encodeLoginReply(true));
        else if (f.type !== 'keepalive') avlBytes += f.bytes.length; // and no ACK, ever
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    open: () => sockets.size,
    avlBytes: () => avlBytes,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** OS threads of this process: each engine worker thread is one. */
const osThreads = () => readdirSync('/proc/self/task').length;

async function eventually(what: string, ok: () => boolean, withinMs: number): Promise<void> {
  const until = Date.now() + withinMs;
  while (!ok()) {
    if (Date.now() > until) throw new Error(`still not true after ${withinMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('hard maximum duration', () => {
  it('the engine stops at its hard limit when its devices would wait for ever, and leaves no thread or socket behind', async () => {
    const server = await startSilentServer();
    const HARD_LIMIT_MS = 3000;
    const WORKERS = 2;
    // devices that would not stop by themselves for 10 minutes: long test, ACK timeout and drain
    const config: FleetConfig = {
      runId: 'hang',
      seed: 5,
      devices: 4,
      durationSec: 600,
      intervalMs: 200,
      recordsPerPacket: 1,
      codec: 8,
      ackTimeoutMs: 600_000,
      reconnectBaseMs: 100,
      reconnectMaxMs: 400,
      tcpHost: '127.0.0.1',
      tcpPort: server.port,
      centre: { latitude: 44.77, longitude: 17.19 },
      drainMs: 600_000,
    };
    try {
      await stat('.'); // libuv's thread pool starts on first use: start it now so that it does not count as left behind
      let threadsRunning = 0;
      let openRunning = 0;
      const logged: string[] = [];
      const t0 = Date.now();
      const r = await runEngine({
        runId: 'hang',
        config,
        workers: WORKERS,
        outDir: mkdtempSync(join(dir, 'hang-')),
        hardLimitMs: HARD_LIMIT_MS,
        fleetloadVersion: 'test',
        log: (l) => logged.push(l),
        onStart: () => {
          setTimeout(() => {
            threadsRunning = osThreads();
            openRunning = server.open();
          }, 1000);
        },
      });
      const took = Date.now() - t0;
      await r.metrics?.close();
      expect(r.killedAtLimit).toBe(true);
      expect(r.summary.generator.invalidReasons.join('\n')).toMatch(/stopped at its hard time limit \(3 s\)/);
      // the load window is the limit: started, then ended by the limit (not by the devices) and returned at once
      const window = r.loadEnd.getTime() - r.loadStart.getTime();
      expect(window).toBeGreaterThanOrEqual(HARD_LIMIT_MS - 50);
      expect(window).toBeLessThan(HARD_LIMIT_MS + 1000);
      expect(took).toBeGreaterThanOrEqual(HARD_LIMIT_MS);
      expect(took).toBeLessThan(HARD_LIMIT_MS + 5000); // + starting the worker threads
      // the devices really were hanging on the silent server when the limit struck
      expect(openRunning).toBe(4);
      expect(server.avlBytes()).toBeGreaterThan(0);
      // nothing left: every device's socket closes and both worker threads are gone
      await eventually('the server sees every device socket closed', () => server.open() === 0, 2000);
      await eventually(`${WORKERS} fewer OS threads than while running (${threadsRunning})`, () => osThreads() <= threadsRunning - WORKERS, 2000);
      const bytesAfter = server.avlBytes();
      await new Promise((res) => setTimeout(res, 500));
      expect(server.avlBytes()).toBe(bytesAfter); // nothing sends any more
    } finally {
      await server.close();
    }
  }, 60_000);
});
