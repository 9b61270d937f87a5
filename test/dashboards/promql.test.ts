// Every PromQL expression of the Grafana dashboard parses and (unless empty by design) returns data against
// a real Prometheus after a real run (embedded stack + k6).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../src/stack/repo-root.js';
import { k6Available, steppedRun, type SteppedRun } from '../report-html/stepped-run.js';

interface Panel {
  title: string;
  type: string;
  targets?: Array<{ expr: string; refId: string }>;
}
const dashboard = JSON.parse(readFileSync(join(repoRoot(), 'dashboards', 'fleetload.json'), 'utf8')) as {
  panels: Panel[];
  templating: { list: Array<{ name: string; definition?: string }> };
};
const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, refId: t.refId, expr: t.expr })));
// series that exist only when the run exercises them (see dashboards/README.md)
const EMPTY_BY_DESIGN = /http_request|k6_http_req|ws_freshness|device_errors|records_resent|connected_devices/;

describe('Grafana dashboard JSON', () => {
  it('has panels with queries, unique ids and the testid/instance variables', () => {
    expect(exprs.length).toBeGreaterThan(30);
    const ids = dashboard.panels.map((p) => (p as unknown as { id: number }).id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(dashboard.templating.list.map((v) => v.name)).toEqual(expect.arrayContaining(['testid', 'instance', 'datasource']));
  });
});

if (!k6Available()) throw new Error('the k6 binary is not built: run `npx fleetload setup --test`');

describe('dashboard PromQL against a real Prometheus after a run', () => {
  let run: SteppedRun | undefined;
  beforeAll(async () => {
    run = await steppedRun({ runId: `dashtest-${Date.now().toString(36)}`, steps: [5], stepSec: 8 });
  }, 180_000);
  afterAll(async () => {
    await run?.stop();
  });

  const expand = (e: string, runId: string) =>
    e.replaceAll('$testid', runId).replaceAll('$instance', '.*').replaceAll('$__rate_interval', '5s').replaceAll('$__interval', '1s');

  it('every expression parses and returns data', async () => {
    const start = Math.floor(Date.parse(run!.manifest.startedAt) / 1000);
    const end = Math.ceil(Date.parse(run!.manifest.endedAt) / 1000) + 2;
    const problems: string[] = [];
    const all = [...exprs, ...dashboard.templating.list.filter((v) => v.definition).map((v) => ({ panel: `variable ${v.name}`, refId: '-', expr: (v.definition as string).replace(/^label_values\((.*), *\w+\)$/, '$1') }))];
    for (const e of all) {
      const body = new URLSearchParams({ query: expand(e.expr, run!.runId), start: String(start), end: String(end), step: '1' });
      const res = await fetch(`${run!.stack.prometheus.url}/api/v1/query_range`, { method: 'POST', body });
      const json = (await res.json()) as { status: string; error?: string; data?: { result: Array<{ values: unknown[] }> } };
      if (json.status !== 'success') problems.push(`${e.panel}/${e.refId}: does not parse: ${json.error}`);
      else if (!json.data!.result.some((r) => r.values.length > 0) && !EMPTY_BY_DESIGN.test(e.expr)) problems.push(`${e.panel}/${e.refId}: no data: ${e.expr}`);
    }
    expect(problems).toEqual([]);
  }, 60_000);
});
