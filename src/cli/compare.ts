// `fleetload compare <run A> <run B>`: deltas of every objective and headline metric, flagged beyond a
// noise band; writes compare.html/.md/.json and prints the Markdown. Wiring only.
import type { Command } from 'commander';
import { mkdirSync } from 'node:fs';
import { loadRunFolder, RunFolderError } from '../report/capacity/run-folder.js';
import { compareRuns, DEFAULT_NOISE_PCT, renderCompareMarkdown, writeComparison } from '../report/compare.js';
import { parseNoise } from './report.js';
import { badInput, ExitCode } from '../core/errors.js';

export function registerCompare(program: Command): void {
  program
    .command('compare')
    .description('compare two run folders (A = baseline, B = candidate): deltas for every objective and headline metric')
    .argument('<run-a>', 'baseline run folder')
    .argument('<run-b>', 'candidate run folder')
    .option('--noise <pct>', 'changes within ±pct % are noise', String(DEFAULT_NOISE_PCT))
    .option('--out <dir>', 'where compare.html/.md/.json go (default: the folder of run B)')
    .option('--fail-on-regression', 'exit 1 when any objective or headline metric regressed beyond the noise band')
    .action((a: string, b: string, opts: { noise: string; out?: string; failOnRegression?: boolean }) => {
      const noisePct = parseNoise(opts.noise);
      let runs;
      try {
        runs = [loadRunFolder(a), loadRunFolder(b)];
      } catch (e) {
        if (e instanceof RunFolderError) throw badInput(e.message, e);
        throw e;
      }
      const c = compareRuns(runs[0], runs[1], { noisePct });
      const out = opts.out ?? runs[1].dir;
      mkdirSync(out, { recursive: true });
      const files = writeComparison(out, c);
      process.stdout.write(renderCompareMarkdown(c));
      process.stderr.write(`compare: ${files.html}\n`);
      if (opts.failOnRegression && c.regressions > 0) process.exitCode = ExitCode.SloBreach;
    });
}
