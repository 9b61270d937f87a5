// How a run is split: shard i of n takes the devices j ≡ i (mod n), each with the start time it has in one process,
// whatever worker count each shard picks (pods on different machines have different cores), and the engine's
// planned-device gauge counts exactly those. Plus the shard flags' bad input.
import { describe, expect, it } from 'vitest';
import { ExitCode, FleetloadError } from '../../src/core/errors.js';
import { plannedAt, planThreads } from '../../src/engine/engine.js';
import { sliceDevices } from '../../src/engine/device-fleet.js';
import type { FleetConfig } from '../../src/sim/fleet-config.js';
import { checkClock, configHash, parseShard, parseStartAt, startReasons } from '../../src/run/shards.js';
import { createServer } from 'node:http';
import { ManualClock } from '../../src/core/clock.js';

const config = (devices: number, steps?: FleetConfig['steps']): FleetConfig => ({
  runId: 'plan',
  seed: 5,
  devices,
  durationSec: 10,
  intervalMs: 1000,
  recordsPerPacket: 1,
  codec: 8,
  ackTimeoutMs: 1000,
  reconnectBaseMs: 100,
  reconnectMaxMs: 400,
  tcpHost: '127.0.0.1',
  tcpPort: 1,
  centre: { latitude: 44.77, longitude: 17.19 },
  ...(steps ? { steps } : {}),
});

/** device index → start offset, for one shard with `workers` threads */
function shardDevices(c: FleetConfig, index: number, count: number, workers: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const init of planThreads({ runId: 'plan', config: c, workers, shard: { index, count } })) {
    for (const d of sliceDevices(c, init.slice)) {
      expect(out.has(d.index), `device ${d.index} twice in shard ${index}`).toBe(false);
      out.set(d.index, d.startOffsetMs);
    }
  }
  return out;
}

describe('shard plan', () => {
  const stepped = config(23, [
    { devices: 7, startMs: 0 },
    { devices: 15, startMs: 3000 },
    { devices: 23, startMs: 6000 },
  ]);
  for (const c of [config(1), config(10), config(97), stepped]) {
    it(`${c.devices} devices${c.steps ? ' in 3 steps' : ''}: shards 1..5 with mixed worker counts cover each device once, on its single-process start, j ≡ i (mod n)`, () => {
      const single = shardDevices(c, 0, 1, 3);
      expect([...single.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: c.devices }, (_, j) => j));
      for (let n = 1; n <= 5; n++) {
        const seen = new Map<number, number>();
        for (let i = 0; i < n; i++) {
          // a different worker count per shard, as on pods with different cores
          const mine = shardDevices(c, i, n, 1 + ((i * 2 + n) % 4));
          for (const [j, start] of mine) {
            expect(j % n, `device ${j} in shard ${i}/${n}`).toBe(i);
            expect(seen.has(j), `device ${j} in two shards of ${n}`).toBe(false);
            seen.set(j, start);
          }
          expect(plannedAt(c, Infinity, { index: i, count: n }).devices).toBe(mine.size);
        }
        expect(new Map([...seen].sort((a, b) => a[0] - b[0]))).toEqual(new Map([...single].sort((a, b) => a[0] - b[0])));
      }
    });
  }

  it('ledger parts are named by shard and worker, so shard folders never collide', () => {
    const parts = [0, 1, 2].flatMap((i) => planThreads({ runId: 'p', config: config(9), workers: 2, outDir: '/x', shard: { index: i, count: 3 } }).map((t) => t.part));
    expect(new Set(parts).size).toBe(6);
    expect(parts).toContain('s2-w1');
  });
});

describe('shard flags', () => {
  const bad = (f: () => unknown, text: RegExp) => {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(FleetloadError);
      expect((e as FleetloadError).exitCode).toBe(ExitCode.BadInput);
      expect((e as Error).message).toMatch(text);
      return;
    }
    throw new Error('expected bad input');
  };
  it('--shard i/n: 0-based, i < n, n ≤ 1024', () => {
    expect(parseShard('0/1')).toEqual({ index: 0, count: 1 });
    expect(parseShard('31/32')).toEqual({ index: 31, count: 32 });
    bad(() => parseShard('3/2'), /0-based and must be below the count/);
    bad(() => parseShard('2/2'), /below the count/);
    bad(() => parseShard('1/0'), /1 ≤ n ≤ 1024/);
    bad(() => parseShard('a/b'), /expected i\/n/);
    bad(() => parseShard('1/2000'), /1 ≤ n ≤ 1024/);
  });
  it('--start-at: ISO, in the future, at most a day ahead', () => {
    const now = Date.parse('2030-01-01T12:00:00Z');
    expect(parseStartAt('2030-01-01T12:00:05Z', now)).toBe(now + 5000);
    bad(() => parseStartAt('2030-01-01T11:59:59Z', now), /in the past by 1\.0 s/);
    bad(() => parseStartAt('tomorrow', now), /expected an ISO time/);
    bad(() => parseStartAt('2030-01-03T12:00:00Z', now), /more than 24 h ahead/);
  });
  it('the config fingerprint ignores the target address, not the fleet', () => {
    expect(configHash({ ...config(10), tcpHost: '10.0.0.1', tcpPort: 5 })).toBe(configHash(config(10)));
    expect(configHash(config(11))).not.toBe(configHash(config(10)));
  });
  it('late start beyond the tolerance is a reason; within it is not', () => {
    expect(startReasons({ index: 1, count: 2 }, 400, undefined, 500)).toEqual([]);
    expect(startReasons({ index: 1, count: 2 }, 1200, undefined, 500)[0]).toMatch(/shard 1\/2 started 1200 ms after --start-at/);
  });
});

describe('clock check against a real HTTP server (its Date header) and a Prometheus-shaped time() answer', () => {
  it('a local clock an hour ahead is skewed; the true clock is not', async () => {
    const server = createServer((req, res) => {
      if (req.url?.startsWith('/api/v1/query')) res.end(JSON.stringify({ status: 'success', data: { resultType: 'scalar', result: [Date.now() / 1000, String(Date.now() / 1000)] } }));
      else res.end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      const ahead = new ManualClock(Date.now() + 3600_000);
      const skewed = await checkClock({ httpUrl: url }, ahead, 500);
      expect(skewed?.skewed).toBe(true);
      expect(skewed?.minMs).toBeGreaterThan(3590_000);
      const fine = await checkClock({ httpUrl: url }, { now: () => Date.now(), sleep: async () => {} }, 1500);
      expect(fine?.skewed).toBe(false);
      const prom = await checkClock({ prometheusUrl: url }, ahead, 500);
      expect(prom).toMatchObject({ source: 'prometheus-time', skewed: true });
      expect(startReasons({ index: 0, count: 2 }, 0, prom, 500)[0]).toMatch(/clock is .* off Prometheus's time\(\)/);
      const promFine = await checkClock({ prometheusUrl: url }, { now: () => Date.now(), sleep: async () => {} }, 200);
      expect(promFine?.skewed).toBe(false);
    } finally {
      server.close();
    }
  });
});
