// `fleetload run --web 0` as a user runs it, watched in real headless Chromium: the page's figures change while the
// load runs, a reload mid-run redraws the history so far, the end shows the verdict and a working link to report.html,
// and no request leaves the page's origin. The run folder holds only what a run without --web holds. Then bad --web
// values: a taken port and a foreign --web-host are one-line bad input (exit 2) before any load starts.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RUN_FILES } from '../../src/core/run-folder.js';
import { fleetload, ROOT } from '../helpers/cli.js';
import { startTeltonikaServer } from '../scenarios/teltonika-server.js';
import { paintedPixels } from '../helpers/browser.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(ROOT, '.cache', 'artifacts');
if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run \`npx fleetload setup --test\` (apt-get install chromium)`);
if (!existsSync(join(ROOT, 'dist', 'cli.js'))) throw new Error('dist/cli.js is missing: run `node build.mjs` (npm test does)');

const reportsDir = mkdtempSync(join(tmpdir(), 'live-'));
let child: ChildProcess | undefined;

// a failed test leaves the run going: SIGTERM lets fleetload stop its embedded stack (SIGKILL would orphan it)
afterAll(async () => {
  const c = child;
  if (!c || c.exitCode !== null) return;
  const gone = new Promise((r) => c.once('exit', r));
  c.kill('SIGTERM');
  const timer = setTimeout(() => c.kill('SIGKILL'), 30_000);
  await gone;
  clearTimeout(timer);
}, 40_000);

