// The engine's Prometheus endpoint (prom-client): every catalogue metric as fleetload_*, labelled with the run id
// (and the shard), from the sum of the threads' latest snapshots. Prometheus scrapes it like it scrapes the platform;
// nothing is pushed. Series the catalogue lists (and every label value it names) exist at 0 from the first scrape,
// so a counter's first increments are never lost to increase() and a renamed metric is missing, not 0.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Registry, type Metric } from 'prom-client';
import { badInput } from '../core/errors.js';
import { METRICS, promName, type MetricDef } from './catalogue.js';
import { LATENCY_BUCKETS_S, parseSeriesKey, seriesKey, type Labels, type StatsSnapshot } from './stats.js';

interface Sample {
  value: number;
  labels: Labels;
  metricName?: string;
}

/** Series keys that exist from the start: unlabelled metrics, and each label value the catalogue (or caller) names. */
export function initialSeries(extra: Array<{ id: string; labels: Labels }> = []): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const m of METRICS) {
    const keys: string[] = [];
    const entries = Object.entries(m.labels ?? {});
    if (entries.length === 0 && m.id !== 'event_loop_delay_p99') keys.push(m.id);
    for (const [label, values] of entries) for (const v of values) keys.push(seriesKey(m.id, { [label]: v }));
    out.set(m.id, keys);
  }
  for (const e of extra) out.get(e.id)?.push(seriesKey(e.id, e.labels));
  return out;
}

function samplesOf(def: MetricDef, snap: StatsSnapshot, initial: string[]): Sample[] {
  const source = def.type === 'counter' ? snap.counters : snap.gauges;
  const keys = new Set(initial);
  const table = def.type === 'histogram' ? snap.histograms : source;
  for (const k of Object.keys(table)) if (parseSeriesKey(k).name === def.id) keys.add(k);
  const out: Sample[] = [];
  for (const k of [...keys].sort()) {
    const { labels } = parseSeriesKey(k);
    if (def.type !== 'histogram') {
      out.push({ value: source[k] ?? 0, labels });
      continue;
    }
    const name = promName(def);
    const h = snap.histograms[k];
    LATENCY_BUCKETS_S.forEach((le, i) => out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: String(le) }, value: h?.buckets[i] ?? 0 }));
    out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: h?.count ?? 0 });
    out.push({ metricName: `${name}_sum`, labels, value: h?.sumSeconds ?? 0 });
    out.push({ metricName: `${name}_count`, labels, value: h?.count ?? 0 });
  }
  return out;
}

/** A registry whose fleetload_* metrics read `snapshot()` at scrape time; `labels` go on every series. */
export function engineRegistry(snapshot: () => StatsSnapshot, labels: Labels, extra: Array<{ id: string; labels: Labels }> = []): Registry {
  const registry = new Registry();
  registry.setDefaultLabels(labels);
  const initial = initialSeries(extra);
  for (const def of METRICS) {
    const name = promName(def);
    const metric = {
      name,
      help: def.help,
      type: def.type,
      aggregator: 'sum',
      get: async () => ({ name, help: def.help, type: def.type, aggregator: 'sum', values: samplesOf(def, snapshot(), initial.get(def.id) ?? []) }),
      reset: () => {},
    };
    registry.registerMetric(metric as unknown as Metric);
  }
  // the engine process's own CPU and memory, for the generator chart next to the platform's
  collectDefaultMetrics({ register: registry });
  return registry;
}

export interface MetricsServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** A bound /metrics port whose registry comes later: bind first (no port race), say what to scrape, then serve. */
export interface MetricsListener extends MetricsServer {
  serve(registry: Registry): void;
}

/** Serves /metrics on host:port (0 = a free port). A port in use is bad input: nothing has been sent yet. */
export async function serveMetrics(registry: Registry, host: string, port: number): Promise<MetricsServer> {
  const l = await listenMetrics(host, port);
  l.serve(registry);
  return l;
}

/** Binds host:port now; until serve() is called, /metrics answers 503 (the run has not started). */
export async function listenMetrics(host: string, port: number): Promise<MetricsListener> {
  let registry: Registry | undefined;
  const server: Server = createServer((req, res) => {
    if (req.url !== '/metrics' && !req.url?.startsWith('/metrics?')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: the engine serves /metrics only\n');
      return;
    }
    if (!registry) {
      res.writeHead(503, { 'content-type': 'text/plain' }).end('the engine has not started yet\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry!.contentType }).end(text),
      (e: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(String(e)),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(e.code === 'EADDRINUSE' || e.code === 'EADDRNOTAVAIL' || e.code === 'EACCES' ? badInput(`--metrics-port: cannot listen on ${host}:${port} (${e.code})`, e) : e),
    );
    server.listen(port, host, () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${actual}/metrics`,
    port: actual,
    serve: (r) => {
      registry = r;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
