// Resource guard: fd and ephemeral-port limits against the planned fleet, with what to raise and by how much.
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FleetloadError } from '../../src/core/errors.js';
import {
  assessResources,
  checkResourcesBeforeRun,
  parseOpenFilesLimit,
  platformConnPerIpArg,
  readMachineLimits,
  roundUp,
} from '../../src/run/resource-guard.js';
import { fleetload } from '../helpers/cli.js';

const debian = { fdSoftLimit: 1024, fdHardLimit: 1_048_576, ephemeralPortRange: [32768, 60999] as [number, number] };

describe('assessResources', () => {
  it('a smoke run on an ordinary machine is fine and silent', () => {
    const a = assessResources({ devices: 20, ...debian, embedded: true });
    expect(a).toMatchObject({ ok: true, problems: [], warnings: [], advice: [] });
  });

  it('a hard open-file limit below the fleet: says by how much and gives the exact commands', () => {
    const a = assessResources({ devices: 30_000, fdSoftLimit: 20_000, fdHardLimit: 20_000, ephemeralPortRange: [1024, 65535], embedded: false });
    expect(a.ok).toBe(false);
    expect(a.needed.fdsPerProcess).toBe(30_256);
    expect(a.problems.join('\n')).toMatch(/hard limit \(ulimit -Hn\) is 20000: raise it by at least 10256, to 38000/);
    expect(a.advice).toContain('ulimit -Hn 38000 && ulimit -Sn 38000   # as root, in the shell that runs fleetload');
    expect(a.advice.join('\n')).toMatch(/LimitNOFILE=38000/);
    expect(a.advice.join('\n')).toMatch(/--ulimit nofile=38000:38000/);
  });

  it('a low soft limit alone is only a note: Node raises it to the hard limit', () => {
    const a = assessResources({ devices: 5000, ...debian });
    expect(a.ok).toBe(true);
    expect(a.warnings.join('\n')).toMatch(/soft open-file limit \(1024\).*raises it to the hard limit/);
  });

  it('too few ephemeral ports: the sysctl that widens the range', () => {
    const a = assessResources({ devices: 30_000, fdSoftLimit: 1e6, fdHardLimit: 1e6, ephemeralPortRange: [32768, 60999] });
    expect(a.ok).toBe(false);
    expect(a.problems.join('\n')).toMatch(/net\.ipv4\.ip_local_port_range 32768 60999 has 28232: widen it by at least 1768 ports/);
    expect(a.advice.join('\n')).toMatch(/sysctl -w net\.ipv4\.ip_local_port_range="27536 65535"/);
  });

  it('more devices than one source address has ports: split the fleet', () => {
    const a = assessResources({ devices: 100_000, fdSoftLimit: Infinity, fdHardLimit: Infinity, ephemeralPortRange: [1024, 65535] });
    expect(a.ok).toBe(false);
    expect(a.problems.join('\n')).toMatch(/exceed the 64512 ports.*split the fleet over several load generators.*51609 devices each/);
  });

  it('tight limits warn but do not stop the run', () => {
    const a = assessResources({ devices: 25_000, fdSoftLimit: 30_000, fdHardLimit: 30_000, ephemeralPortRange: [32768, 60999] });
    expect(a.ok).toBe(true);
    expect(a.warnings.join('\n')).toMatch(/open-file limit is tight/);
    expect(a.warnings.join('\n')).toMatch(/ephemeral ports are tight/);
  });

  it('the embedded platform per-IP limit, the kernel ceiling fs.nr_open and fs.file-max', () => {
    const a = assessResources({ devices: 25_000, fdSoftLimit: 1e6, fdHardLimit: 1e6, ephemeralPortRange: [1024, 65535], embedded: true });
    expect(a.problems.join('\n')).toMatch(/at most 20000 connections per source address/);
    expect(a.advice).toContain('--platform-arg=--max-conn-per-ip=26000');
    expect(assessResources({ devices: 25_000, fdSoftLimit: 1e6, fdHardLimit: 1e6, ephemeralPortRange: [1024, 65535], embedded: true, platformMaxConnPerIp: 30_000 }).ok).toBe(true);
    const b = assessResources({ devices: 40_000, fdSoftLimit: 1024, fdHardLimit: 4096, ephemeralPortRange: [1024, 65535], nrOpen: 32_768, fileMax: 50_000, embedded: true, platformMaxConnPerIp: 60_000 });
    expect(b.advice[0]).toMatch(/^sysctl -w fs\.nr_open=/);
    expect(b.problems.join('\n')).toMatch(/fs\.file-max \(50000\)/);
  });

  it('helpers: round numbers, /proc limits, --platform-arg parsing', () => {
    expect([roundUp(37_820), roundUp(99), roundUp(101), roundUp(1_234_567)]).toEqual([38_000, 99, 110, 1_300_000]);
    expect(parseOpenFilesLimit('Limit  Soft Limit  Hard Limit  Units\nMax open files            1024                 unlimited            files\n')).toEqual({ soft: 1024, hard: Infinity });
    expect(platformConnPerIpArg(['--max-conn-per-ip=500'])).toBe(500);
    expect(platformConnPerIpArg(['--fault-x=1', '--max-conn-per-ip', '700'])).toBe(700);
    expect(platformConnPerIpArg([])).toBeUndefined();
    const real = readMachineLimits();
    if (process.platform === 'linux') expect(real?.fdHardLimit).toBeGreaterThan(0);
  });
});

describe('checkResourcesBeforeRun', () => {
  it('throws an infrastructure error (exit 3) listing the problems and the commands; warns when tight', () => {
    const limits = { fdSoftLimit: 2000, fdHardLimit: 2000, ephemeralPortRange: [32768, 60999] as [number, number] };
    let err: unknown;
    try {
      checkResourcesBeforeRun(5000, { embedded: true, limits });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FleetloadError);
    expect((err as FleetloadError).exitCode).toBe(3);
    expect((err as Error).message).toMatch(/cannot run 5000 devices.*nothing was started[\s\S]*raise it by at least 3256[\s\S]*ulimit -Hn 6600/);
    const lines: string[] = [];
    expect(checkResourcesBeforeRun(1700, { embedded: true, limits, log: (l) => lines.push(l) })?.ok).toBe(true);
    expect(lines.join('\n')).toMatch(/resource guard: open-file limit is tight/);
  });

  it('`fleetload run` with more devices than the machine allows exits 3 at once with the advice', async () => {
    const reports = mkdtempSync(join(tmpdir(), 'fleetload-guard-'));
    const t0 = Date.now();
    const res = await fleetload(['run', '--profile', 'smoke', '--devices', '2000000', '--reports-dir', reports], { timeoutMs: 30_000 });
    expect(res.code, res.stderr).toBe(3);
    expect(res.stderr).toMatch(/cannot run 2000000 devices as configured \(nothing was started\)/);
    expect(res.stderr).toMatch(/split the fleet/);
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(readdirSync(reports)).toEqual([]);
  });
});
