// Every figure the engine measures, once: its Stats name, its Prometheus name and type, and the label values that
// exist from the first scrape (a series born mid-run hides its first increments from increase(); a series at 0 from
// the start does not). The SLO files, dashboards and series capture read the Prometheus names; the summary reads
// the Stats names. Latencies are recorded in ms and exposed in seconds.

export type MetricType = 'counter' | 'gauge' | 'histogram';

export interface MetricDef {
  /** name in Stats (engine-internal) */
  id: string;
  type: MetricType;
  help: string;
  /** label name → values that are exposed at 0 from the start (other values appear when first counted) */
  labels?: Record<string, readonly string[]>;
}

/** Reasons a device reports in `device_errors` (src/sim/session.ts). */
export const DEVICE_ERROR_REASONS = ['connect', 'login_timeout', 'login_rejected', 'ack_timeout', 'ack_mismatch', 'reset', 'closed'] as const;
/** How an API request failed for the client (non-2xx by class, network failures). */
export const API_ERROR_CLASSES = ['4xx', '5xx', 'timeout', 'refused', 'reset', 'other'] as const;
/** WebSocket client failures: connection refused, dropped by the server, unreadable message. */
export const WS_ERROR_REASONS = ['refused', 'dropped', 'json', 'error'] as const;

export const METRICS: readonly MetricDef[] = [
  // devices
  { id: 'records_sent', type: 'counter', help: 'Distinct records the simulated devices sent (first send only)' },
  { id: 'records_acked', type: 'counter', help: 'Records the target acknowledged to the devices' },
  { id: 'records_resent', type: 'counter', help: 'Records in packets resent after a missing or wrong ACK' },
  { id: 'records_lost', type: 'counter', help: 'Records evicted from a full device buffer (bufferLimit), never sent' },
  { id: 'records_unsent', type: 'counter', help: 'Records still in a device buffer when the run ended' },
  { id: 'packets_sent', type: 'counter', help: 'AVL packets written (resends included)' },
  { id: 'packets_acked', type: 'counter', help: 'AVL packets acknowledged with the right count' },
  { id: 'logins', type: 'counter', help: 'Device logins accepted' },
  { id: 'reconnects', type: 'counter', help: 'Logins after a device\'s first session' },
  { id: 'connects', type: 'counter', help: 'TCP connections opened by devices' },
  { id: 'disconnects', type: 'counter', help: 'TCP connections of devices closed' },
  { id: 'keepalives', type: 'counter', help: 'Keep-alive bytes sent' },
  { id: 'link_outages', type: 'counter', help: 'Scripted link losses (random drops, storms)', labels: { kind: ['drop', 'storm'] } },
  { id: 'device_errors', type: 'counter', help: 'Failures the devices detected, by reason', labels: { reason: DEVICE_ERROR_REASONS } },
  { id: 'outages_unrecovered', type: 'counter', help: 'Devices that ended the run still disrupted by a failure' },
  { id: 'generator_errors', type: 'counter', help: 'Bugs in the engine itself (a device task that threw); any makes the run invalid' },
  { id: 'devices_connected', type: 'gauge', help: 'Devices with an open TCP connection' },
  { id: 'devices_planned', type: 'gauge', help: 'Devices the profile plans at this moment of the run' },
  { id: 'records_buffered', type: 'gauge', help: 'Records waiting in device buffers' },
  { id: 'ack_latency', type: 'histogram', help: 'Per packet: ACK time minus the packet\'s due time (open model)' },
  { id: 'record_latency', type: 'histogram', help: 'Per record: ACK time minus the record\'s own timestamp, across outages and reconnects' },
  { id: 'login_latency', type: 'histogram', help: 'Login frame written to login accepted' },
  { id: 'send_lag', type: 'histogram', help: 'How late a packet was written against its due time (generator health)' },
  { id: 'recovery', type: 'histogram', help: 'A device\'s first failure to logged in again with its backlog ACKed' },
  // REST API clients
  { id: 'api_requests', type: 'counter', help: 'API requests completed or failed (not dropped)', labels: {} },
  { id: 'api_succeeded', type: 'counter', help: 'API requests that succeeded for the client (2xx or an expected status)' },
  { id: 'api_errors', type: 'counter', help: 'API requests that failed for the client, by class', labels: { class: API_ERROR_CLASSES } },
  { id: 'api_throttled', type: 'counter', help: 'API requests answered 429 (counted apart from errors)' },
  { id: 'api_dropped', type: 'counter', help: 'Arrivals not sent because every connection of the pool was busy (open model: never delayed)' },
  { id: 'api_latency', type: 'histogram', help: 'API request duration at the client' },
  { id: 'api_late', type: 'counter', help: 'API arrivals sent more than 10 ms after their due time (the engine fell behind its schedule)' },
  // WebSocket clients
  { id: 'ws_connects', type: 'counter', help: 'WebSocket clients connected' },
  { id: 'ws_errors', type: 'counter', help: 'WebSocket client failures by reason', labels: { reason: WS_ERROR_REASONS } },
  { id: 'ws_messages', type: 'counter', help: 'Record messages received by WebSocket clients' },
  { id: 'ws_records_expected', type: 'counter', help: 'Records the subscribed devices made in the counting window' },
  { id: 'ws_records_received', type: 'counter', help: 'Of those, records that arrived' },
  { id: 'ws_records_missed', type: 'counter', help: 'Expected minus received, per client, never below 0' },
  { id: 'ws_clients_connected', type: 'gauge', help: 'WebSocket clients currently connected' },
  { id: 'ws_freshness', type: 'histogram', help: 'WebSocket receive time minus record timestamp' },
  // the engine itself
  { id: 'event_loop_delay_p99', type: 'gauge', help: 'Event-loop delay p99 of each engine thread over the last interval (seconds)' },
];

export const PROM_PREFIX = 'fleetload_';

/** Prometheus name of a metric: fleetload_<id>_total for counters, fleetload_<id>_seconds for histograms. */
export function promName(def: Pick<MetricDef, 'id' | 'type'>): string {
  if (def.type === 'counter') return `${PROM_PREFIX}${def.id}_total`;
  if (def.type === 'histogram') return `${PROM_PREFIX}${def.id}_seconds`;
  return `${PROM_PREFIX}${def.id}${def.id.endsWith('_p99') ? '_seconds' : ''}`;
}

export const metricDef = (id: string): MetricDef | undefined => METRICS.find((m) => m.id === id);
