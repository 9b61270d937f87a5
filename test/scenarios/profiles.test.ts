// Profiles are data: every profile loads and validates, steps become the engine's device ranges, start times and
// manifest stages, overrides scale, API and WebSocket sections become the engine's client schedules, errors name
// file, line and field.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { arrivalOffsets } from '../../src/engine/clients/schedule.js';
import { planThreads, plannedAt, runEngine, stagesOf } from '../../src/engine/engine.js';
import { subscription } from '../../src/sim/clients.js';
import { fleetConfigFor } from '../../src/run/fleet-plan.js';
import { listProfiles, loadApiConfig, loadProfile } from '../../src/run/profile.js';
import { stepRanges, type FleetConfig } from '../../src/sim/fleet-config.js';
import { startTeltonikaServer } from './teltonika-server.js';

const target = { host: '127.0.0.1', port: 5000, httpUrl: 'http://127.0.0.1:3000' };
const dir = mkdtempSync(join(tmpdir(), 'fleetload-profiles-'));
/** Devices 0..count-1 each in exactly one step range, in order, with no gap. */
const expectSteps = (c: FleetConfig) => {
  const ranges = stepRanges(c);
  expect(ranges.length).toBeGreaterThan(0);
  expect(ranges[0]).toMatchObject({ from: 0, startMs: 0 });
  for (let i = 1; i < ranges.length; i++) expect(ranges[i].from).toBe(ranges[i - 1].to);
  expect(ranges.at(-1)!.to).toBe(c.devices);
};
const write = (name: string, text: string) => {
  const f = join(dir, `${name}.yaml`);
  writeFileSync(f, text);
  return f;
};

