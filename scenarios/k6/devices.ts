// The fleetload k6 entry point (`fleetload k6 bundle` writes it as devices.js) for teams that run their own k6 build
// with grafana/xk6-tcp (`xk6 build --with github.com/grafana/xk6-tcp@v0.3.1`): simulated Teltonika trackers, plus the
// REST API and WebSocket clients when the profile asks for them and FLEET_HTTP is given.
// - one per-vu-iterations scenario per step (step_1, step_2, …), each ADDING devices; a VU drives devicesPerVu device
//   sockets; the block is picked by exec.scenario.iterationInTest, so k6 instances with the same
//   --execution-segment-sequence simulate disjoint devices;
// - `api`: constant- or ramping-arrival-rate requests (open model); `ws`: WebSocket feed clients;
// - thresholds derived from the SLO file, every sample tagged testid=<run id>.
// The device logic lives in src/sim (device.ts, session.ts), the same the Node engine runs; this is the I/O shell.
import type { Options } from 'k6/options';
import { config, settings } from './lib/config';
import { bundleOptions } from './lib/options';
import { targetProblem } from './lib/settings';

export const options: Options = bundleOptions(settings, config);

/** Fails the test before any VU starts when the device target is unknown (one clear error instead of one per VU). */
export function setup(): void {
  const problem = targetProblem(config);
  if (problem) throw new Error(problem);
}

export { devices } from './lib/device-vu';
export { apiRequest as api } from './lib/api';
export { wsClient as ws } from './lib/ws';
export { handleSummary } from './lib/summary';
