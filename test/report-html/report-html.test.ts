// The HTML report of a real short stepped engine run, opened in headless Chromium: every chart with data renders,
// no console errors, no network requests; a screenshot is kept under .cache/artifacts/. Then the stack is
// stopped and the report rebuilt from the run folder alone must give identical numbers.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeHtmlReports, type WrittenOutputs } from '../../src/report/html/index.js';
import { readSeries } from '../../src/report/series.js';
import { repoRoot } from '../../src/core/repo-root.js';
import { steppedRun, type SteppedRun } from './stepped-run.js';
import { paintedPixels } from '../helpers/browser.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(repoRoot(), '.cache', 'artifacts');
// Missing pieces fail loudly instead of skipping: a skipped browser test would hide a missing install step.
if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run \`npx fleetload setup --test\` (apt-get install chromium)`);

describe('HTML report of a real stepped run', () => {
  let run: SteppedRun | undefined;
  let out: WrittenOutputs;

  beforeAll(async () => {
    run = await steppedRun({ runId: `htmltest-${Date.now().toString(36)}`, steps: [4, 8, 12, 16], stepSec: 8 });
    out = writeHtmlReports(run.runDir, { plannedDevices: 10 });
  }, 240_000);

  afterAll(async () => {
    await run?.stop();
  });

  it('the engine really stepped: one stage per step, every device in, every record ACKed and stored', () => {
    const s = run!.engine.summary;
    expect(s.stages.map((x) => [x.name, x.devices])).toEqual([['step-1', 4], ['step-2', 8], ['step-3', 12], ['step-4', 16]]);
    expect(run!.manifest.stages.map((x) => x.devices)).toEqual([4, 8, 12, 16]);
    expect(s.devices).toEqual({ planned: 16, connectedPeak: 16 });
    expect(s.logins).toBe(16);
    expect(s.records.acked).toBe(s.records.sent);
    const report = JSON.parse(readFileSync(join(run!.runDir, 'report.json'), 'utf8')) as { objectives: Array<{ id: string; value: number | null }> };
    const value = (id: string) => report.objectives.find((o) => o.id === id)?.value;
    expect(value('records_missing')).toBe(0);
    expect(value('records_stored')).toBe(s.records.acked);
  });

  it('stores the time series it charts, with the PromQL used', () => {
    const s = readSeries(run!.runDir)!;
    expect(s.stepSeconds).toBeGreaterThan(0);
    const byId = Object.fromEntries(s.queries.map((q) => [q.id, q]));
    for (const id of ['engine_records_sent', 'engine_records_acked', 'engine_ack_latency', 'engine_devices_connected', 'platform_inserted', 'ack_duration', 'batch_duration', 'tcp_connections']) {
      expect(byId[id]?.status, `${id}: ${byId[id]?.query} ${byId[id]?.error ?? ''}`).toBe('ok');
      expect(byId[id].query).toContain(id.startsWith('engine_') ? `run_id="${run!.runId}"` : 'job="fleet-platform"');
    }
    expect(existsSync(join(run!.runDir, 'db-stats.json'))).toBe(true);
  });

  it('analyses capacity per step', () => {
    const c = out.capacity;
    expect(c.stepped).toBe(true);
    expect(c.steps.map((s) => s.metrics.devices)).toEqual([4, 8, 12, 16]);
    // one record per device per second while the engine sends; a stage starts when the engine starts its devices and
    // the stack waits for Prometheus's first scrape, so the steady rate is near devices/s (1 s scrapes blur it a little)
    const rates = c.steps.map((s) => s.metrics.storedRate as number);
    for (const [i, s] of c.steps.entries()) {
      expect(rates[i]).toBeGreaterThan(s.metrics.devices * 0.5);
      expect(rates[i]).toBeLessThan(s.metrics.devices * 1.4);
    }
    expect(rates[3]).toBeGreaterThan(rates[0]);
    // four device counts (the USL fit needs at least four); 16 devices on loopback stay in the linear region, where
    // a USL fit is unconstrained: the analysis says so rather than print coefficients the data cannot support
    if (c.usl === undefined) expect(c.uslSkipped).toMatch(/past the linear region/);
    else expect(c.usl.points).toBe(4);
    // the reference row (ids, coordinates, io jsonb) plus two indexes: a plausible size per record
    expect(c.growth?.bytesPerRow).toBeGreaterThan(80);
    expect(c.growth?.bytesPerRow).toBeLessThan(2000);
    expect(c.headroom?.plannedDevices).toBe(10);
  });

  it('renders every chart in headless Chromium without errors or network requests', async () => {
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const errors: string[] = [];
      const requests: string[] = [];
      const fileUrl = pathToFileURL(out.html).href;
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('request', (r) => {
        if (r.url() !== fileUrl) requests.push(r.url());
      });
      await page.goto(fileUrl);
      await page.waitForSelector('body[data-charts-ready="true"]', { timeout: 10_000 });
      const status = (await page.evaluate('window.__fleetloadCharts')) as { rendered: string[]; empty: string[]; failed: string[] };
      expect(errors).toEqual([]);
      expect(requests).toEqual([]);
      expect(status.failed).toEqual([]);
      // the device spine and the capacity charts must have data in this run
      for (const id of ['devices', 'records', 'ack-latency', 'batch', 'ingest-lag', 'process', 'eventloop', 'cap-latency', 'cap-throughput']) {
        expect(status.rendered, `chart ${id} (empty: ${status.empty.join(',')})`).toContain(id);
      }
      // every chart box is either drawn with a canvas or says why it has no data
      const boxes = await page.$$eval('[data-chart]', (els) =>
        els.map((e) => ({ id: e.getAttribute('data-chart'), state: e.getAttribute('data-state'), canvas: !!e.querySelector('canvas'), text: e.textContent ?? '' })),
      );
      for (const b of boxes) {
        if (b.state === 'rendered') expect(b.canvas, b.id ?? '').toBe(true);
        else {
          expect(b.state, b.id ?? '').toBe('no-data');
          expect(b.text).toMatch(/No data in this run/);
        }
      }
      // a drawn canvas has non-blank pixels
      const painted = await paintedPixels(page, 'records');
      expect(painted).toBeGreaterThan(1000);
      expect(await page.textContent('#verdict')).toBeTruthy();
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, 'report-html.png'), fullPage: true });
      expect(existsSync(join(ARTIFACTS, 'report-html.png'))).toBe(true);
    } finally {
      await browser.close();
    }
  }, 60_000);

  it('rebuilds identical numbers from the run folder with Prometheus and PostgreSQL stopped', async () => {
    const before = readFileSync(out.capacityJson, 'utf8');
    const htmlBefore = readFileSync(out.html, 'utf8');
    await run!.stop();
    const res = await fetch(`${run!.stack.prometheus.url}/-/ready`).then(
      () => 'up',
      () => 'down',
    );
    expect(res).toBe('down');
    const again = writeHtmlReports(run!.runDir, { plannedDevices: 10 });
    expect(readFileSync(again.capacityJson, 'utf8')).toBe(before);
    const strip = (h: string) => h.replace(/report generated<\/th><td>[^<]*/, '');
    expect(strip(readFileSync(again.html, 'utf8'))).toBe(strip(htmlBefore));
    run = undefined;
  }, 60_000);
});
