import type { Command } from 'commander';
import { mergeShards } from '../run/merge.js';
import { stderrLog } from './options.js';

export function registerMerge(program: Command): void {
  program
    .command('merge')
    .description('join the folders of a sharded run (fleetload generate --shard i/n --out DIR) into one run folder that `fleetload verify` judges as one run')
    .argument('<shard-dir...>', 'the shard folders (each holds shard.json, engine-summary.json and ledger/)')
    .requiredOption('--out <run-dir>', 'the run folder to write: engine-summary.json, run.json, ledger/, shards.json')
    .option('--prometheus-url <url>', "the Prometheus that scraped the shards and the platform (recorded in run.json for verify)")
    .option('--pg-url <url>', "the platform's PostgreSQL (recorded without its password; or PG_URL)")
    .action((dirs: string[], opts: { out: string; prometheusUrl?: string; pgUrl?: string }) => {
      const outcome = mergeShards({ shardDirs: dirs, out: opts.out, prometheusUrl: opts.prometheusUrl, pgUrl: opts.pgUrl ?? process.env.PG_URL, log: stderrLog });
      process.exitCode = outcome.exitCode;
    });
}
