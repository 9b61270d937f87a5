// A real Prometheus scraping synthetic fleet data with known answers, for the dashboard and series-capture tests.
// - the platform side is the reference platform's own metric registry (src/platform/metrics.ts), fed with
//   synthetic activity: the real names, types, buckets and labels;
// - the engine side is a TEST DOUBLE of the engine's /metrics (src/engine is being written): a prom-client registry
//   built from the engine's catalogue (METRICS, promName(), LATENCY_BUCKETS_S), every series labelled run_id and
//   at 0 from the first scrape, plus prom-client's default process metrics — what the engine exposes.
// Every scrape advances the activity by one fixed "tick", so the rates are per scrape and the latency
// distributions are exact fractions whatever the scrape timing (the answers below hold for any window).
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { LATENCY_BUCKETS_S } from '../../src/engine/stats.js';
import { METRICS, promName } from '../../src/engine/catalogue.js';
import { createMetrics } from '../../src/platform/metrics.js';
import { startPrometheus, type RunningPrometheus } from '../../src/stack/prometheus.js';

/** What one tick of the synthetic engine does, and the answers that follow from it. */
export const TICK = {
  recordsSent: 20,
  /** per tick: 18 ACKs in (0.025, 0.05] s and 2 in (0.25, 0.5] s → p95 = 0.25 + 0.25 × (19 − 18) / 2 */
  ackP95: 0.375,
  /** every record 1.5 s old when ACKed: all in (1, 2] → p95 = 1 + 0.95 */
  recordP95: 1.95,
  /** 5 API requests, 1 a 5xx */
  apiErrorRatio: 0.2,
  /** WebSocket freshness 0.3 s: all in (0.25, 0.5] → p95 = 0.25 + 0.25 × 0.95 */
  wsFreshnessP95: 0.4875,
};

/** every Prometheus name the engine exposes (histograms with their _bucket/_sum/_count series) */
export const ENGINE_NAMES = new Set(METRICS.flatMap((d) => (d.type === 'histogram' ? ['_bucket', '_sum', '_count'].map((s) => promName(d) + s) : [promName(d)])));

type EngineMetric = Counter<string> | Gauge<string> | Histogram<string>;

/** The engine double: one registry per run id, every catalogue series at 0 from the start. */
export function engineRegistry(runId: string): { registry: Registry; tick(slow?: boolean): void } {
  const registry = new Registry();
  registry.setDefaultLabels({ run_id: runId });
  collectDefaultMetrics({ register: registry });
  const m = new Map<string, EngineMetric>();
  for (const def of METRICS) {
    const labelNames = Object.keys(def.labels ?? {});
    const base = { name: promName(def), help: def.help, labelNames, registers: [registry] };
    const metric = def.type === 'counter' ? new Counter(base) : def.type === 'gauge' ? new Gauge(base) : new Histogram({ ...base, buckets: LATENCY_BUCKETS_S });
    m.set(def.id, metric);
    for (const [label, values] of Object.entries(def.labels ?? {})) {
      for (const v of values) {
        if (metric instanceof Histogram) metric.zero({ [label]: v });
        else (metric as Counter<string>).inc({ [label]: v }, 0);
      }
    }
  }
  const c = (id: string, n: number, labels: Record<string, string> = {}) => (m.get(id) as Counter<string>).inc(labels, n);
  const g = (id: string, v: number) => (m.get(id) as Gauge<string>).set(v);
  const h = (id: string, seconds: number, times: number) => {
    for (let i = 0; i < times; i++) (m.get(id) as Histogram<string>).observe(seconds);
  };
  let n = 0;
  return {
    registry,
    tick(slow = false) {
      n++;
      c('records_sent', TICK.recordsSent);
      c('records_acked', TICK.recordsSent);
      c('records_resent', n % 3 === 0 ? 1 : 0);
      c('packets_sent', TICK.recordsSent);
      c('packets_acked', TICK.recordsSent);
      c('logins', 1);
      c('reconnects', n % 2);
      c('device_errors', n % 2, { reason: 'ack_timeout' });
      // another run in the same Prometheus: everything slow, so a missing run_id filter shows in the answers
      h('ack_latency', slow ? 5 : 0.03, 18);
      h('ack_latency', slow ? 5 : 0.4, 2);
      h('record_latency', slow ? 20 : 1.5, TICK.recordsSent);
      h('login_latency', 0.02, 1);
      h('send_lag', 0.003, TICK.recordsSent);
      c('api_requests', 5);
      c('api_succeeded', 4);
      c('api_errors', 1, { class: '5xx' });
      c('api_throttled', n % 2);
      c('api_dropped', n % 4 === 0 ? 1 : 0);
      h('api_latency', 0.08, 5);
      c('ws_messages', 10);
      c('ws_records_expected', 10);
      c('ws_records_received', 9);
      c('ws_records_missed', 1);
      h('ws_freshness', 0.3, 10);
      g('ws_clients_connected', 2);
      g('devices_connected', 20);
      g('devices_planned', 20);
      g('records_buffered', 3);
      g('event_loop_delay_p99', 0.004);
    },
  };
}

