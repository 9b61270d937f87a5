// API and WebSocket clients in k6 against the reference platform (embedded stack): WebSocket freshness is measured and
// expected vs received records agree; API requests carry their endpoint tag; 429 is counted apart from errors.
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadApiConfig } from '../../src/run/profile.js';
import { startEmbeddedStack, type EmbeddedStack } from '../../src/stack/embedded-stack.js';
import { ensureK6Binary } from '../../src/stack/k6-binary.js';
import { baseConfig, count, runScenario } from './k6-helpers.js';
import { startTeltonikaServer } from './teltonika-server.js';

let k6 = '';
let stack: EmbeddedStack | undefined;
beforeAll(async () => {
  k6 = await ensureK6Binary();
  stack = await startEmbeddedStack({ label: 'scen-clients' });
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});

const api = (rate: number) => {
  const a = loadApiConfig('default');
  return { source: a.configName, endpoints: a.endpoints, headers: a.headers, tokenEnv: a.tokenEnv, rate, startMs: 1000, durationMs: 6000, preAllocatedVUs: 2, maxVUs: 10, timeoutMs: 5000 };
};

describe('API and WebSocket clients', () => {
  it('runs on an embedded stack that returns only once Prometheus has scraped the platform', async () => {
    // counters need a sample from before the load, or a run's first seconds are missing from every rate
    const q = encodeURIComponent('up{job="fleet-platform"}');
    const body = (await (await fetch(`${stack!.prometheus.url}/api/v1/query?query=${q}`)).json()) as { data: { result: Array<{ value: [number, string] }> } };
    expect(body.data.result.map((r) => r.value[1])).toEqual(['1']);
  });

  it('measure WebSocket freshness and expected vs received records; call every endpoint of the default API config', async () => {
    const s = stack!;
    const cfg = baseConfig(s.platform.tcpPort, {
      runId: 'scen-ws',
      seed: 21,
      devices: 12,
      devicesPerVu: 12,
      durationSec: 8,
      httpUrl: `http://127.0.0.1:${s.platform.httpPort}`,
      api: api(8),
      ws: { clients: 2, subscribe: 'all', startMs: 500, durationMs: 7500, graceMs: 2000, tokenEnv: 'FLEET_API_TOKEN' },
    });
    const res = await runScenario(k6, cfg, [], {}, 90_000);
    expect(res.code, res.stderr).toBe(0);
    expect(count(res, 'fleet_records_acked')).toBe(count(res, 'fleet_records_sent'));
    const fresh = res.metrics.fleet_ws_freshness;
    expect(fresh?.count).toBeGreaterThan(50);
    expect(fresh['p(95)']).toBeGreaterThan(0);
    expect(fresh['p(95)']).toBeLessThan(2000);
    const expected = count(res, 'fleet_ws_records_expected');
    const received = count(res, 'fleet_ws_records_received');
    expect(expected).toBeGreaterThan(40);
    // ±1 per device and window edge (see scenarios/lib/ws.ts)
    expect(Math.abs(expected - received)).toBeLessThanOrEqual(2 * 12 * 2);
    expect(count(res, 'fleet_ws_records_missed')).toBeLessThanOrEqual(2 * 12 * 2);
    expect(count(res, 'fleet_api_requests')).toBeGreaterThan(20);
    expect(count(res, 'fleet_api_errors')).toBe(0);
    expect(res.metrics.http_req_failed?.rate ?? 0).toBe(0);
  }, 120_000);

  it('counts 429 as throttled, not as an error; a 500 is an error', async () => {
    let n = 0;
    const server = http.createServer((_req, res) => {
      n++;
      res.statusCode = n % 2 === 0 ? 429 : n % 7 === 0 ? 500 : 200;
      res.end('{}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const tcp = await startTeltonikaServer();
    try {
      const port = (server.address() as { port: number }).port;
      const cfg = baseConfig(tcp.port, { runId: 'scen-429', devices: 1, durationSec: 4, httpUrl: `http://127.0.0.1:${port}`, api: { ...api(10), startMs: 0, durationMs: 3000 } });
      const res = await runScenario(k6, cfg, [], { FLEET_API_TOKEN: 'secret-token-value' });
      expect(res.code, res.stderr).toBe(0);
      const throttled = count(res, 'fleet_api_throttled');
      expect(throttled).toBeGreaterThan(5);
      expect(count(res, 'fleet_api_errors')).toBeGreaterThan(0);
      expect(count(res, 'fleet_api_errors')).toBeLessThan(throttled);
      expect(res.stdout + res.stderr).not.toContain('secret-token-value');
    } finally {
      server.close();
      await tcp.close();
    }
  }, 60_000);
});
