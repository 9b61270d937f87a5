import type { Command } from 'commander';
import { writeK6Bundle } from '../run/k6-bundle.js';
import { intOption, stderrLog } from './options.js';

export function registerK6(program: Command): void {
  const k6 = program.command('k6').description('a k6 script bundle for teams that run their own k6 build with grafana/xk6-tcp (fleetload runs no k6)');
  k6.command('bundle')
    .description('write devices.js (the device model over k6/x/tcp, thresholds from the SLO file, testid tagging), a k6-operator TestRun example and thresholds.json')
    .requiredOption('-p, --profile <name|file>', 'profile name (scenarios/profiles/<name>.yaml) or path')
    .requiredOption('--out <dir>', 'folder to write the bundle into')
    .option('--tcp <host:port>', 'bake in the device target (k6 run -e FLEET_TCP=host:port overrides it; default: given at run time)')
    .option('--http <url>', "bake in the platform's HTTP API base URL for the API/WebSocket clients (k6 run -e FLEET_HTTP=… overrides it)")
    .option('--slo <file>', 'SLO file the thresholds come from (default: the profile\'s, else src/verify/default-slo.yaml)')
    .option('--run-id <id>', 'run id: the testid tag of every sample and part of the IMEI seed (default: k6-<profile>-<UTC time>-<random>)')
    .option('--devices <n>', 'override the number of simulated devices', intOption('--devices'))
    .option('--duration <d>', 'override how long devices send (e.g. 30s, 10m)')
    .option('--devices-per-vu <n>', 'devices one k6 VU drives (default 500)', intOption('--devices-per-vu'))
    .option('--trend-sample-every <n>', 'record latency samples for one event in n (bounds k6 Trend memory on long runs; default 1)', intOption('--trend-sample-every'))
    .action(async (opts: { profile: string; out: string; tcp?: string; http?: string; slo?: string; runId?: string; devices?: number; duration?: string; devicesPerVu?: number; trendSampleEvery?: number }) => {
      await writeK6Bundle({ ...opts, outDir: opts.out, log: stderrLog });
    });
}
