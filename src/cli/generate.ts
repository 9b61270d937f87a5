import type { Command } from 'commander';
import { generateLoad } from '../run/generate.js';
import { collect, intOption, listOption, stderrLog } from './options.js';

export function registerGenerate(program: Command): void {
  program
    .command('generate')
    .description('run the load engine alone against any Teltonika server: no embedded stack, no verdict')
    .requiredOption('-p, --profile <name|file>', 'profile name (scenarios/profiles/<name>.yaml) or path')
    .requiredOption('--tcp <host:port>', "the server's Teltonika TCP listener")
    .option('--http <url>', "the server's HTTP API / WebSocket base URL (enables the profile's API and WebSocket clients)")
    .option('--devices <n>', 'override the number of simulated devices', intOption('--devices'))
    .option('--duration <d>', 'override how long devices send (e.g. 30s, 10m)')
    .option('--workers <n>', 'engine worker threads for devices (default: one per core, fewer for small fleets; 0 = main thread)', intOption('--workers'))
    .option('--summary <file>', 'write the engine summary (JSON) here')
    .option('--out <dir>', 'keep the ACK ledger (ledger/*.bin) and engine-summary.json in this folder')
    .option('--metrics-port <port>', 'serve the engine\'s Prometheus metrics on this port while it runs', intOption('--metrics-port'))
    .option('--source-addresses <list>', 'comma-separated local addresses to spread device connections over (e.g. 127.0.0.2,127.0.0.3)', listOption)
    .option('--allow-target <host>', 'allow load to this non-loopback host (repeatable; also FLEETLOAD_ALLOW_TARGETS)', collect, [])
    .option('--run-id <id>', 'run id (labels the metrics; default: generate-<profile>-<UTC time>-<random>); every shard of a run must share it')
    .option('--shard <i/n>', 'run shard i of n (0-based, e.g. $JOB_COMPLETION_INDEX/4): the devices j with j mod n = i; needs --run-id, --start-at and --out; `fleetload merge` joins the shard folders')
    .option('--start-at <iso>', 'the common start instant of every shard (ISO, in the future); a shard that starts later than it is reported')
    .option('--prometheus-url <url>', "check this machine's clock against Prometheus's time() (without --http; --http checks against the target's Date header)")
    .option('--web [port]', 'serve a live view of the run in the browser while it runs (read-only, on 127.0.0.1; default port 9470, 0 = a free one)')
    .option('--web-host <address>', "the live view's address (default 127.0.0.1; it must be one of this machine's addresses)")
    .option('--start-tolerance <ms>', 'late start or clock skew beyond this many ms makes the shard invalid (default 500)', intOption('--start-tolerance'))
    .action(async (opts: { profile: string; tcp: string; http?: string; devices?: number; duration?: string; workers?: number; summary?: string; out?: string; metricsPort?: number; sourceAddresses?: string[]; allowTarget: string[]; runId?: string; shard?: string; startAt?: string; prometheusUrl?: string; startTolerance?: number; web?: string | true; webHost?: string }) => {
      const outcome = await generateLoad({ ...opts, startToleranceMs: opts.startTolerance, log: stderrLog });
      process.exitCode = outcome.exitCode;
    });
}
