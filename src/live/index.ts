// `--web`: a live view of a run in the browser while it runs (issue 15). run.ts and generate.ts open it before any
// load starts (a taken port is bad input, exit 2, then), hand its observer to the engine, and give it the verdict at
// the end. It keeps a bounded history in memory and writes nothing: the run folder's report stays the record.
// Platform figures (stored records/s, batch insert and ingest lag p95, connections) come from Prometheus when the
// run has one (the embedded stack's, or --prometheus-url).
import { cpus } from 'node:os';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { PrometheusEndpoint } from '../core/prometheus-endpoint.js';
import type { EngineTick } from '../engine/engine.js';
import { fleetSteps, type FleetConfig } from '../sim/fleet-config.js';
import { prometheusClient, type PrometheusClient } from '../verify/evidence-prometheus.js';
import type { Report } from '../verify/report-types.js';
import type { SloFile } from '../verify/slo-types.js';
import { counterSum, errorsByReason, FIELDS, loopDelays, MAX_FIELDS, NO_PLATFORM, PointMaker, sampleProcess, type PlatformFigures, type Point } from './figures.js';
import { History } from './history.js';
import { livePageHtml } from './page.js';
import { liveSummary, provisionalObjectives, type LiveRunShape, type ProvisionalObjective } from './provisional.js';
import { parseWebPort, startLiveServer, type LiveServer } from './server.js';
import { VERDICT_TEXT } from '../verify/format.js';

export { parseWebPort, DEFAULT_WEB_PORT } from './server.js';

export interface LiveOptions {
  /** --web's value: true (flag alone) = the default port, else a port (0 = a free one) */
  port: string | number | true;
  /** --web-host; default 127.0.0.1 */
  host?: string;
  runId: string;
  /** what the page's heading names: "run <id> — profile smoke" */
  title: string;
  slo: SloFile;
  log: (line: string) => void;
  /** after the verdict, keep serving an open page (and report.html) this long at most; default 60 s */
  lingerMs?: number;
  historyPoints?: number;
}

/** How `generate` ends (it judges no SLO): "done" or "invalid" and a line saying what ran. */
export interface LoadEnd {
  verdict: 'done' | 'invalid';
  text: string;
}

type Phase = 'starting' | 'load' | 'verifying' | 'done' | 'ended';

interface TickState {
  elapsedS: number;
  totalS: number;
  stage: string;
  point: Point;
  errors: Array<[string, number]>;
  loops: Record<string, number>;
  totals: { sent: number; acked: number; errors: number; apiRequests: number; wsMessages: number };
  objectives: ProvisionalObjective[];
  platformNote: string;
}

const PHASE_TEXT: Record<Phase, string> = {
  starting: 'Starting — the load has not begun yet (the target is being prepared)',
  load: 'Load running',
  verifying: 'Load done — judging the run against the SLO file and writing the reports',
  done: 'Done',
  ended: 'The run ended without a verdict (see the terminal)',
};
/** How often Prometheus is asked for the platform's figures (each poll is four instant queries). */
const PLATFORM_POLL_MS = 2000;
/** A finished page's server closes this long after its last tab went away. */
const IDLE_CLOSE_MS = 3000;

/** Opens the live view's server, or throws bad input (port taken, not this machine's address). */
export async function openLiveView(o: LiveOptions): Promise<LiveView> {
  const view = new LiveView(o);
  await view.listen(o.host ?? '127.0.0.1', parseWebPort(o.port));
  return view;
}

export class LiveView {
  private server: LiveServer | undefined;
  private phase: Phase = 'starting';
  private shape: LiveRunShape | undefined;
  private meta: Record<string, unknown> = {};
  private readonly history: History;
  private maker = new PointMaker(cpus().length || 1);
  private lastTick: EngineTick | undefined;
  private last: Omit<TickState, 'objectives'> | undefined;
  private connectedPeak = 0;
  private platform: PlatformFigures = NO_PLATFORM;
  private platformNote = '';
  private prom: { client: PrometheusClient; windowSec: number; source: string } | undefined;
  private poller: NodeJS.Timeout | undefined;
  private polling = false;
  private final: Record<string, unknown> | undefined;
  private reportPath: string | undefined;
  private broken = false;

