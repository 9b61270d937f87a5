import { InvalidArgumentError, type Command } from 'commander';
import { runCapacitySearch } from '../run/capacity-search.js';
import { collect, intOption, stderrLog } from './options.js';

function numberOption(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+(\.\d+)?$/.test(value) || !Number.isFinite(n)) throw new InvalidArgumentError(`${flag}: expected a number, got "${value}"`);
    return n;
  };
}

export function registerCapacity(program: Command): void {
  program
    .command('capacity')
    .description('search for the platform\'s capacity on the embedded stack: grow the fleet step by step until an SLO breaks, then narrow down between the last pass and the first fail')
    .requiredOption('-p, --profile <name|file>', 'the fleet shape: interval, parked interval, records per packet, codec mix, API and WebSocket load (e.g. capacity-search)')
    .option('--slo <file>', 'SLO file each step is judged by (default: the profile\'s, else the shipped default)')
    .option('--start-devices <n>', 'devices of the first step (default: the profile\'s first step, else a tenth of its devices)', intOption('--start-devices'))
    .option('--max-devices <n>', 'never test more devices than this (default: 4 × the profile\'s largest count)', intOption('--max-devices'))
    .option('--generator-max-devices <n>', 'the load generator\'s own limit: a search that reaches it without a failure is generator-bound (a lower bound)', intOption('--generator-max-devices'))
    .option('--growth <factor>', 'factor between steps until the first failure', numberOption('--growth'), 2)
    .option('--resolution <share>', 'stop narrowing when the bracket is within this share of the failing count', numberOption('--resolution'), 0.1)
    .option('--max-bisect-steps <n>', 'at most this many steps after the first failure', intOption('--max-bisect-steps'), 4)
    .option('--hold <d>', 'how long each step runs (the steady part is found from its measurements)', '60s')
    .option('--max-duration <d>', 'the whole search stops by itself before this (default: the profile\'s maxDuration)')
    .option('--api-per-1000 <rate>', 'REST API requests/s per 1,000 devices (default: the profile\'s rate per its device count)', numberOption('--api-per-1000'))
    .option('--ws-per-1000 <n>', 'WebSocket clients per 1,000 devices (default: the profile\'s per its device count)', numberOption('--ws-per-1000'))
    .option('--planned-devices <n>', 'planned fleet size: headroom and database growth; exit 1 when it exceeds the capacity found', intOption('--planned-devices'))
    .option('--reports-dir <dir>', 'where run folders go (default: reports/)')
    .option('--run-id <id>', 'run id (default: <profile>-search-<UTC time>-<random>)')
    .option('--platform-arg <arg>', 'extra flag for the embedded reference platform, e.g. --platform-arg=--writer-concurrency=1 (repeatable)', collect, [])
    .option('--workers <n>', 'engine worker threads (default: by the fleet size)', intOption('--workers'))
    .option('--no-keep-evidence', 'delete the stack\'s Prometheus and PostgreSQL data at the end instead of keeping them in <run>/evidence/')
    .action(async (opts: {
      profile: string; slo?: string; startDevices?: number; maxDevices?: number; generatorMaxDevices?: number; growth: number; resolution: number; maxBisectSteps: number;
      hold: string; maxDuration?: string; apiPer1000?: number; wsPer1000?: number; plannedDevices?: number; reportsDir?: string; runId?: string; platformArg: string[];
      workers?: number; keepEvidence: boolean;
    }) => {
      const outcome = await runCapacitySearch({ ...opts, platformArgs: opts.platformArg, log: stderrLog });
      process.exitCode = outcome.exitCode;
    });
}
