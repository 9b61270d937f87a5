// Profiles are data: every profile loads and validates, steps become manifest stages, overrides scale, errors name
// file, line and field.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fleetConfigFor, stagesOf } from '../../src/run/fleet-plan.js';
import { listProfiles, loadApiConfig, loadProfile } from '../../src/run/profile.js';
import { k6Options } from '../../src/sim/k6-options.js';

const target = { host: '127.0.0.1', port: 5000, httpUrl: 'http://127.0.0.1:3000' };
const dir = mkdtempSync(join(tmpdir(), 'fleetload-profiles-'));
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
      const o = k6Options(c);
      expect(Object.keys(o.scenarios).some((s) => s.startsWith('step_'))).toBe(true);
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
    // k6: one scenario per step adding devices, started at the step's offset
    const o = k6Options(c);
    expect(o.scenarios.step_3).toMatchObject({ executor: 'per-vu-iterations', vus: 1, iterations: 1, startTime: `${600_000}ms` });
    expect(o.scenarios.step_4).toMatchObject({ vus: 1, startTime: '900000ms' });
    // overrides as the CLI applies them: devices.count and durationMs
    const small = fleetConfigFor({ ...p, devices: { ...p.devices, count: 60 }, durationMs: 12_000 }, 'r2', target);
    expect(small.steps!.map((s) => s.devices)).toEqual([3, 8, 15, 30, 45, 60]);
    expect(small.steps!.map((s) => s.startMs)).toEqual([0, 2000, 4000, 6000, 8000, 10000]);
  });

  it('API and WebSocket sections become arrival-rate and WebSocket scenarios', () => {
    const c = fleetConfigFor(loadProfile('monthly-peak'), 'r1', target);
    const o = k6Options(c);
    expect(o.scenarios.api).toMatchObject({ executor: 'ramping-arrival-rate', exec: 'api', timeUnit: '1m' });
    expect(o.scenarios.ws).toMatchObject({ executor: 'per-vu-iterations', exec: 'ws', vus: 20 });
    expect(c.api!.endpoints.map((e) => e.name)).toEqual(['fleet_live', 'device_latest', 'device_positions', 'location_post']);
    const f = fleetConfigFor(loadProfile('fleet-100'), 'r1', target);
    expect(k6Options(f).scenarios.api).toMatchObject({ executor: 'constant-arrival-rate', rate: 2, timeUnit: '1s' });
    // no HTTP target known (external TCP-only run): devices only
    expect(Object.keys(k6Options(fleetConfigFor(loadProfile('fleet-100'), 'r1', { host: 'h', port: 1 })).scenarios)).toEqual(['step_1']);
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
