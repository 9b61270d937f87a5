// The CLI's exit-code contract (README "Exit codes") under the inputs people and scripts get wrong: each is one line
// naming what is wrong, with its own exit code, no stack trace, and nothing started or left behind.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { fleetload, ROOT } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'cli-contract-'));

/** One line on stderr, no stack trace. */
function oneLine(stderr: string): void {
  expect(stderr).not.toMatch(/\n\s+at /);
  expect(stderr.trim().split('\n').length, stderr).toBeLessThanOrEqual(2);
}

describe('CLI contract', () => {
  it.each([
    ['a profile that is a folder', ['run', '--profile', dir], /is a folder, not a profile file/],
    ['a --reports-dir that is a file', ['run', '--profile', 'smoke', '--reports-dir', '/etc/hostname'], /--reports-dir: \/etc\/hostname is not a folder/],
    ['a --reports-dir on /proc (recursive mkdir there never ends)', ['run', '--profile', 'smoke', '--reports-dir', '/proc/x/y'], /--reports-dir: \/proc is on procfs/],
    ['a duration past what a timer can hold', ['run', '--profile', 'smoke', '--duration', '600h'], /--duration: 600h is longer than the longest run fleetload takes \(168h, a week\)/],
    ['an unknown flag: one line and a hint, not the whole help', ['run', '--profile', 'smoke', '--bogus'], /unknown option '--bogus'\n\(add --help for the options\)/],
  ])('%s → exit 2', async (_what, args, message) => {
    const res = await fleetload(args, { timeoutMs: 20_000 });
    expect(res.code, res.stderr).toBe(2);
    expect(res.stderr).toMatch(message);
    oneLine(res.stderr);
    expect(res.stderr).not.toMatch(/LOAD TARGET|starting the embedded stack/);
  });

  it('a YAML alias bomb in a profile or an SLO file → exit 2, refused before it expands', async () => {
    const bomb = ['name: bomb', 'a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (const [k, p] of [['b', 'a'], ['c', 'b'], ['d', 'c'], ['e', 'd'], ['f', 'e'], ['g', 'f'], ['h', 'g']]) bomb.push(`${k}: &${k} [${Array(9).fill(`*${p}`).join(',')}]`);
    const file = join(dir, 'bomb.yaml');
    writeFileSync(file, `${bomb.join('\n')}\n`);
    const res = await fleetload(['run', '--profile', file], { timeoutMs: 20_000 });
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/bomb\.yaml: YAML refused: .*alias/);
    oneLine(res.stderr);
    const slo = await fleetload(['run', '--profile', 'smoke', '--slo', file], { timeoutMs: 20_000 });
    expect(slo.code).toBe(2);
    expect(slo.stderr).toMatch(/bomb\.yaml:1: \(yaml\): YAML refused/);
  });

  it('verify on a broken run.json → exit 2 naming the file, not exit 4', async () => {
    const run = join(dir, 'broken-run');
    mkdirSync(run);
    writeFileSync(join(run, 'run.json'), '{"runId": "x", ');
    const res = await fleetload(['verify', run], { timeoutMs: 20_000 });
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/broken-run\/run\.json is not valid JSON/);
    oneLine(res.stderr);
  });

  it('the platform dying mid-run makes the run invalid (exit 4) and says so, instead of an SLO breach', async () => {
    const reports = join(dir, 'reports');
    const child = spawn(process.execPath, [join(ROOT, 'dist', 'cli.js'), 'run', '--profile', 'smoke', '--devices', '20', '--duration', '12s', '--run-id', 'platform-dies', '--reports-dir', reports, '--no-keep-evidence'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let killed = false;
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (!killed && /engine metrics:/.test(stderr)) {
        killed = true;
        // the run's own platform process: a child of this run, started as `cli.js platform`
        setTimeout(() => {
          const pids = execFileSync('ps', ['-o', 'pid=,ppid=,args=', '-e'], { encoding: 'utf8' })
            .split('\n')
            .filter((l) => l.includes('cli.js platform') && l.trim().split(/\s+/)[1] === String(child.pid))
            .map((l) => Number(l.trim().split(/\s+/)[0]));
          for (const pid of pids) process.kill(pid, 'SIGKILL');
        }, 3000);
      }
    });
    child.stdout!.resume();
    const code = await new Promise<number>((r) => child.on('exit', (c) => r(c ?? -1)));
    expect(killed).toBe(true);
    expect(stderr).toMatch(/the reference platform died during the run \(killed by SIGKILL\): the run is invalid, not an SLO breach/);
    expect(code, stderr).toBe(4);
  }, 120_000);

  it('SIGTERM while the stack is still starting: exit 130, and nothing of it is left running or on disk', async () => {
    const runId = `sigterm-${Date.now().toString(36)}`;
    const child = spawn(process.execPath, [join(ROOT, 'dist', 'cli.js'), 'run', '--profile', 'smoke', '--duration', '10s', '--run-id', runId, '--reports-dir', join(dir, 'sigterm')], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      // the stack has begun starting (PostgreSQL first): stop the run now, before the stack is up
      if (/starting the embedded stack/.test(stderr) && !child.killed) child.kill('SIGTERM');
    });
    const code = await new Promise<number>((r) => child.on('exit', (c) => r(c ?? -1)));
    expect(code, stderr).toBe(130);
    const leftovers = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).split('\n').filter((l) => l.includes(runId));
    expect(leftovers).toEqual([]);
    const { readdirSync } = await import('node:fs');
    expect(readdirSync(tmpdir()).filter((f) => f.includes(runId))).toEqual([]);
  }, 60_000);
});