describe('profiles', () => {
  it('ships every profile of issue #5, each valid', () => {
    const names = listProfiles();
    for (const n of ['smoke', 'fleet-100', 'fleet-500', 'fleet-1000', 'fleet-10000', 'capacity', 'soak', 'reconnect-storm', 'monthly-peak']) expect(names).toContain(n);
    for (const n of names) {
      const p = loadProfile(n);
      expect(p.name).toBe(n);
      const c = fleetConfigFor(p, 'r1', target);
      expect(c.devices).toBe(p.devices.count);
      expectSteps(c);
      expect(plannedAt(c, Infinity).devices).toBe(p.devices.count);
      // the engine's threads split the whole fleet between them, aimed at the target
      const threads = planThreads({ runId: 'r1', config: c, workers: 3 });
      expect(threads.map((t) => t.slice.thread)).toEqual([0, 1, 2]);
      for (const t of threads) expect(t).toMatchObject({ slice: { threads: 3 }, target: { host: '127.0.0.1', port: 5000 } });
    }
    expect(loadProfile('smoke').durationMs).toBeLessThanOrEqual(30_000);
    // smoke exercises every kind of client, so every default objective gets a value in the quickest run
    expect(loadProfile('smoke').api?.rate).toBeGreaterThan(0);
    expect(loadProfile('smoke').ws?.clients).toBeGreaterThan(0);
  });

  it('capacity: ≥ 6 steps, one stage per step with its window and device count; --devices/--duration scale them', () => {
    const p = loadProfile('capacity');
    expect(p.steps!.length).toBeGreaterThanOrEqual(6);
    const c = fleetConfigFor(p, 'r1', target);
    expect(c.steps!.map((s) => s.devices)).toEqual([100, 250, 500, 1000, 1500, 2000]);
    const t0 = new Date('2026-01-01T00:00:00Z');
    const end = new Date(t0.getTime() + 30 * 60_000 + 5000);
    const stages = stagesOf(c, t0, end);
    expect(stages).toHaveLength(6);
    expect(stages[1]).toEqual({ name: 'step-2', start: '2026-01-01T00:05:00.000Z', end: '2026-01-01T00:10:00.000Z', devices: 250 });
    expect(stages[5].end).toBe(end.toISOString());
    // the engine: each step adds its devices at the step's offset; the planned count follows the steps
    expectSteps(c);
    expect(stepRanges(c)[2]).toEqual({ step: 3, from: 250, to: 500, startMs: 600_000 });
    expect(stepRanges(c)[3]).toEqual({ step: 4, from: 500, to: 1000, startMs: 900_000 });
    expect(plannedAt(c, 599_999)).toEqual({ devices: 250, stage: 'step 2/6' });
    expect(plannedAt(c, 600_000)).toEqual({ devices: 500, stage: 'step 3/6' });
    // sharded: the shards' planned counts add up to the step's (device j belongs to shard j mod 3)
    expect([0, 1, 2].map((index) => plannedAt(c, 600_000, { index, count: 3 }).devices)).toEqual([167, 167, 166]);
    // overrides as the CLI applies them: devices.count and durationMs
    const small = fleetConfigFor({ ...p, devices: { ...p.devices, count: 60 }, durationMs: 12_000 }, 'r2', target);
    expect(small.steps!.map((s) => s.devices)).toEqual([3, 8, 15, 30, 45, 60]);
    expect(small.steps!.map((s) => s.startMs)).toEqual([0, 2000, 4000, 6000, 8000, 10000]);
  });

  it('API and WebSocket sections become the engine client schedules (ramping or constant arrivals, WebSocket subscriptions)', () => {
    const c = fleetConfigFor(loadProfile('monthly-peak'), 'r1', target);
    // ramping 10 → 40 → 40 → 10 req/s over the run after its 20 s start
    expect(c.api!.stages!.map((s) => s.target)).toEqual([10, 40, 40, 10]);
    expect(c.api!.startMs).toBe(20_000);
    expect(c.api!.stages!.reduce((a, s) => a + s.durationMs, 0)).toBe(c.api!.durationMs);
    const ramp = [...arrivalOffsets(c.api!)];
    // N = ∫ rate: 0→10 (avg 5), 10→40 (25), 40 (40), 40→10 (25) req/s, each over its stage
    const offered = c.api!.stages!.reduce((a, s, k, all) => a + (((k === 0 ? 0 : all[k - 1].target) + s.target) / 2) * (s.durationMs / 1000), 0);
    expect(ramp.length).toBe(Math.ceil(offered));
    expect(ramp.every((t, k) => k === 0 || t > ramp[k - 1])).toBe(true);
    // the rate ramps: fewer arrivals in the first minute than in a minute of the 40 req/s plateau
    const inMinute = (from: number) => ramp.filter((t) => t >= from && t < from + 60_000).length;
    expect(inMinute(0)).toBeLessThan(inMinute(15 * 60_000) / 4);
    expect(c.ws).toMatchObject({ clients: 20, subscribe: 50 });
    expect(subscription(c, 0)).toHaveLength(50);
    expect(c.api!.endpoints.map((e) => e.name)).toEqual(['fleet_live', 'device_latest', 'device_positions', 'location_post']);
    const f = fleetConfigFor(loadProfile('fleet-100'), 'r1', target);
    expect(f.api!.rate).toBe(2);
    expect([...arrivalOffsets(f.api!)].slice(0, 3)).toEqual([0, 500, 1000]);
    expect([...arrivalOffsets(f.api!)]).toHaveLength(Math.ceil((2 * f.api!.durationMs) / 1000));
    expect(subscription(f, 1)).toBe('all');
  });

  it('with no HTTP target known (external TCP-only run) the engine runs devices only', async () => {
    const server = await startTeltonikaServer();
    try {
      const p = loadProfile('fleet-100');
      const c = fleetConfigFor({ ...p, devices: { ...p.devices, count: 2 }, durationMs: 1000 }, 'tcp-only', { host: '127.0.0.1', port: server.port });
      expect(c.httpUrl).toBeUndefined();
      expect(c.api && c.ws).toBeTruthy(); // the profile has both sections …
      // a fleet connects over one interval: a short one, so that both devices log in within the second
      const r = await runEngine({ runId: 'tcp-only', config: { ...c, intervalMs: 200, parkedIntervalMs: 200, drainMs: 1000 }, workers: 0, hardLimitMs: 20_000, fleetloadVersion: 'test', log: () => {} });
      // … but nothing goes anywhere but the device target
      expect(r.summary.api).toMatchObject({ configured: false, offered: 0, requests: 0 });
      expect(r.summary.ws).toMatchObject({ configured: false, connected: 0 });
      expect(r.summary.logins).toBe(2);
      expect(r.summary.records.acked).toBeGreaterThan(0);
    } finally {
      await server.close();
    }
  });

  it('reconnect-storm keeps its storm inside a shortened run', () => {
    const p = loadProfile('reconnect-storm');
    const c = fleetConfigFor({ ...p, durationMs: 20_000 }, 'r', target);
    expect(c.storm!.atMs).toBe(8000);
    expect(c.storm!.atMs + c.storm!.offlineMs).toBeLessThan(20_000);
  });

  it('errors name file, line and field', () => {
    const f = write('bad-one', `name: bad-one\nduration: 10s\ndevices:\n  count: 5\n  replayOrder: sideways\n  storm: { at: soon, offline: 5s }\nws:\n  clients: 1\n  subscribe: some\n`);
    let msg = '';
    try {
      loadProfile(f);
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toContain(`${f}:5: devices.replayOrder: expected one of "oldest-first", "newest-first"`);
    expect(msg).toContain(`${f}:6: devices.storm.at: expected a duration such as 30s or a percentage`);
    expect(msg).toMatch(new RegExp(`${f}:9: ws.subscribe`));
    const g = write('bad-two', `name: bad-two\nduration: 10s\ndevices:\n  interval: 1s\nsteps:\n  - { devices: 10, hold: 5s }\n  - { devices: 5, hold: 5s }\n`);
    expect(() => loadProfile(g)).toThrow(`${g}:7: steps.1.devices: steps add devices`);
    const h = write('bad-three', `name: bad-three\nduration: 10s\ndevices:\n  interval: 1s\n`);
    expect(() => loadProfile(h)).toThrow(`${h}:4: devices: missing required field "count"`);
    const a = write('bad-api', `name: bad-api\nendpoints:\n  - name: x\n    path: v1/nothing\n`);
    expect(() => loadApiConfig(a)).toThrow(`${a}:4: endpoints.0.path: expected a path starting with /`);
  });

  it('the default API config matches the reference platform', () => {
    const a = loadApiConfig('default');
    expect(a.tokenEnv).toBe('FLEET_API_TOKEN');
    for (const e of a.endpoints) expect(e.path).toMatch(/^\/v1\/(fleet\/live|devices\/\{imei\}\/(latest|positions)|telemetry\/location)/);
  });
});
