// WebSocket clients of the platform's live feed (/ws): each client subscribes to every record or to a block of fleet
// IMEIs and measures freshness = receive time - record timestamp (fleet_ws_freshness).
// Expected vs received: the device model is deterministic, so a client knows how many records its subscribed devices
// acquire in any window. It counts the records whose timestamps fall in [subscribed + grace, close - grace] and
// compares with what arrived (fleet_ws_records_expected / _received / _missed): the generator's truth (what devices
// produced), not the platform's. A connection refused, or closed by the server before the client's own close, counts
// in fleet_ws_connection_failures (the engine's ws.errors.refused + ws.errors.dropped).
import exec from 'k6/execution';
import { setTimeout } from 'k6/timers';
import { WebSocket } from 'k6/websockets';
import { imeiForIndex } from '../../../src/protocol/teltonika/index';
import { deviceSettings, recordsBetween } from '../../../src/sim/device';
import { subscription } from '../../../src/sim/clients';
import { fleetSteps } from '../../../src/sim/fleet-config';
import { config, sampled } from './config';
import * as m from './metrics';

function stepStartOf(index: number): number {
  for (const s of fleetSteps(config)) if (index < s.devices) return s.startMs;
  return 0;
}


export function wsClient(): Promise<void> {
  const cfg = config.ws;
  if (!cfg || !config.httpUrl) return Promise.resolve();
  const client = exec.scenario.iterationInTest;
  const testStart = exec.scenario.startTime - cfg.startMs;
  const closeAt = testStart + cfg.startMs + cfg.durationMs;
  const sub = subscription(config, client);
  const indices = sub === 'all' ? Array.from({ length: config.devices }, (_, i) => i) : sub;
  const imeis = new Set(indices.map((i) => imeiForIndex(config.seed, i)));
  const token = cfg.tokenEnv ? __ENV[cfg.tokenEnv] : undefined;
  const url = `${config.httpUrl.replace(/^http/, 'ws').replace(/\/$/, '')}/ws`;
  let from = Infinity;
  const to = closeAt - cfg.graceMs;
  let received = 0;
  let opened = false;
  let closing = false;
  let failed = false;
  return new Promise<void>((resolve) => {
    const ws = new WebSocket(url, null, { headers: token ? { Authorization: `Bearer ${token}` } : {}, tags: { client: String(client) } });
    let finished = false;
    const fail = (reason: 'refused' | 'dropped') => {
      if (failed) return;
      failed = true;
      m.wsConnectionFailures.add(1, { reason });
    };
    const finish = () => {
      if (finished) return;
      finished = true;
      if (!closing) fail(opened ? 'dropped' : 'refused');
      if (from < to) {
        const s = deviceSettings(config);
        let expected = 0;
        for (const i of indices) expected += recordsBetween(s, i, testStart + stepStartOf(i), from, to);
        m.wsExpected.add(expected);
        m.wsReceived.add(received);
        m.wsMissed.add(Math.max(0, expected - received));
      }
      resolve();
    };
    ws.onopen = () => {
      opened = true;
      ws.send(JSON.stringify({ subscribe: sub === 'all' ? 'all' : [...imeis] }));
      setTimeout(() => {
        closing = true;
        ws.close();
      }, Math.max(0, closeAt - Date.now()));
    };
    ws.onmessage = (e) => {
      const now = Date.now();
      let msg: { type?: string; imei?: string; timestamp?: string };
      try {
        msg = JSON.parse(String(e?.data)) as typeof msg;
      } catch {
        m.wsErrors.add(1, { reason: 'json' });
        return;
      }
      if (msg.type === 'subscribed') {
        if (from === Infinity) from = now + cfg.graceMs;
        return;
      }
      if (msg.type !== 'record' || !msg.timestamp) return;
      const ts = Date.parse(msg.timestamp);
      m.wsMessages.add(1);
      if (sampled()) m.wsFreshness.add(now - ts);
      if (ts >= from && ts <= to && msg.imei !== undefined && imeis.has(msg.imei)) received++;
    };
    ws.onerror = () => m.wsErrors.add(1, { reason: 'socket' });
    ws.onclose = finish;
  });
}
