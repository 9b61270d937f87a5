// The fleetload k6 entry (dist/scenarios/devices.js): simulated Teltonika trackers, plus the REST API and WebSocket
// clients when the profile asks for them. Everything comes from FLEET_CONFIG (src/sim/fleet-config.ts):
// - one per-vu-iterations scenario per step (step_1, step_2, …), each ADDING devices; a VU drives config.devicesPerVu
//   device sockets (one VU per device costs megabytes each); the device block is picked by
//   exec.scenario.iterationInTest, so k6 instances with --execution-segment(-sequence) simulate disjoint devices;
// - `api`: constant- or ramping-arrival-rate requests (open model);
// - `ws`: WebSocket feed clients measuring freshness.
// The device logic itself lives in src/sim (device.ts, session.ts) and is tested in Node; this is the I/O shell.
import { k6Options } from '../src/sim/k6-options';
import { config } from './lib/config';

export const options = k6Options(config);

export { devices } from './lib/device-vu';
export { apiRequest as api } from './lib/api';
export { wsClient as ws } from './lib/ws';

export function handleSummary(data: unknown): Record<string, string> {
  const file = __ENV.FLEET_SUMMARY_FILE;
  return file ? { [file]: JSON.stringify(data) } : {};
}
