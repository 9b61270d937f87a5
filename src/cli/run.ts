import type { Command } from 'commander';
import { runLoad } from '../run/run.js';
import { collect, intOption, listOption, stderrLog } from './options.js';
import { secretFromEnv } from '../core/secrets.js';

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run a load profile and judge it against the SLO file; with no --tcp, on the embedded stack')
    .requiredOption('-p, --profile <name|file>', 'profile name (scenarios/profiles/<name>.yaml) or path')
    .option('--devices <n>', 'override the number of simulated devices', intOption('--devices'))
    .option('--duration <d>', 'override how long devices send (e.g. 30s, 10m)')
    .option('--slo <file>', 'SLO file (default: the shipped default SLO set)')
    .option('--baseline <run-dir|report.json>', 'earlier run for relative criteria')
    .option('--fail-on-warn', 'exit 1 when the verdict is warn')
    .option('--planned-devices <n>', 'planned fleet size: the report computes headroom and database growth for it', intOption('--planned-devices'))
    .option('--reports-dir <dir>', 'where run folders go (default: reports/)')
    .option('--run-id <id>', 'run id (default: <profile>-<UTC time>-<random>)')
    .option('--tcp <host:port>', "your platform's Teltonika TCP listener (external target; needs --prometheus-url)")
    .option('--http <url>', "your platform's HTTP API / WebSocket base URL, e.g. http://staging:3000 (external target; enables the profile's API and WebSocket clients)")
    .option('--prometheus-url <url>', 'Prometheus that scrapes your platform (and the engine, job fleetload-engine) (external target); credentials: http://user:pass@host, or PROMETHEUS_USERNAME + PROMETHEUS_PASSWORD(_FILE), or PROMETHEUS_BEARER_TOKEN(_FILE)')
    .option('--pg-url <url>', 'PostgreSQL of your platform (or PG_URL / PG_URL_FILE); the password is never printed')
    .option('--allow-target <host>', 'allow load to this non-loopback host (repeatable; also FLEETLOAD_ALLOW_TARGETS=host1,host2)', collect, [])
    .option('--platform-arg <arg>', 'extra flag for the embedded reference platform, e.g. --platform-arg=--fault-tcp-reset-per-sec=2 (repeatable)', collect, [])
    .option('--workers <n>', 'engine worker threads for devices (default: one per core, fewer for small fleets; 0 = main thread)', intOption('--workers'))
    .option('--metrics-port <port>', "the engine's /metrics port (default: a free port on the embedded stack; 9464 for an external target, where your Prometheus scrapes it)", intOption('--metrics-port'))
    .option('--source-addresses <list>', 'comma-separated local addresses to spread device connections over (e.g. 127.0.0.2,127.0.0.3)', listOption)
    .option('--web [port]', 'serve a live view of the run in the browser while it runs (read-only, on 127.0.0.1; default port 9470, 0 = a free one)')
    .option('--web-host <address>', "the live view's address (default 127.0.0.1; it must be one of this machine's addresses)")
    .option('--no-keep-evidence', "embedded stack: delete its Prometheus and PostgreSQL data at the end instead of keeping them in <run>/evidence/ for `fleetload verify`")
    .action(async (opts: {
      keepEvidence: boolean; profile: string; devices?: number; plannedDevices?: number; duration?: string; slo?: string; baseline?: string; failOnWarn?: boolean;
      reportsDir?: string; runId?: string; tcp?: string; http?: string; prometheusUrl?: string; pgUrl?: string; allowTarget: string[]; platformArg: string[];
      workers?: number; metricsPort?: number; sourceAddresses?: string[]; web?: string | true; webHost?: string;
    }) => {
      const outcome = await runLoad({ ...opts, platformArgs: opts.platformArg, pgUrl: opts.pgUrl ?? secretFromEnv('PG_URL'), log: stderrLog });
      process.exitCode = outcome.exitCode;
    });
}
