// Generates fleetload.json (Grafana dashboard). Run: node dashboards/build-dashboard.mjs
// Variables: $datasource (Prometheus), $testid (k6 run id), $instance (platform scrape target).
import { writeFileSync } from 'node:fs';
const P = 'job="fleet-platform",instance=~"$instance"';
const K = 'testid=~"$testid"';
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
ts('Device TCP connections', 'short', [[`sum(tcp_connections_active{${P}})`, 'open'], [`sum(k6_fleet_connected_devices{${K}})`, 'connected (k6)']], 'k6_fleet_connected_devices appears once the scenario reports it.');
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

row('k6 client (by testid)');
ts('Records per second (k6)', 'short', [[`sum(rate(k6_fleet_records_sent_total{${K}}[${RI}]))`, 'sent'], [`sum(rate(k6_fleet_records_acked_total{${K}}[${RI}]))`, 'ACKed'], [`sum(rate(k6_fleet_records_resent_total{${K}}[${RI}]))`, 'resent']], 'resent appears only once a record was resent.');
ts('ACK latency (k6, cumulative trend stats)', 's', [[`max(k6_fleet_ack_latency_p50{${K}})`, 'p50'], [`max(k6_fleet_ack_latency_p95{${K}})`, 'p95'], [`max(k6_fleet_ack_latency_p99{${K}})`, 'p99'], [`max(k6_fleet_ack_latency_max{${K}})`, 'max']]);
ts('Device errors by reason', 'short', [[`sum by (reason) (rate(k6_fleet_device_errors_total{${K}}[${RI}]))`, '{{reason}}']], 'Empty in a clean run: k6 creates the series on the first error.');
endRow();
// Logins come in a burst at the start (and after reconnect storms): k6 pushes a counter only when it changed,
// so rate() over them is empty in quiet periods; the running totals always show.
ts('Logins and packets (running totals)', 'short', [[`sum(k6_fleet_logins_total{${K}})`, 'logins'], [`sum(k6_fleet_packets_sent_total{${K}})`, 'packets']]);
ts('Login latency (k6, cumulative)', 's', [[`max(k6_fleet_login_latency_p95{${K}})`, 'p95'], [`max(k6_fleet_login_latency_max{${K}})`, 'max']]);
ts('WebSocket freshness and API (k6)', 's', [[`max(k6_fleet_ws_freshness_p95{${K}})`, 'WS freshness p95'], [`max by (endpoint) (k6_http_req_duration_p95{${K}})`, 'HTTP p95 {{endpoint}}']], 'Empty unless the profile runs WebSocket/API clients.');
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
  uid: 'fleetload-main', title: 'fleetload — fleet platform, k6 client, database', tags: ['fleetload', 'k6', 'teltonika'],
  schemaVersion: 39, version: 1, editable: true, refresh: '10s', time: { from: 'now-30m', to: 'now' }, timezone: 'browser',
  templating: { list: [
    { name: 'datasource', type: 'datasource', query: 'prometheus', label: 'Prometheus', current: {} },
    { name: 'testid', type: 'query', label: 'k6 test id', datasource: { type: 'prometheus', uid: '${datasource}' }, query: { query: 'label_values(k6_fleet_records_sent_total, testid)', refId: 'testid' }, definition: 'label_values(k6_fleet_records_sent_total, testid)', refresh: 2, sort: 2, includeAll: true, multi: true, allValue: '.*', current: {} },
    { name: 'instance', type: 'query', label: 'platform instance', datasource: { type: 'prometheus', uid: '${datasource}' }, query: { query: 'label_values(up{job="fleet-platform"}, instance)', refId: 'instance' }, definition: 'label_values(up{job="fleet-platform"}, instance)', refresh: 2, includeAll: true, multi: true, allValue: '.*', current: {} },
  ] },
  annotations: { list: [] },
  panels,
};
writeFileSync(new URL('./fleetload.json', import.meta.url), `${JSON.stringify(dashboard, null, 2)}\n`);
