// series.json from a real Prometheus that scraped synthetic fleet data with known answers (the platform's real
// registry and a stand-in for the engine's /metrics built from its catalogue): every query the report stores
// returns data, the engine's are selected by run_id, the charts and the whole-run figures give the known answers,
// and the report is rebuilt from the folder alone once Prometheus is gone.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeManifest, type RunManifest } from '../../src/core/manifest.js';
import { counterIncrease, histogramIncrease, histogramQuantile } from '../../src/report/capacity/prommath.js';
import { timeCharts, type ChartSpec } from '../../src/report/html/charts.js';
import { writeHtmlReports } from '../../src/report/html/index.js';
import { ENGINE_JOB, SERIES_DEFS, fetchSeries, findQuery, generatorQueries, writeSeries, type SeriesFile } from '../../src/report/series.js';
import { ENGINE_NAMES, TICK, startSyntheticFleet, type SyntheticFleet } from '../dashboards/synthetic-exporters.js';

const lastValue = (c: ChartSpec, label: string): number | undefined => {
  const l = c.lines.find((x) => x.label === label);
  const vs = (l?.values ?? []).filter((v): v is number => v !== null && Number.isFinite(v));
  return vs[vs.length - 1];
};

describe('series definitions', () => {
  it('read only names the engine catalogue defines, always selected by run_id; nothing of k6 is left', () => {
    const used = SERIES_DEFS.flatMap((d) => [...d.query.matchAll(/\b(fleetload_\w+)\{([^}]*)\}/g)].map((m) => ({ id: d.id, name: m[1], sel: m[2] })));
    expect(used.length).toBeGreaterThan(12);
    for (const u of used) {
      expect(ENGINE_NAMES.has(u.name), `${u.id}: ${u.name}`).toBe(true);
      expect(u.sel).toContain('run_id="$run_id"');
    }
    expect(JSON.stringify(SERIES_DEFS)).not.toMatch(/k6|testid/i);
    expect(JSON.stringify(generatorQueries([[1, 1, 1]]))).not.toMatch(/k6/i);
  });
});

