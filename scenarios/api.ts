// API clients alone (dist/scenarios/api.js): the same FLEET_CONFIG, only the arrival-rate `api` scenario.
// `fleetload run` uses devices.js, which composes devices, API and WebSocket clients; run this one directly with k6
// to load an API without devices: k6 run -e FLEET_CONFIG='{"httpUrl":…,"api":{…}}' dist/scenarios/api.js
import { k6Options } from '../src/sim/k6-options';
import { config } from './lib/config';

const all = k6Options({ ...config, steps: [], devices: 0 });
export const options = { ...all, scenarios: all.scenarios.api ? { api: all.scenarios.api } : {} };

export { apiRequest as api } from './lib/api';

export function handleSummary(data: unknown): Record<string, string> {
  const file = __ENV.FLEET_SUMMARY_FILE;
  return file ? { [file]: JSON.stringify(data) } : {};
}