/** The reference platform's registry with synthetic activity (no sockets, no database). */
export function platformRegistry(): { registry: Registry; tick(): void } {
  const p = createMetrics();
  p.setPoolStats(() => ({ totalCount: 4, idleCount: 2, waitingCount: 1 }));
  p.dbUp.set(1);
  p.tcpPaused.set(0);
  return {
    registry: p.registry,
    tick() {
      p.tcpConnectionsActive.set(20);
      p.recordsReceived.inc(20);
      p.recordsInserted.inc(20);
      for (let i = 0; i < 20; i++) p.tcpAckDuration.observe(0.01);
      for (let i = 0; i < 20; i++) p.ingestLag.observe(0.3);
      for (let i = 0; i < 2; i++) {
        p.dbBatchInsertDuration.observe(0.004);
        p.dbBatchSize.observe(10);
      }
      p.writerQueuedRecords.set(5);
      p.httpRequests.inc({ method: 'GET', route: '/v1/vehicles', status: '200' }, 4);
      p.httpRequests.inc({ method: 'GET', route: '/v1/vehicles', status: '500' }, 1);
      for (let i = 0; i < 5; i++) p.httpDuration.observe({ method: 'GET', route: '/v1/vehicles' }, 0.05);
      p.wsActive.set(2);
      p.wsMessages.inc(10);
    },
  };
}

export interface SyntheticFleet {
  prometheus: RunningPrometheus;
  runId: string;
  /** unix seconds of the first and last scrape of this run's engine */
  start: number;
  end: number;
  stop(): Promise<void>;
}

async function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      resolve(typeof a === 'object' && a ? a.port : 0);
    });
  });
}

/**
 * Serves /platform, /engine (this run) and /engine-other (another run) on 127.0.0.1, starts Prometheus scraping
 * them every second, and returns once this run's engine has been scraped `scrapes` times (bounded by time).
 */
export async function startSyntheticFleet(o: { runId: string; scrapes: number; timeoutMs?: number }): Promise<SyntheticFleet> {
  const platform = platformRegistry();
  const engine = engineRegistry(o.runId);
  const other = engineRegistry(`${o.runId}-other`);
  const seen: number[] = [];
  const server = createServer((req, res) => {
    const route = { '/platform': () => platform.tick(), '/engine': () => engine.tick(), '/engine-other': () => other.tick(true) }[req.url ?? ''];
    const reg = { '/platform': platform.registry, '/engine': engine.registry, '/engine-other': other.registry }[req.url ?? ''];
    if (!route || !reg) {
      res.writeHead(404).end();
      return;
    }
    route();
    if (req.url === '/engine') seen.push(Date.now() / 1000);
    reg.metrics().then(
      (text) => res.writeHead(200, { 'content-type': reg.contentType }).end(text),
      (e: unknown) => res.writeHead(500).end(String(e)),
    );
  });
  const port = await listen(server);
  const address = `127.0.0.1:${port}`;
  let prometheus: RunningPrometheus | undefined;
  try {
    prometheus = await startPrometheus({
      label: 'synthetic',
      scrapeIntervalSec: 1,
      scrapeTargets: [
        { job: 'fleet-platform', address, metricsPath: '/platform' },
        { job: 'fleetload-engine', address, metricsPath: '/engine' },
        { job: 'fleetload-engine-other-run', address, metricsPath: '/engine-other' },
      ],
    });
    const deadline = Date.now() + (o.timeoutMs ?? 60_000);
    while (seen.length < o.scrapes) {
      if (Date.now() > deadline) throw new Error(`Prometheus scraped the synthetic engine ${seen.length} times in ${(o.timeoutMs ?? 60_000) / 1000} s (wanted ${o.scrapes})`);
      await new Promise((r) => setTimeout(r, 200));
    }
    // one more scrape interval so the last samples are queryable
    await new Promise((r) => setTimeout(r, 1500));
  } catch (e) {
    await prometheus?.stop();
    server.close();
    throw e;
  }
  const running = prometheus;
  return {
    prometheus: running,
    runId: o.runId,
    start: Math.floor(seen[0]),
    end: Math.ceil(seen[seen.length - 1]),
    async stop() {
      await running.stop();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
