// The fault plan is pure: profile `faults:` → validated specs → timed plan (percentages follow --duration, absolute
// times scale only when they no longer fit, downtimes end before the load does); the runner carries it out in order.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { planFaults, startFaultRunner, type FaultTarget } from '../../src/run/faults.js';
import { loadProfile } from '../../src/run/profile.js';

const dir = mkdtempSync(join(tmpdir(), 'fleetload-fault-plan-'));
const profile = (name: string, faults: string, extra = '') => {
  const f = join(dir, `${name}.yaml`);
  writeFileSync(f, `name: ${name}\nduration: 60s\ndevices:\n  count: 5\n${extra}faults:\n${faults}`);
  return f;
};
const badInput = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    expect((e as { exitCode?: number }).exitCode).toBe(2);
    return (e as Error).message;
  }
  throw new Error('expected a bad-input error');
};

describe('fault plan', () => {
  it('reads the shipped fault profiles: one fault each at 40%, judged by slo/faults.yaml', () => {
    for (const [name, action] of [
      ['fault-postgres-restart', 'restart-postgres'],
      ['fault-platform-kill', 'kill-platform'],
      ['fault-link-drop', 'drop-device-links'],
      ['fault-platform-pause', 'pause-platform'],
    ]) {
      const p = loadProfile(name);
      expect(p.faults?.map((f) => f.action)).toEqual([action]);
      expect(p.faults?.[0].atFraction).toBe(0.4);
      expect(p.sloFile).toMatch(/scenarios\/profiles\/slo\/faults\.yaml$/);
    }
  });

  it('percentages follow the duration; absolute times stay while they fit, else scale; equal times keep profile order; defaults per action', () => {
    const p = loadProfile(
      profile(
        'plan-times',
        ['  - { action: pause-platform, at: 50% }', '  - { action: restart-postgres, at: 10s, duration: 4s }', '  - { action: drop-device-links, at: 45s }', '  - { action: kill-platform, at: 30s }'].join('\n') + '\n',
      ),
    );
    const full = planFaults(p.faults!, p.durationMs, 60_000);
    expect(full).toEqual([
      { action: 'restart-postgres', at: '10s', atMs: 10_000, durationMs: 4000 },
      { action: 'pause-platform', at: '50%', atMs: 30_000, durationMs: 5000 },
      { action: 'kill-platform', at: '30s', atMs: 30_000, durationMs: 2000 },
      { action: 'drop-device-links', at: '45s', atMs: 45_000, durationMs: 0 },
    ]);
    // --duration 20s: 50% → 10 s; 10s fits and stays; 30s and 45s are scaled (×1/3); downtimes end ≥ 1 s before the end
    const short = planFaults(p.faults!, p.durationMs, 20_000);
    expect(short.map((f) => [f.action, f.atMs, f.durationMs])).toEqual([
      ['pause-platform', 10_000, 5000],
      ['restart-postgres', 10_000, 4000],
      ['kill-platform', 10_000, 2000],
      ['drop-device-links', 15_000, 0],
    ]);
    const tiny = planFaults(p.faults!, p.durationMs, 12_000);
    expect(tiny.find((f) => f.action === 'pause-platform')).toMatchObject({ atMs: 6000, durationMs: 5000 });
    expect(tiny.find((f) => f.action === 'restart-postgres')).toMatchObject({ atMs: 10_000, durationMs: 1000 });
  });

  it('errors name file, line and field', () => {
    const unknown = profile('bad-action', '  - { action: reboot-host, at: 10s }\n');
    expect(badInput(() => loadProfile(unknown))).toMatch(new RegExp(`${unknown}:6: faults\\.0\\.action: expected one of "restart-postgres"`));
    const late = profile('bad-late', '  - { action: kill-platform, at: 10s }\n  - { action: kill-platform, at: 90s }\n');
    expect(badInput(() => loadProfile(late))).toMatch(/bad-late\.yaml:7: faults\.1\.at: 90s is not before the end of the run \(60s\)/);
    const pct = profile('bad-pct', '  - { action: kill-platform, at: 100% }\n');
    expect(badInput(() => loadProfile(pct))).toMatch(/bad-pct\.yaml:6: faults\.0\.at: a percentage must be below 100%/);
    const long = profile('bad-long', '  - { action: pause-platform, at: 50s, duration: 15s }\n');
    expect(badInput(() => loadProfile(long))).toMatch(/bad-long\.yaml:6: faults\.0\.duration: the fault would last until 65s, past the end/);
    const noAt = profile('bad-no-at', '  - { action: pause-platform }\n');
    expect(badInput(() => loadProfile(noAt))).toMatch(/bad-no-at\.yaml:6: faults\.0: missing required field "at"/);
    const badAt = profile('bad-at', '  - { action: pause-platform, at: soon }\n');
    expect(badInput(() => loadProfile(badAt))).toMatch(/faults\.0\.at: expected a duration such as 30s or a percentage/);
    const slo = profile('bad-slo', '  - { action: pause-platform, at: 10s }\n', 'slo: nowhere/slo.yaml\n');
    expect(badInput(() => loadProfile(slo))).toMatch(/bad-slo\.yaml:5: slo: no SLO file at .*nowhere\/slo\.yaml/);
  });

  it('the runner does the faults in order from the load start, always restores, records what happened', async () => {
    // time is a parameter: a manual clock, so every action lands on its exact millisecond and nothing sleeps
    const clock = new ManualClock(1_767_225_600_000);
    const calls: string[] = [];
    const t0 = clock.now();
    const mark = (s: string) => calls.push(`${s}@${clock.now() - t0}`);
    const target: FaultTarget = {
      restartPostgres: async (ms) => {
        mark(`pg-down-${ms}`);
        await clock.sleep(ms);
      },
      killPlatform: async () => void mark('kill'),
      startPlatform: async () => void mark('start'),
      pausePlatform: () => void mark('stop'),
      resumePlatform: () => void mark('cont'),
      dropDeviceLinks: async () => {
        mark('drop');
        return 7;
      },
    };
    const plan = planFaults(
      [
        { action: 'pause-platform', at: '0.2s', atMs: 200, durationMs: 300 },
        { action: 'drop-device-links', at: '0.6s', atMs: 600, durationMs: 0 },
        { action: 'kill-platform', at: '0.7s', atMs: 700, durationMs: 200 },
        { action: 'restart-postgres', at: '50s', atMs: 50_000, durationMs: 1000 },
      ],
      60_000,
      60_000,
    );
    const lines: string[] = [];
    const runner = startFaultRunner(plan, target, { log: (l) => lines.push(l), loadStart: Promise.resolve(t0), clock });
    await clock.advance(1200);
    const records = await runner.stop();
    expect(calls).toEqual(['stop@200', 'cont@500', 'drop@600', 'kill@700', 'start@900']);
    expect(records.map((r) => r.action)).toEqual(['pause-platform', 'drop-device-links', 'kill-platform', 'restart-postgres']);
    expect(records[1].detail).toBe('7 device links reset');
    expect(records[2].startOffsetMs).toBe(700);
    expect(Date.parse(records[2].end!) - Date.parse(records[2].start!)).toBe(200);
    expect(records[3].skipped).toMatch(/load ended/);
    expect(records[3].start).toBeUndefined();
    expect(lines.filter((l) => l.startsWith('>>> FAULT'))).toHaveLength(7);
  });

  it('a failing action is recorded, and the next fault still runs', async () => {
    const clock = new ManualClock(1_767_225_600_000);
    const target = {
      restartPostgres: async () => {
        throw new Error('initdb exploded');
      },
      dropDeviceLinks: async () => 3,
    } as unknown as FaultTarget;
    const plan = planFaults(
      [
        { action: 'restart-postgres', at: '0s', atMs: 0, durationMs: 10 },
        { action: 'drop-device-links', at: '0.05s', atMs: 50, durationMs: 0 },
      ],
      1000,
      1000,
    );
    const runner = startFaultRunner(plan, target, { log: () => {}, loadStart: Promise.resolve(clock.now()), clock });
    await clock.advance(200);
    const [pg, drop] = await runner.stop();
    expect(pg.error).toBe('initdb exploded');
    expect(drop.detail).toBe('3 device links reset');
  });
});
