// From the merged counts and exact histograms of every engine thread to the summary contract
// (src/core/engine-summary.ts). Counts are sums (exact); latencies come from merged HdrHistograms (exact merges).
import type { EngineSummary, LatencyFigures } from '../core/engine-summary.js';
import { ENGINE_SUMMARY_FORMAT } from '../core/engine-summary.js';
import { API_ERROR_CLASSES, DEVICE_ERROR_REASONS, WS_ERROR_REASONS } from './catalogue.js';
import { encodeHistogram, latencySummary, newHistogram, parseSeriesKey, type Histogram, type StatsSnapshot } from './stats.js';

export interface SummaryInputs {
  runId: string;
  seed: number;
  fleetloadVersion: string;
  loadStart: Date;
  loadEnd: Date;
  stages: EngineSummary['stages'];
  shard: EngineSummary['shard'];
  plannedDevices: number;
  connectedPeak: number;
  apiConfigured: boolean;
  wsConfigured: boolean;
  wsClients: number;
  counts: StatsSnapshot;
  exact: Map<string, Histogram>;
  generator: EngineSummary['generator'];
  ledger: EngineSummary['ledger'];
}

/** Sum of a counter over all its label values (or one label value). */
function total(counts: StatsSnapshot, id: string, label?: [string, string]): number {
  let n = 0;
  for (const [k, v] of Object.entries(counts.counters)) {
    const s = parseSeriesKey(k);
    if (s.name === id && (!label || s.labels[label[0]] === label[1])) n += v;
  }
  return n;
}

/** Exact latency of `id` over all its label values (merged), or of one label value. */
function latency(exact: Map<string, Histogram>, id: string, label?: [string, string]): LatencyFigures | undefined {
  const parts: Histogram[] = [];
  for (const [k, h] of exact) {
    const s = parseSeriesKey(k);
    if (s.name === id && (!label || s.labels[label[0]] === label[1])) parts.push(h);
  }
  if (parts.length <= 1) return latencySummary(parts[0]);
  const merged = newHistogram();
  for (const h of parts) merged.add(h);
  return latencySummary(merged);
}

const byKey = <T extends string>(keys: readonly T[], f: (k: T) => number): Record<string, number> => Object.fromEntries(keys.map((k) => [k, f(k)]));

function endpointsOf(counts: StatsSnapshot): string[] {
  const names = new Set<string>();
  for (const k of Object.keys(counts.counters)) {
    const s = parseSeriesKey(k);
    if (s.name.startsWith('api_') && s.labels.endpoint) names.add(s.labels.endpoint);
  }
  return [...names].sort();
}

export function buildSummary(i: SummaryInputs): EngineSummary {
  const c = i.counts;
  const t = (id: string, label?: [string, string]) => total(c, id, label);
  const l = (id: string, label?: [string, string]) => latency(i.exact, id, label);
  const dropped = t('api_dropped');
  const requests = t('api_requests');
  return {
    format: ENGINE_SUMMARY_FORMAT,
    version: 1,
    runId: i.runId,
    seed: i.seed,
    fleetload: i.fleetloadVersion,
    loadStart: i.loadStart.toISOString(),
    loadEnd: i.loadEnd.toISOString(),
    stages: i.stages,
    shard: i.shard,
    devices: { planned: i.plannedDevices, connectedPeak: i.connectedPeak },
    records: { sent: t('records_sent'), acked: t('records_acked'), resent: t('records_resent'), unsent: t('records_unsent'), lost: t('records_lost') },
    packets: { sent: t('packets_sent'), acked: t('packets_acked') },
    logins: t('logins'),
    reconnects: t('reconnects'),
    connects: t('connects'),
    disconnects: t('disconnects'),
    keepAlives: t('keepalives'),
    errors: byKey(DEVICE_ERROR_REASONS, (r) => t('device_errors', ['reason', r])),
    linkOutages: { drop: t('link_outages', ['kind', 'drop']), storm: t('link_outages', ['kind', 'storm']) },
    outagesUnrecovered: t('outages_unrecovered'),
    ...optional('ackLatencyMs', l('ack_latency')),
    ...optional('recordLatencyMs', l('record_latency')),
    ...optional('loginLatencyMs', l('login_latency')),
    ...optional('sendLagMs', l('send_lag')),
    ...optional('recoveryMs', l('recovery')),
    api: {
      configured: i.apiConfigured,
      offered: requests + dropped,
      requests,
      succeeded: t('api_succeeded'),
      errors: byKey(API_ERROR_CLASSES, (k) => t('api_errors', ['class', k])),
      throttled: t('api_throttled'),
      dropped,
      ...optional('latencyMs', l('api_latency')),
      byEndpoint: Object.fromEntries(
        endpointsOf(c).map((e) => {
          const ep: [string, string] = ['endpoint', e];
          return [e, { requests: t('api_requests', ep), succeeded: t('api_succeeded', ep), errors: t('api_errors', ep), throttled: t('api_throttled', ep), ...optional('latencyMs', l('api_latency', ep)) }];
        }),
      ),
    },
    ws: {
      configured: i.wsConfigured,
      clients: i.wsClients,
      connected: t('ws_connects'),
      errors: byKey(WS_ERROR_REASONS, (r) => t('ws_errors', ['reason', r])),
      messages: t('ws_messages'),
      expected: t('ws_records_expected'),
      received: t('ws_records_received'),
      missed: t('ws_records_missed'),
      ...optional('freshnessMs', l('ws_freshness')),
    },
    generator: i.generator,
    ledger: i.ledger,
    histograms: Object.fromEntries([...i.exact].map(([k, h]) => [k, encodeHistogram(h)])),
  };
}

function optional<K extends string>(key: K, v: LatencyFigures | undefined): { [P in K]?: LatencyFigures } {
  return (v ? { [key]: v } : {}) as { [P in K]?: LatencyFigures };
}
