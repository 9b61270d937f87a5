// Generates fleetload.json (Grafana dashboard). Run: node dashboards/build-dashboard.mjs
// Variables: $datasource (Prometheus), $run_id (fleetload run id), $instance (platform scrape target).
import { writeFileSync } from 'node:fs';
const P = 'job="fleet-platform",instance=~"$instance"';
// every engine series carries run_id; the engine's process metrics are told apart by its scrape job
const R = 'run_id=~"$run_id"';
const E = `job="fleetload-engine",${R}`;
const RI = '$__rate_interval';
let id = 0;
let y = 0;
const panels = [];
const row = (title) => { panels.push({ type: 'row', title, id: ++id, collapsed: false, gridPos: { h: 1, w: 24, x: 0, y: y++ }, panels: [] }); };
let x = 0;
const ts = (title, unit, targets, description = '') => {
  if (x >= 24) { x = 0; y += 8; }
  panels.push({
    type: 'timeseries', title, id: ++id, description, datasource: { type: 'prometheus', uid: '${datasource}' },
    gridPos: { h: 8, w: 8, x, y },
    fieldConfig: { defaults: { unit, custom: { lineWidth: 1, fillOpacity: 5 } }, overrides: [] },
    options: { legend: { displayMode: 'list', placement: 'bottom' }, tooltip: { mode: 'multi' } },
    targets: targets.map(([expr, legendFormat], i) => ({ refId: String.fromCharCode(65 + i), expr, legendFormat, datasource: { type: 'prometheus', uid: '${datasource}' } })),
  });
  x += 8;
};
const endRow = () => { x = 0; y += 8; };
const q = (p, m, sel) => `histogram_quantile(${p}, sum by (le) (rate(${m}_bucket{${sel}}[${RI}])))`;

row('Fleet platform');
ts('Device TCP connections', 'short', [[`sum(tcp_connections_active{${P}})`, 'open (platform)'], [`sum(fleetload_devices_connected{${R}})`, 'connected (engine)']]);
ts('Records per second', 'short', [[`sum(rate(telemetry_records_received_total{${P}}[${RI}]))`, 'received'], [`sum(rate(telemetry_records_inserted_total{${P}}[${RI}]))`, 'stored'], [`sum(rate(telemetry_records_duplicate_total{${P}}[${RI}]))`, 'duplicate']]);
ts('ACK duration (platform)', 's', [[q(0.5, 'tcp_ack_duration_seconds', P), 'p50'], [q(0.95, 'tcp_ack_duration_seconds', P), 'p95'], [q(0.99, 'tcp_ack_duration_seconds', P), 'p99']]);
endRow();
ts('REST API latency by route', 's', [[`histogram_quantile(0.95, sum by (le, route) (rate(http_request_duration_seconds_bucket{${P},route=~"/v1/.*"}[${RI}])))`, 'p95 {{route}}']], 'Empty when the profile sends no API traffic.');
ts('REST API 5xx ratio', 'percentunit', [[`(sum(rate(http_requests_total{${P},route=~"/v1/.*",status=~"5.."}[${RI}])) or vector(0)) / sum(rate(http_requests_total{${P},route=~"/v1/.*"}[${RI}]))`, '5xx ratio']], 'Empty when the profile sends no API traffic.');
ts('WebSocket connections', 'short', [[`sum(websocket_connections_active{${P}})`, 'open'], [`sum(rate(websocket_messages_sent_total{${P}}[${RI}]))`, 'messages/s'], [`sum(rate(websocket_messages_dropped_total{${P}}[${RI}]))`, 'dropped/s']]);
endRow();
ts('Platform CPU', 'percentunit', [[`sum by (instance) (rate(process_cpu_seconds_total{${P}}[${RI}]))`, 'CPU {{instance}}']]);
ts('Platform memory (RSS)', 'bytes', [[`sum by (instance) (process_resident_memory_bytes{${P}})`, 'RSS {{instance}}'], [`sum by (instance) (nodejs_heap_size_used_bytes{${P}})`, 'heap used {{instance}}']]);
ts('Event-loop lag', 's', [[`max by (instance) (nodejs_eventloop_lag_p99_seconds{${P}})`, 'p99 {{instance}}'], [`max by (instance) (nodejs_eventloop_lag_mean_seconds{${P}})`, 'mean {{instance}}']]);
endRow();