  constructor(private readonly o: LiveOptions) {
    this.history = new History(o.historyPoints);
    this.meta = { fields: FIELDS, maxFields: [...MAX_FIELDS], runId: o.runId, steps: [], totalS: 0, platform: false, objectives: provisionalObjectives(o.slo, undefined) };
  }

  get url(): string {
    return this.server?.url ?? '';
  }

  async listen(host: string, port: number): Promise<void> {
    this.server = await startLiveServer(host, port, {
      page: () => livePageHtml({ runId: this.o.runId, title: this.o.title }),
      initEvent: () => this.initEvent(),
      reportFile: () => this.reportPath,
    });
    this.o.log(`live view: ${this.server.url} (read-only${host === '127.0.0.1' || host === 'localhost' || host === '::1' ? '' : `; listening on ${host}, reachable by others on that network`})`);
  }

  /** The engine's `observe` for this fleet: once a second, one point, and one message to every open page. */
  observer(config: FleetConfig): (tick: EngineTick) => void {
    const steps = fleetSteps(config);
    this.meta = { ...this.meta, totalS: config.durationSec, steps: steps.map((s, i) => ({ name: steps.length > 1 ? `step ${i + 1}` : 'steady', devices: s.devices, startS: s.startMs / 1000 })) };
    this.server?.broadcast('meta', JSON.stringify(this.meta));
    this.shape = {
      runId: config.runId,
      seed: config.seed,
      apiConfigured: Boolean(config.httpUrl && config.api && config.api.endpoints.length > 0),
      wsConfigured: Boolean(config.httpUrl && config.ws && config.ws.clients > 0),
      wsClients: config.ws?.clients ?? 0,
    };
    return (tick) => {
      if (this.broken) return;
      try {
        this.onTick(tick);
      } catch (e) {
        // the run matters more than its view: a bug here stops the view, never the load
        this.broken = true;
        this.o.log(`live view: stopped updating (${e instanceof Error ? e.message : String(e)})`);
      }
    };
  }

  /** The platform's own metrics, polled while the load runs. `windowSec`: the rate window (a few scrape intervals). */
  usePrometheus(ep: PrometheusEndpoint, o: { windowSec: number; source: string }): void {
    this.prom = { client: prometheusClient(ep, { timeoutMs: 3000 }), windowSec: Math.max(5, Math.round(o.windowSec)), source: o.source };
    this.meta = { ...this.meta, platform: true };
    this.server?.broadcast('meta', JSON.stringify(this.meta));
  }

  /** The engine has returned: the view waits for the verdict. */
  loadDone(): void {
    this.stopPolling();
    this.setPhase('verifying');
  }

  /** The verdict (run) or what ran (generate); report.html of `runDir` is served from now on. */
  finish(outcome: Report | LoadEnd, runDir?: string): void {
    this.stopPolling();
    const report = 'objectives' in outcome ? outcome : undefined;
    const file = runDir ? join(runDir, 'report.html') : undefined;
    if (file && existsSync(file)) this.reportPath = file;
    this.final = {
      verdict: outcome.verdict,
      text: report ? `${VERDICT_TEXT[report.verdict] ?? report.verdict} · score ${Math.round(report.score * 10) / 10}` : outcome.verdict === 'invalid' ? `INVALID — ${(outcome as LoadEnd).text}` : (outcome as LoadEnd).text,
      reportUrl: this.reportPath ? '/report.html' : null,
      objectives: report?.objectives.map((r) => ({ id: r.id, description: r.description, source: r.source, key: r.key, target: r.target, warning: r.warning ?? '', status: r.status, value: r.value === null ? 'no data' : `${Number(r.value.toPrecision(4))} ${r.unit}`, why: r.why })),
    };
    this.phase = 'done';
    this.server?.broadcast('final', JSON.stringify(this.final));
  }

  /** Ends every page's stream and stops serving — after the verdict, once its open pages have gone (at most lingerMs). */
  async close(): Promise<void> {
    this.stopPolling();
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const linger = this.o.lingerMs ?? 60_000;
    if (this.final && linger > 0 && server.clients > 0) {
      this.o.log(`live view: the verdict is on ${server.url}; serving it until its page is closed (at most ${Math.round(linger / 1000)} s; Ctrl-C ends it)`);
      await waitUntil(() => server.idleMs() >= IDLE_CLOSE_MS, linger);
    }
    if (!this.final) this.phase = 'ended';
    server.broadcast('end', '{}');
    await server.close();
  }

