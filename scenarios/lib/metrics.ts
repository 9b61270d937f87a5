// Every fleetload metric the scenarios emit. Names are a contract with the SLO files (src/verify/default-slo.yaml),
// the reports and dashboards; in Prometheus they appear as k6_<name> (counters with a _total suffix, time trends in
// seconds with _p50/_p95/_p99/_max/_count suffixes).
import { Counter, Gauge, Trend } from 'k6/metrics';

// ---- devices -----------------------------------------------------------------------------------------------------
export const recordsSent = new Counter('fleet_records_sent'); // distinct records, first send only
export const recordsAcked = new Counter('fleet_records_acked');
export const recordsResent = new Counter('fleet_records_resent'); // records in resent packets
export const recordsUnsent = new Counter('fleet_records_unsent'); // still in a device's buffer at the end
export const recordsLost = new Counter('fleet_records_lost'); // evicted from a full device buffer (bufferLimit)
export const packetsSent = new Counter('fleet_packets_sent');
export const logins = new Counter('fleet_logins');
export const reconnects = new Counter('fleet_reconnects'); // logins after the device's first session
export const connects = new Counter('fleet_connects'); // TCP connections opened
export const disconnects = new Counter('fleet_disconnects'); // TCP connections closed (connects - disconnects = connected)
export const keepAlives = new Counter('fleet_keepalives');
export const linkOutages = new Counter('fleet_link_outages'); // {kind: drop|storm}
export const deviceErrors = new Counter('fleet_device_errors'); // {reason}
export const ackLatency = new Trend('fleet_ack_latency', true);
export const loginLatency = new Trend('fleet_login_latency', true);
export const sendLag = new Trend('fleet_send_lag', true); // actual - scheduled send time (generator health)
// How late a 250 ms timer fires on a device VU's event loop: a VU too busy to keep time (CPU-starved, too many
// devices per VU) inflates every latency it measures, so this marks the run invalid (generator health).
export const vuLoopLag = new Trend('fleet_vu_loop_lag', true);
// per failure a device detected (reset, close, connect/login failure, ACK timeout): first failure -> logged in again
// and backlog ACKed; the fleet's recovery is the max (every device back). Never sampled.
export const recoveryTime = new Trend('fleet_recovery_time', true);
export const outagesUnrecovered = new Counter('fleet_outages_unrecovered'); // devices still disrupted at the end
// Per-VU gauges, tagged vu=<exec.vu.idInTest>: k6 gauges keep the last value, so the fleet total is
// sum(k6_fleet_connected_devices{testid="…"}) over the vu label (one series per VU), not the summary value.
export const connectedDevices = new Gauge('fleet_connected_devices');
export const recordsBuffered = new Gauge('fleet_records_buffered');
// A bug in this script, not a platform failure: any count here makes the run invalid.
export const generatorErrors = new Counter('fleet_generator_errors');

// ---- API clients -------------------------------------------------------------------------------------------------
export const apiRequests = new Counter('fleet_api_requests'); // {endpoint}
export const apiErrors = new Counter('fleet_api_errors'); // {endpoint, status}: unexpected status or network error
export const apiThrottled = new Counter('fleet_api_throttled'); // {endpoint}: 429, counted apart from errors

// ---- WebSocket clients -------------------------------------------------------------------------------------------
export const wsFreshness = new Trend('fleet_ws_freshness', true); // receive time - record timestamp
export const wsMessages = new Counter('fleet_ws_messages'); // every record message received
export const wsReceived = new Counter('fleet_ws_records_received'); // fleet records in the counting window
export const wsExpected = new Counter('fleet_ws_records_expected'); // records the subscribed devices made in the window
export const wsMissed = new Counter('fleet_ws_records_missed'); // max(0, expected - received) per client
export const wsErrors = new Counter('fleet_ws_errors');