row('Load engine: devices (by run_id)');
ts('Devices', 'short', [[`sum(fleetload_devices_connected{${R}})`, 'connected (engine)'], [`sum(fleetload_devices_planned{${R}})`, 'planned by the profile'], [`sum(fleetload_records_buffered{${R}})`, 'records buffered']], 'Gauges summed over the engine\'s workers and shards.');
ts('Records per second (engine)', 'short', [[`sum(rate(fleetload_records_sent_total{${R}}[${RI}]))`, 'sent'], [`sum(rate(fleetload_records_acked_total{${R}}[${RI}]))`, 'ACKed'], [`sum(rate(fleetload_records_resent_total{${R}}[${RI}]))`, 'resent']]);
ts('ACK latency (engine: ACK time − due time)', 's', [[q(0.5, 'fleetload_ack_latency_seconds', R), 'p50'], [q(0.95, 'fleetload_ack_latency_seconds', R), 'p95'], [q(0.99, 'fleetload_ack_latency_seconds', R), 'p99'], [q(0.95, 'fleetload_record_latency_seconds', R), 'record delivery p95']], 'Per packet from when it was due (open model); record delivery = ACK time − the record\'s own timestamp (outages included).');
endRow();
ts('Device errors by reason', 'short', [[`sum by (reason) (rate(fleetload_device_errors_total{${R}}[${RI}]))`, '{{reason}}']], 'Every reason exists at 0 from the first scrape: a clean run shows flat zeros.');
ts('Logins, reconnects and packets per second', 'short', [[`sum(rate(fleetload_logins_total{${R}}[${RI}]))`, 'logins'], [`sum(rate(fleetload_reconnects_total{${R}}[${RI}]))`, 'reconnects'], [`sum(rate(fleetload_packets_sent_total{${R}}[${RI}]))`, 'packets sent']]);
ts('Login latency and send lag (engine)', 's', [[q(0.95, 'fleetload_login_latency_seconds', R), 'login p95'], [q(0.95, 'fleetload_send_lag_seconds', R), 'send lag p95 (generator health)']]);
endRow();

row('Load engine: API and WebSocket clients (by run_id)');
ts('API requests per second (client)', 'reqps', [[`sum(rate(fleetload_api_requests_total{${R}}[${RI}]))`, 'requests'], [`sum by (class) (rate(fleetload_api_errors_total{${R}}[${RI}]))`, 'errors {{class}}'], [`sum(rate(fleetload_api_throttled_total{${R}}[${RI}]))`, '429'], [`sum(rate(fleetload_api_dropped_total{${R}}[${RI}]))`, 'dropped (pool full)']], 'Flat zeros when the profile runs no API clients.');
ts('API latency and error ratio (client)', 's', [[q(0.5, 'fleetload_api_latency_seconds', R), 'p50'], [q(0.95, 'fleetload_api_latency_seconds', R), 'p95'], [q(0.99, 'fleetload_api_latency_seconds', R), 'p99'], [`sum(rate(fleetload_api_errors_total{${R}}[${RI}])) / sum(rate(fleetload_api_requests_total{${R}}[${RI}]))`, 'error ratio']], 'The error ratio is a unitless share on the same axis; empty without API clients.');
ts('WebSocket freshness (client: receive time − record timestamp)', 's', [[q(0.5, 'fleetload_ws_freshness_seconds', R), 'p50'], [q(0.95, 'fleetload_ws_freshness_seconds', R), 'p95'], [`sum(fleetload_ws_clients_connected{${R}})`, 'clients connected'], [`sum(rate(fleetload_ws_records_missed_total{${R}}[${RI}]))`, 'records missed/s']], 'Empty without WebSocket clients.');
endRow();