  private onTick(tick: EngineTick): void {
    if (this.phase === 'starting') {
      this.setPhase('load');
      this.startPolling();
    }
    const s = tick.counts;
    const connected = s.gauges.devices_connected ?? 0;
    this.connectedPeak = Math.max(this.connectedPeak, connected);
    const point = this.maker.next(tick, sampleProcess(Date.now()), this.platform);
    this.history.add(point);
    this.lastTick = tick;
    this.last = {
      elapsedS: tick.elapsedMs / 1000,
      totalS: tick.totalMs / 1000,
      stage: tick.stage,
      point,
      errors: errorsByReason(s),
      loops: loopDelays(s),
      totals: {
        sent: counterSum(s, 'records_sent'),
        acked: counterSum(s, 'records_acked'),
        errors: counterSum(s, 'device_errors') + counterSum(s, 'api_errors') + counterSum(s, 'ws_errors'),
        apiRequests: counterSum(s, 'api_requests'),
        wsMessages: counterSum(s, 'ws_messages'),
      },
      platformNote: this.platformNote,
    };
    // nobody watching: keep the history, skip the objectives and the message
    if (this.server && this.server.clients > 0) this.server.broadcast('tick', JSON.stringify(this.state()));
  }

  private state(): TickState | undefined {
    if (!this.last || !this.lastTick || !this.shape) return undefined;
    return { ...this.last, objectives: provisionalObjectives(this.o.slo, liveSummary(this.lastTick, this.shape, this.connectedPeak)) };
  }

  private initEvent(): string {
    return JSON.stringify({ meta: this.meta, history: this.history.all(), stride: this.history.stride, pending: this.history.pending(), phase: { phase: this.phase, text: PHASE_TEXT[this.phase] }, last: this.state() ?? null, final: this.final ?? null });
  }

  private setPhase(p: Phase): void {
    if (this.phase === p || this.phase === 'done') return;
    this.phase = p;
    this.server?.broadcast('phase', JSON.stringify({ phase: p, text: PHASE_TEXT[p] }));
  }

  private startPolling(): void {
    if (!this.prom || this.poller) return;
    void this.poll();
    this.poller = setInterval(() => void this.poll(), PLATFORM_POLL_MS);
    this.poller.unref();
  }

  private stopPolling(): void {
    if (this.poller) clearInterval(this.poller);
    this.poller = undefined;
  }

  /** The platform's figures now; one poll at a time, a failing Prometheus only blanks them (and says why). */
  private async poll(): Promise<void> {
    if (!this.prom || this.polling) return;
    this.polling = true;
    const { client, windowSec, source } = this.prom;
    const w = `${windowSec}s`;
    const at = () => new Date();
    const q = async (expr: string, scale = 1) => {
      const m = await client.query(expr, at(), 'the live view');
      return m.value === null || !Number.isFinite(m.value) ? null : m.value * scale;
    };
    try {
      const [stored, batch, lag, conns] = await Promise.all([
        q(`sum(rate(telemetry_records_inserted_total[${w}]))`),
        q(`histogram_quantile(0.95, sum by (le) (rate(db_batch_insert_duration_seconds_bucket[${w}])))`, 1000),
        q(`histogram_quantile(0.95, sum by (le) (rate(telemetry_ingest_lag_seconds_bucket[${w}])))`, 1000),
        q('sum(tcp_connections_active)'),
      ]);
      this.platform = { storedPerSec: stored, batchP95Ms: batch, ingestLagP95Ms: lag, connections: conns };
      this.platformNote = `Platform figures from ${source}: rates and p95 over the last ${w} (PromQL rate / histogram_quantile, interpolated within buckets).`;
    } catch (e) {
      this.platform = NO_PLATFORM;
      this.platformNote = `Platform figures unavailable: ${e instanceof Error ? e.message : String(e)}`;
    } finally {
      this.polling = false;
    }
  }
}

function waitUntil(done: () => boolean, maxMs: number): Promise<void> {
  return new Promise((resolve) => {
    const started = Date.now();
    const timer = setInterval(() => {
      if (done() || Date.now() - started >= maxMs) {
        clearInterval(timer);
        resolve();
      }
    }, 250);
  });
}
