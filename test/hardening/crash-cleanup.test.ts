// A crash of `fleetload platform` on its embedded PostgreSQL leaves nothing behind: no PostgreSQL process and no
// temporary folder. The crash is real: a preloaded module (test-only, outside the product) throws an uncaught
// exception inside the platform process on SIGUSR2, after it reported ready.
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliEntry, eventually } from '../platform/helpers.js';

const CRASH_ON_SIGUSR2 = `data:text/javascript,process.on('SIGUSR2',()=>setImmediate(()=>{throw new Error('injected crash')}))`;

/** pids whose command line mentions `needle` (the embedded PostgreSQL runs with its data folder under our TMPDIR). */
function processesMentioning(needle: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(needle)) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

describe('platform crash on the embedded stack', () => {
  let entry: string;
  let tmp: string;
  beforeAll(async () => {
    entry = await cliEntry();
    tmp = mkdtempSync(join(tmpdir(), 'fleetload-crash-'));
    chmodSync(tmp, 0o755); // PostgreSQL runs as its own user when we are root
  }, 60_000);
  afterAll(() => {
    for (const pid of processesMentioning(tmp)) process.kill(pid, 'SIGKILL');
    rmSync(tmp, { recursive: true, force: true });
  });

  it('an uncaught exception stops the embedded PostgreSQL and removes its folder before exiting 1', async () => {
    const child = spawn(process.execPath, ['--import', CRASH_ON_SIGUSR2, entry, 'platform', '--tcp-port', '0', '--http-port', '0'], {
      env: { ...process.env, PG_URL: '', PG_URL_FILE: '', TMPDIR: tmp },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    let gone = false;
    void exited.then(() => (gone = true));
    await eventually(() => {
      if (gone) throw new Error('the platform exited before ready');
      return stdout.includes('"ready"');
    }, 60_000).catch((e: unknown) => {
      child.kill('SIGKILL');
      throw new Error(`no ready line: ${String(e)}\n${stderr.slice(-2000)}`);
    });
    expect(processesMentioning(tmp).length, 'the embedded PostgreSQL runs from the temporary folder').toBeGreaterThan(0);
    expect(readdirSync(tmp).length).toBeGreaterThan(0);

    child.kill('SIGUSR2');
    expect(await exited).toBe(1);
    expect(stderr).toContain('injected crash');
    await eventually(() => processesMentioning(tmp).length === 0, 5000);
    expect(readdirSync(tmp), 'temporary folders left behind').toEqual([]);
  }, 90_000);

  it('with --exit-with-parent (as the embedded stack starts it), a SIGKILLed parent leaves no platform and no PostgreSQL', async () => {
    // a parent that starts the platform, says its pid, and is then killed without any chance to clean up
    const parentScript = `
      const { spawn } = require('node:child_process');
      const c = spawn(process.execPath, [${JSON.stringify(entry)}, 'platform', '--tcp-port', '0', '--http-port', '0', '--exit-with-parent'], { stdio: ['ignore', 'pipe', 'inherit'] });
      c.stdout.on('data', (d) => { if (String(d).includes('"ready"')) console.log('platform ' + c.pid); });
      setInterval(() => {}, 1000);`;
    const parent = spawn(process.execPath, ['-e', parentScript], { env: { ...process.env, PG_URL: '', PG_URL_FILE: '', TMPDIR: tmp }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    parent.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await eventually(() => /platform \d+/.test(out), 60_000);
    const platformPid = Number(/platform (\d+)/.exec(out)![1]);
    expect(processesMentioning(tmp).length).toBeGreaterThan(0);
    parent.kill('SIGKILL');
    // the platform notices within a second that it was re-parented, shuts down and stops its PostgreSQL
    await eventually(() => {
      try {
        process.kill(platformPid, 0);
        return false;
      } catch {
        return true;
      }
    }, 20_000);
    await eventually(() => processesMentioning(tmp).length === 0, 10_000);
  }, 90_000);
});