describe('series capture from a real Prometheus with synthetic fleet data', () => {
  let fleet: SyntheticFleet | undefined;
  let file: SeriesFile;
  let dir: string;
  let manifest: RunManifest;

  beforeAll(async () => {
    fleet = await startSyntheticFleet({ runId: `series-${Date.now().toString(36)}`, scrapes: 12 });
    const start = new Date(fleet.start * 1000);
    const end = new Date(fleet.end * 1000);
    file = await fetchSeries({ prometheusUrl: fleet.prometheus.url, runId: fleet.runId, start, end, stepSeconds: 1 });
    dir = mkdtempSync(join(tmpdir(), 'fleetload-series-'));
    manifest = {
      runId: fleet.runId, profile: 'synthetic', seed: 1, startedAt: start.toISOString(), endedAt: end.toISOString(),
      stages: [{ name: 'steady', start: start.toISOString(), end: end.toISOString(), devices: 20 }], devices: 20, imeis: [],
      target: { tcp: '127.0.0.1:1', embedded: true }, prometheus: { url: fleet.prometheus.url }, versions: { fleetload: 'test' },
      engine: { exitCode: 0, summaryFile: 'engine-summary.json' },
    };
    writeManifest(dir, manifest);
    writeSeries(dir, file);
  }, 120_000);
  afterAll(async () => {
    await fleet?.stop();
  });

  it('every stored query returns data; the engine ones name the run', () => {
    const bad = file.queries.filter((q) => q.status !== 'ok').map((q) => `${q.id}: ${q.status} ${q.error ?? ''} ${q.query}`);
    expect(bad).toEqual([]);
    expect(findQuery(file, 'engine_records_sent')?.query).toBe(`sum (fleetload_records_sent_total{run_id="${fleet!.runId}"})`);
    // the platform's and this run's engine process, not the other run's engine
    expect(findQuery(file, 'process_cpu')!.series.map((s) => s.labels.job).sort()).toEqual(['fleet-platform', ENGINE_JOB]);
  });

  it('whole-window figures: ACK p95 of this run only, counters as exact integers from the window edges', () => {
    const t0 = Date.parse(file.start) / 1000;
    const t1 = Date.parse(file.end) / 1000;
    // the other run's ACKs all took 5 s: mixing it in would move the p95 to 5
    expect(histogramQuantile(0.95, histogramIncrease(findQuery(file, 'engine_ack_latency')!.series, t0, t1))).toBeCloseTo(TICK.ackP95, 9);
    expect(histogramQuantile(0.95, histogramIncrease(findQuery(file, 'engine_record_latency')!.series, t0, t1))).toBeCloseTo(TICK.recordP95, 9);
    const sent = counterIncrease(findQuery(file, 'engine_records_sent')!.series[0].points, t0, t1, true)!;
    expect(Number.isInteger(sent)).toBe(true);
    expect(sent % TICK.recordsSent).toBe(0);
    expect(sent).toBeGreaterThanOrEqual(10 * TICK.recordsSent);
  });

  it('the charts have data and show the known answers, labelled engine/client/platform', () => {
    const charts = timeCharts(file, manifest.stages);
    expect(charts.filter((c) => c.empty).map((c) => `${c.id}: ${c.empty}`)).toEqual([]);
    const byId = Object.fromEntries(charts.map((c) => [c.id, c]));
    expect(lastValue(byId['ack-latency'], 'ACK p95 (engine)')).toBeCloseTo(TICK.ackP95 * 1000, 6);
    expect(lastValue(byId['ack-latency'], 'record delivery p95 (engine)')).toBeCloseTo(TICK.recordP95 * 1000, 6);
    expect(lastValue(byId['api'], 'error ratio (client)')).toBeCloseTo(TICK.apiErrorRatio, 6);
    expect(lastValue(byId['websocket'], 'freshness p95 (client)')).toBeCloseTo(TICK.wsFreshnessP95 * 1000, 6);
    expect(lastValue(byId['devices'], 'connected (engine)')).toBe(20);
    expect(byId['process'].lines.map((l) => l.label)).toEqual(expect.arrayContaining([`${ENGINE_JOB} CPU`, `${ENGINE_JOB} RSS`, 'fleet-platform CPU']));
    expect(lastValue(byId['eventloop'], 'event-loop delay p99, busiest thread (engine)')).toBeCloseTo(4, 6);
    expect(JSON.stringify(charts.map((c) => [c.title, c.note, c.lines.map((l) => l.label)]))).not.toMatch(/k6/i);
  });

  it('/proc samples of the engine are drawn only where Prometheus has no engine process series', () => {
    const withSamples = { ...file, queries: [...file.queries, ...generatorQueries([[fleet!.start, 1, 5e7], [fleet!.end, 2, 6e7]])] };
    const labels = timeCharts(withSamples, manifest.stages).find((c) => c.id === 'process')!.lines.map((l) => l.label);
    expect(labels.filter((l) => l === `${ENGINE_JOB} CPU`)).toHaveLength(1);
    const noScrape = { ...withSamples, queries: withSamples.queries.map((q) => (q.id === 'process_cpu' || q.id === 'process_rss' ? { ...q, series: q.series.filter((s) => s.labels.job !== ENGINE_JOB) } : q)) };
    const proc = timeCharts(noScrape, manifest.stages).find((c) => c.id === 'process')!;
    expect(proc.lines.find((l) => l.label === `${ENGINE_JOB} RSS`)!.values.some((v) => v !== null)).toBe(true);
  });

  it('a chart whose queries returned nothing says so instead of drawing zeros', () => {
    const noWs = { ...file, queries: file.queries.map((q) => (['engine_ws_freshness', 'ws_connections', 'engine_ws_clients'].includes(q.id) ? { ...q, status: 'empty' as const, series: [] } : q)) };
    const ws = timeCharts(noWs, manifest.stages).find((c) => c.id === 'websocket')!;
    expect(ws.empty).toMatch(/^No data in this run: .*fleetload_ws_freshness_seconds_bucket/);
  });

  it('rebuilds the report from the run folder alone once Prometheus is stopped', async () => {
    await fleet!.stop();
    fleet = undefined;
    const out = writeHtmlReports(dir);
    const html = readFileSync(out.html, 'utf8');
    const data = JSON.parse(/<script id="fleetload-data" type="application\/json">(.*?)<\/script>/s.exec(html)![1]) as { charts: ChartSpec[] };
    expect(data.charts.filter((c) => c.empty)).toEqual([]);
    expect(lastValue(data.charts.find((c) => c.id === 'ack-latency')!, 'ACK p95 (engine)')).toBeCloseTo(TICK.ackP95 * 1000, 6);
    expect(html).toContain('engine exit code');
    expect(html).toMatch(/ACK latency histogram \(engine/);
  }, 30_000);
});
