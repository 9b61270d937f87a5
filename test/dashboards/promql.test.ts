// Every PromQL expression of the Grafana dashboard parses and returns data against a real Prometheus that scraped
// synthetic fleet data with known answers (test/dashboards/synthetic-exporters.ts: the platform's real metric
// registry and a stand-in for the engine's /metrics built from the engine's catalogue), and the headline queries
// give those answers for the selected run_id only. Every fleetload_* name the dashboard uses is in the catalogue.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../src/core/repo-root.js';
import { ENGINE_NAMES, TICK, startSyntheticFleet, type SyntheticFleet } from './synthetic-exporters.js';

interface Panel {
  title: string;
  type: string;
  targets?: Array<{ expr: string; refId: string; legendFormat?: string }>;
}
const dashboard = JSON.parse(readFileSync(join(repoRoot(), 'dashboards', 'fleetload.json'), 'utf8')) as {
  title: string;
  panels: Panel[];
  templating: { list: Array<{ name: string; definition?: string }> };
};
const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, refId: t.refId, expr: t.expr, legend: t.legendFormat ?? '' })));

describe('Grafana dashboard JSON', () => {
  it('has panels with queries, unique ids and the run_id/instance variables, and no k6 left', () => {
    expect(exprs.length).toBeGreaterThan(40);
    const ids = dashboard.panels.map((p) => (p as unknown as { id: number }).id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(dashboard.templating.list.map((v) => v.name)).toEqual(expect.arrayContaining(['run_id', 'instance', 'datasource']));
    const text = readFileSync(join(repoRoot(), 'dashboards', 'fleetload.json'), 'utf8');
    expect(text).not.toMatch(/k6|testid/i);
  });

  it('uses only metric names the engine catalogue defines, always selected by run_id', () => {
    const used = exprs.flatMap((e) => [...e.expr.matchAll(/\b(fleetload_\w+)\{([^}]*)\}/g)].map((m) => ({ name: m[1], sel: m[2], panel: e.panel })));
    expect(used.length).toBeGreaterThan(20);
    for (const u of used) {
      expect(ENGINE_NAMES.has(u.name), `${u.panel}: ${u.name} is not in src/engine/catalogue.ts`).toBe(true);
      expect(u.sel, `${u.panel}: ${u.name}`).toContain('run_id=~"$run_id"');
    }
  });
});

describe('dashboard PromQL against a real Prometheus with synthetic fleet data', () => {
  let fleet: SyntheticFleet | undefined;
  beforeAll(async () => {
    fleet = await startSyntheticFleet({ runId: `dash-${Date.now().toString(36)}`, scrapes: 12 });
  }, 120_000);
  afterAll(async () => {
    await fleet?.stop();
  });

  const expand = (e: string, runId: string) =>
    e.replaceAll('$run_id', runId).replaceAll('$instance', '.*').replaceAll('$__rate_interval', '5s').replaceAll('$__interval', '1s');

  async function range(expr: string): Promise<{ status: string; error?: string; result: Array<{ metric: Record<string, string>; values: Array<[number, string]> }> }> {
    const f = fleet!;
    const body = new URLSearchParams({ query: expand(expr, f.runId), start: String(f.start), end: String(f.end + 1), step: '1' });
    const res = await fetch(`${f.prometheus.url}/api/v1/query_range`, { method: 'POST', body });
    const json = (await res.json()) as { status: string; error?: string; data?: { result: Array<{ metric: Record<string, string>; values: Array<[number, string]> }> } };
    return { status: json.status, error: json.error, result: json.data?.result ?? [] };
  }
  const finite = (r: Awaited<ReturnType<typeof range>>) => r.result.flatMap((s) => s.values.map(([, v]) => Number(v))).filter(Number.isFinite);

  it('every expression parses and returns a number (no NaN-only or empty panel)', async () => {
    const problems: string[] = [];
    const all = [...exprs, ...dashboard.templating.list.filter((v) => v.definition).map((v) => ({ panel: `variable ${v.name}`, refId: '-', expr: (v.definition as string).replace(/^label_values\((.*), *\w+\)$/, '$1') }))];
    for (const e of all) {
      const r = await range(e.expr);
      if (r.status !== 'success') problems.push(`${e.panel}/${e.refId}: does not parse: ${r.error}`);
      else if (finite(r).length === 0) problems.push(`${e.panel}/${e.refId}: no data: ${e.expr}`);
    }
    expect(problems).toEqual([]);
  }, 60_000);

  it('the run_id variable lists the runs in Prometheus', async () => {
    const res = await fetch(`${fleet!.prometheus.url}/api/v1/label/run_id/values`);
    const body = (await res.json()) as { data: string[] };
    expect(body.data).toEqual(expect.arrayContaining([fleet!.runId, `${fleet!.runId}-other`]));
  });

  it('the engine latency panels give the known answers of the selected run only', async () => {
    const answer = async (panel: RegExp, legend: string) => {
      const e = exprs.find((x) => panel.test(x.panel) && x.legend === legend);
      expect(e, `${panel} / ${legend}`).toBeDefined();
      const v = finite(await range(e!.expr));
      expect(v.length).toBeGreaterThan(3);
      return v[v.length - 1];
    };
    // the other run's ACKs all take 5 s: without the run_id filter these would not hold
    expect(await answer(/^ACK latency \(engine/, 'p95')).toBeCloseTo(TICK.ackP95, 9);
    expect(await answer(/^ACK latency \(engine/, 'record delivery p95')).toBeCloseTo(TICK.recordP95, 9);
    expect(await answer(/^API latency and error ratio/, 'error ratio')).toBeCloseTo(TICK.apiErrorRatio, 9);
    expect(await answer(/^WebSocket freshness/, 'p95')).toBeCloseTo(TICK.wsFreshnessP95, 9);
    expect(await answer(/^Devices$/, 'connected (engine)')).toBe(20);
    // the engine's process, not the platform's: one series, labelled with the engine's job
    const cpu = exprs.find((x) => x.panel === 'Engine CPU')!;
    const r = await range(cpu.expr.replace('sum by (instance)', 'sum by (job)'));
    expect(r.result.map((s) => s.metric.job)).toEqual(['fleetload-engine']);
  }, 30_000);
});
