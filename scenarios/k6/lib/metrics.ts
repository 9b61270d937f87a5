// The bundle's k6 metrics (names: metric-names.ts). Time trends are in milliseconds, like the engine summary, so the
// SLO thresholds apply without conversion.
import { Counter, Gauge, Rate, Trend } from 'k6/metrics';
import { METRIC } from './metric-names';

// ---- devices -----------------------------------------------------------------------------------------------------
export const recordsSent = new Counter(METRIC.recordsSent);
export const recordsAcked = new Counter(METRIC.recordsAcked);
export const recordsResent = new Counter(METRIC.recordsResent);
export const recordsUnsent = new Counter(METRIC.recordsUnsent);
export const recordsLost = new Counter(METRIC.recordsLost);
export const packetsSent = new Counter(METRIC.packetsSent);
export const packetsAcked = new Counter(METRIC.packetsAcked);
export const logins = new Counter(METRIC.logins);
export const reconnects = new Counter(METRIC.reconnects);
export const connects = new Counter(METRIC.connects);
export const disconnects = new Counter(METRIC.disconnects);
export const keepAlives = new Counter(METRIC.keepAlives);
export const linkOutages = new Counter(METRIC.linkOutages);
export const deviceErrors = new Counter(METRIC.deviceErrors);
export const deviceErrorRate = new Rate(METRIC.deviceErrorRate);
export const ackLatency = new Trend(METRIC.ackLatency, true);
export const recordLatency = new Trend(METRIC.recordLatency, true);
export const loginLatency = new Trend(METRIC.loginLatency, true);
export const sendLag = new Trend(METRIC.sendLag, true);
// How late a 250 ms timer fires on a device VU's event loop: a VU too busy to keep time (too many devices per VU,
// CPU-starved) inflates every latency it measures (generator health).
export const vuLoopLag = new Trend(METRIC.vuLoopLag, true);
export const recoveryTime = new Trend(METRIC.recoveryTime, true);
export const outagesUnrecovered = new Counter(METRIC.outagesUnrecovered);
// Per-VU gauges, tagged vu=<exec.vu.idInTest>: k6 gauges keep the last value, so the fleet total is the sum over vu.
export const connectedDevices = new Gauge(METRIC.connectedDevices);
export const recordsBuffered = new Gauge(METRIC.recordsBuffered);
export const generatorErrors = new Counter(METRIC.generatorErrors);

// ---- API clients -------------------------------------------------------------------------------------------------
export const apiRequests = new Counter(METRIC.apiRequests);
export const apiErrors = new Counter(METRIC.apiErrors);
export const apiThrottled = new Counter(METRIC.apiThrottled);
export const apiErrorRate = new Rate(METRIC.apiErrorRate);
export const apiLatency = new Trend(METRIC.apiLatency, true);

// ---- WebSocket clients -------------------------------------------------------------------------------------------
export const wsFreshness = new Trend(METRIC.wsFreshness, true);
export const wsMessages = new Counter(METRIC.wsMessages);
export const wsReceived = new Counter(METRIC.wsReceived);
export const wsExpected = new Counter(METRIC.wsExpected);
export const wsMissed = new Counter(METRIC.wsMissed);
export const wsErrors = new Counter(METRIC.wsErrors);
export const wsConnectionFailures = new Counter(METRIC.wsConnectionFailures);
