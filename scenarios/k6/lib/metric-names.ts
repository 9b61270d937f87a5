// Every metric the k6 bundle emits, by name. A contract with the thresholds src/run/k6-bundle.ts derives from the SLO
// file (they name these metrics) and with dashboards/queries of teams on k6 (in Prometheus remote write they appear as
// k6_<name>, counters with a _total suffix, time trends in seconds). Pure constants: Node code imports this file too.
export const METRIC = {
  // devices
  recordsSent: 'fleet_records_sent', // distinct records, first send only
  recordsAcked: 'fleet_records_acked',
  recordsResent: 'fleet_records_resent',
  recordsUnsent: 'fleet_records_unsent', // still in a device's buffer at the end
  recordsLost: 'fleet_records_lost', // evicted from a full device buffer (bufferLimit)
  packetsSent: 'fleet_packets_sent',
  packetsAcked: 'fleet_packets_acked',
  logins: 'fleet_logins',
  reconnects: 'fleet_reconnects',
  connects: 'fleet_connects',
  disconnects: 'fleet_disconnects',
  keepAlives: 'fleet_keepalives',
  linkOutages: 'fleet_link_outages', // {kind}
  deviceErrors: 'fleet_device_errors', // {reason}
  /** true per device error, false per packet sent: rate = errors / (errors + packets) */
  deviceErrorRate: 'fleet_device_error_rate',
  ackLatency: 'fleet_ack_latency', // per packet, from when it was due
  recordLatency: 'fleet_record_latency', // per record, from its own timestamp
  loginLatency: 'fleet_login_latency',
  sendLag: 'fleet_send_lag',
  vuLoopLag: 'fleet_vu_loop_lag',
  recoveryTime: 'fleet_recovery_time',
  outagesUnrecovered: 'fleet_outages_unrecovered',
  connectedDevices: 'fleet_connected_devices', // per-VU gauge {vu}
  recordsBuffered: 'fleet_records_buffered', // per-VU gauge {vu}
  generatorErrors: 'fleet_generator_errors', // a bug in the script, not the platform
  // REST API clients
  apiRequests: 'fleet_api_requests',
  apiErrors: 'fleet_api_errors', // {endpoint, status}
  apiThrottled: 'fleet_api_throttled',
  /** true per failed request (not 429), false per other request: rate = errors / requests */
  apiErrorRate: 'fleet_api_error_rate',
  apiLatency: 'fleet_api_latency',
  // WebSocket clients
  wsFreshness: 'fleet_ws_freshness',
  wsMessages: 'fleet_ws_messages',
  wsReceived: 'fleet_ws_records_received',
  wsExpected: 'fleet_ws_records_expected',
  wsMissed: 'fleet_ws_records_missed',
  wsErrors: 'fleet_ws_errors', // {reason}
  /** connections refused, or dropped by the server before the client closed them */
  wsConnectionFailures: 'fleet_ws_connection_failures',
} as const;

export type MetricName = (typeof METRIC)[keyof typeof METRIC];