row('Load engine: process (generator health)');
ts('Engine CPU', 'percentunit', [[`sum by (instance) (rate(process_cpu_seconds_total{${E}}[${RI}]))`, 'CPU {{instance}}']], 'Cores used by the engine process (1 = one core).');
ts('Engine memory (RSS)', 'bytes', [[`sum by (instance) (process_resident_memory_bytes{${E}})`, 'RSS {{instance}}']]);
ts('Engine event-loop delay p99', 's', [[`max by (instance) (fleetload_event_loop_delay_p99_seconds{${R}})`, 'busiest thread {{instance}}'], [`sum(rate(fleetload_generator_errors_total{${R}}[${RI}]))`, 'generator errors/s']], 'A late engine loop sends late: the run is invalid when the generator is the bottleneck.');
endRow();

row('Database');
ts('Batch INSERT duration', 's', [[q(0.5, 'db_batch_insert_duration_seconds', P), 'p50'], [q(0.95, 'db_batch_insert_duration_seconds', P), 'p95'], [q(0.99, 'db_batch_insert_duration_seconds', P), 'p99']]);
ts('Batch size', 'short', [[`sum(rate(db_batch_size_sum{${P}}[${RI}])) / sum(rate(db_batch_size_count{${P}}[${RI}]))`, 'mean records/batch'], [q(0.95, 'db_batch_size', P), 'p95']]);
ts('Ingest lag (device timestamp → commit)', 's', [[q(0.5, 'telemetry_ingest_lag_seconds', P), 'p50'], [q(0.95, 'telemetry_ingest_lag_seconds', P), 'p95']]);
endRow();
ts('Writer queue', 'short', [[`sum(writer_queued_records{${P}})`, 'queued records'], [`max(tcp_ingest_paused{${P}})`, 'ingest paused']]);
ts('Connection pool', 'short', [[`sum(database_pool_active{${P}})`, 'active'], [`sum(database_pool_idle{${P}})`, 'idle'], [`sum(database_pool_waiting{${P}})`, 'waiting']]);
ts('Database health', 'short', [[`min(db_up{${P}})`, 'db up'], [`sum(rate(db_batch_errors_total{${P}}[${RI}]))`, 'batch errors/s']]);
endRow();

const dashboard = {
  uid: 'fleetload-main', title: 'fleetload — fleet platform, load engine, database', tags: ['fleetload', 'teltonika'],
  schemaVersion: 39, version: 1, editable: true, refresh: '10s', time: { from: 'now-30m', to: 'now' }, timezone: 'browser',
  templating: { list: [
    { name: 'datasource', type: 'datasource', query: 'prometheus', label: 'Prometheus', current: {} },
    { name: 'run_id', type: 'query', label: 'fleetload run id', datasource: { type: 'prometheus', uid: '${datasource}' }, query: { query: 'label_values(fleetload_records_sent_total, run_id)', refId: 'run_id' }, definition: 'label_values(fleetload_records_sent_total, run_id)', refresh: 2, sort: 2, includeAll: true, multi: true, allValue: '.*', current: {} },
    { name: 'instance', type: 'query', label: 'platform instance', datasource: { type: 'prometheus', uid: '${datasource}' }, query: { query: 'label_values(up{job="fleet-platform"}, instance)', refId: 'instance' }, definition: 'label_values(up{job="fleet-platform"}, instance)', refresh: 2, includeAll: true, multi: true, allValue: '.*', current: {} },
  ] },
  annotations: { list: [] },
  panels,
};
writeFileSync(new URL('./fleetload.json', import.meta.url), `${JSON.stringify(dashboard, null, 2)}\n`);
