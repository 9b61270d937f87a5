// Runs the bundled scenario (dist/scenarios/devices.js) with the real k6 binary and returns its summary.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FleetConfig } from '../../src/sim/fleet-config.js';
import { k6Env } from '../../src/stack/k6-binary.js';
import { repoRoot } from '../../src/stack/repo-root.js';

export interface K6Outcome {
  code: number | null;
  stderr: string;
  stdout: string;
  metrics: Record<string, Record<string, number>>;
}

const work = mkdtempSync(join(tmpdir(), 'fleetload-scen-'));
let n = 0;

export const baseConfig = (port: number, over: Partial<FleetConfig> = {}): FleetConfig => ({
  runId: 'test',
  seed: 11,
  devices: 4,
  durationSec: 4,
  intervalMs: 1000,
  recordsPerPacket: 1,
  codec: 8,
  devicesPerVu: 4,
  ackTimeoutMs: 1000,
  reconnectBaseMs: 200,
  reconnectMaxMs: 1000,
  tcpHost: '127.0.0.1',
  tcpPort: port,
  centre: { latitude: 44.7722, longitude: 17.191 },
  ...over,
});

export function runScenario(k6: string, config: FleetConfig, args: string[] = [], env: Record<string, string> = {}, timeoutMs = 60_000): Promise<K6Outcome> {
  const summary = join(work, `summary-${++n}.json`);
  const argv = ['run', '--quiet', '--no-color', '--tag', `testid=${config.runId}`, '-e', `FLEET_CONFIG=${JSON.stringify(config)}`, '-e', `FLEET_SUMMARY_FILE=${summary}`, ...args, join(repoRoot(), 'dist', 'scenarios', 'devices.js')];
  return new Promise((resolve, reject) => {
    const child = spawn(k6, argv, { env: k6Env({ K6_NO_USAGE_REPORT: 'true', ...env }), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      let metrics: K6Outcome['metrics'] = {};
      try {
        const data = JSON.parse(readFileSync(summary, 'utf8')) as { metrics: Record<string, { values: Record<string, number> }> };
        metrics = Object.fromEntries(Object.entries(data.metrics).map(([k, v]) => [k, v.values]));
      } catch {
        /* no summary: the assertions say so */
      }
      resolve({ code, stderr, stdout, metrics });
    });
  });
}

export const count = (o: K6Outcome, metric: string) => o.metrics[metric]?.count ?? 0;
