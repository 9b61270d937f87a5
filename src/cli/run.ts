import type { Command } from 'commander';
import { runLoad } from '../run/run.js';
import { collect, intOption, stderrLog } from './options.js';
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
    .option('--prometheus-url <url>', 'Prometheus that scrapes your platform and accepts remote write (external target); credentials: http://user:pass@host, or PROMETHEUS_USERNAME + PROMETHEUS_PASSWORD(_FILE), or PROMETHEUS_BEARER_TOKEN(_FILE)')
    .option('--pg-url <url>', 'PostgreSQL of your platform (or PG_URL / PG_URL_FILE); the password is never printed')
    .option('--allow-target <host>', 'allow load to this non-loopback host (repeatable; also FLEETLOAD_ALLOW_TARGETS=host1,host2)', collect, [])
    .option('--platform-arg <arg>', 'extra flag for the embedded reference platform, e.g. --platform-arg=--fault-tcp-reset-per-sec=2 (repeatable)', collect, [])
    .option('--no-keep-evidence', "embedded stack: delete its Prometheus and PostgreSQL data at the end instead of keeping them in <run>/evidence/ for `fleetload verify`")
    .action(async (opts: {
      keepEvidence: boolean; profile: string; devices?: number; plannedDevices?: number; duration?: string; slo?: string; baseline?: string; failOnWarn?: boolean;
      reportsDir?: string; runId?: string; tcp?: string; http?: string; prometheusUrl?: string; pgUrl?: string; allowTarget: string[]; platformArg: string[];
    }) => {
      const outcome = await runLoad({ ...opts, platformArgs: opts.platformArg, pgUrl: opts.pgUrl ?? secretFromEnv('PG_URL'), log: stderrLog });
      process.exitCode = outcome.exitCode;
    });
}