/** Starts `fleetload run … --web 0` and resolves with the live view's URL from its log. */
function startRun(runId: string): Promise<{ url: string; exit: Promise<number>; stderr: () => string }> {
  let err = '';
  const proc = spawn(process.execPath, [join(ROOT, 'dist', 'cli.js'), 'run', '--profile', 'smoke', '--duration', '12s', '--web', '0', '--reports-dir', reportsDir, '--run-id', runId, '--no-keep-evidence'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child = proc;
  proc.stdout.resume();
  const exit = new Promise<number>((r) => proc.on('exit', (code) => r(code ?? -1)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no live view URL within 60 s:\n${err}`)), 60_000);
    proc.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /live view: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1], exit, stderr: () => err });
      }
    });
    void exit.then((code) => reject(new Error(`fleetload exited (${code}) before serving the live view:\n${err}`)));
  });
}

describe('the live view of a real run in Chromium', () => {
  it('updates while the load runs, survives a reload, ends with the verdict and report.html; no request leaves the origin', async () => {
    const runId = `livetest-${Date.now().toString(36)}`;
    const run = await startRun(runId);
    const origin = new URL(run.url).origin;
    const { chromium } = await import('playwright-core');
    const launch = () =>
      chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      });
    // once more if Chromium dies while starting (seen on the two shared cores when other browsers start at once)
    const browser = await launch().catch(() => launch());
    const requests: string[] = [];
    const errors: string[] = [];
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      page.on('request', (r) => requests.push(r.url()));
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(run.url);
      await page.waitForSelector('body[data-live-ready="true"]', { timeout: 10_000 });
      const ticks = async () => Number((await page.getAttribute('body', 'data-ticks')) ?? 0);
      // polled from here: waitForFunction evaluates its predicate with eval(), which the page's CSP rightly forbids
      const waitTicks = async (n: number, timeoutMs: number) => {
        const deadline = Date.now() + timeoutMs;
        while ((await ticks()) < n) {
          if (Date.now() > deadline) throw new Error(`the page saw ${await ticks()} ticks, not ${n}, within ${timeoutMs} ms; page errors: ${errors.join('; ')}\n${run.stderr()}`);
          await new Promise((r) => setTimeout(r, 200));
        }
      };
      const figures = () => page.$$eval('.fig .big, #time, #f-totals', (els) => els.map((e) => e.textContent ?? '').join(' | '));

      // two screenshots a few seconds apart while the load runs: the figures have moved on
      await waitTicks(3, 150_000);
      const firstText = await figures();
      const first = await page.screenshot({ fullPage: true });
      const n = await ticks();
      await waitTicks(n + 3, 20_000);
      const secondText = await figures();
      const second = await page.screenshot({ fullPage: true });
      expect(secondText).not.toBe(firstText);
      expect(Buffer.compare(first, second)).not.toBe(0);
      expect(await page.getAttribute('#phase', 'data-phase')).toBe('load');
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, 'live-view.png'), fullPage: true });
      const status = (await page.evaluate('window.__fleetloadLive')) as { rendered: string[]; points: number };
      expect(status.rendered).toEqual(expect.arrayContaining(['devices', 'records', 'ack-latency', 'generator', 'platform']));
      // a provisional objective judged so far, and one that waits for the end
      expect(await page.textContent('#objectives-body')).toMatch(/ack_latency_p95[\s\S]*provisional/);
      expect(await page.textContent('#objectives-body')).toMatch(/records_missing[\s\S]*at the end/);

      // reload mid-run: the history so far arrives first
      const before = status.points;
      expect(before).toBeGreaterThanOrEqual(5);
      await page.reload();
      await page.waitForSelector('body[data-live-ready="true"]', { timeout: 10_000 });
      const again = (await page.evaluate('window.__fleetloadLive')) as { ticks: number; points: number };
      expect(again.points).toBeGreaterThanOrEqual(before);
      const painted = await paintedPixels(page, 'records');
      expect(painted).toBeGreaterThan(1000);

      // the end: the verdict of report.json and a link to report.html, served read-only
      await page.waitForSelector('#phase[data-verdict]', { timeout: 150_000 });
      const report = JSON.parse(readFileSync(join(reportsDir, runId, 'report.json'), 'utf8')) as { verdict: string };
      expect(await page.getAttribute('#phase', 'data-verdict')).toBe(report.verdict);
      expect(await page.textContent('#phase-text')).toMatch(new RegExp(`^${report.verdict.toUpperCase()} — .* · score`));
      expect(await page.getAttribute('#objectives', 'data-final')).toBe('true');
      await page.screenshot({ path: join(ARTIFACTS, 'live-view-final.png'), fullPage: true });
      const href = await page.getAttribute('#report-link', 'href');
      expect(href).toBe('/report.html');
      await page.click('#report-link');
      await page.waitForSelector('#verdict', { timeout: 10_000 });
      expect(await page.getAttribute('#verdict', 'data-verdict')).toBe(report.verdict);
      expect(page.url()).toBe(`${origin}/report.html`);
    } finally {
      await browser.close();
    }
    expect(errors).toEqual([]);
    expect(requests.length).toBeGreaterThan(5);
    expect(requests.filter((u) => !u.startsWith(`${origin}/`))).toEqual([]);

    // the page gone, the process ends; the run folder holds what any run holds, nothing of the live view
    const code = await run.exit;
    expect([0, 1], run.stderr()).toContain(code);
    const allowed = new Set<string>(Object.values(RUN_FILES));
    expect(readdirSync(join(reportsDir, runId)).filter((f) => !allowed.has(f))).toEqual([]);
  }, 240_000);
});

describe('bad --web values, before any load', () => {
  let blocker: Server | undefined;
  afterAll(async () => {
    await new Promise<void>((r) => (blocker ? blocker.close(() => r()) : r()));
  });

  it('a taken port: one line, exit 2, no stack started', async () => {
    blocker = createServer();
    const port = await new Promise<number>((r) => blocker!.listen(0, '127.0.0.1', () => r((blocker!.address() as { port: number }).port)));
    const res = await fleetload(['run', '--profile', 'smoke', '--duration', '5s', '--web', String(port), '--reports-dir', reportsDir], { timeoutMs: 60_000 });
    expect(res.code).toBe(2);
    expect(res.stderr.trim()).toBe(`fleetload: --web ${port}: 127.0.0.1:${port} is already in use; pick another port (--web 0 = a free one)`);
    expect(res.stderr).not.toMatch(/starting the embedded stack/);
  }, 90_000);

  it('an address that is not this machine\'s: one line, exit 2, no device reaches the target', async () => {
    const server = await startTeltonikaServer();
    try {
      const res = await fleetload(['generate', '--profile', 'smoke', '--tcp', `127.0.0.1:${server.port}`, '--duration', '3s', '--web', '0', '--web-host', '10.9.9.9'], { timeoutMs: 60_000 });
      expect(res.code).toBe(2);
      expect(res.stderr.trim().split('\n')).toHaveLength(1);
      expect(res.stderr).toMatch(/^fleetload: --web-host 10\.9\.9\.9: not an address of this machine/);
      expect(server.logins).toEqual([]);
    } finally {
      await server.close();
    }
  }, 90_000);
});
