import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { ensureK6Binary, k6Version } from '../stack/k6-binary.js';
import { findPrometheus } from '../stack/prometheus.js';
import { isRoot, toolVersion } from '../stack/tools.js';
import { infraError } from '../core/errors.js';
import { stderrLog } from './options.js';

/** Debian's chromium package installs here; the HTML report test drives it with playwright-core. */
const CHROMIUM = '/usr/bin/chromium';

function aptInstall(packages: string[]): void {
  stderrLog(`apt-get install -y ${packages.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update'], ['install', '-y', '--no-install-recommends', ...packages]]) {
    const r = spawnSync('apt-get', args, { stdio: ['ignore', 'inherit', 'inherit'], env });
    if (r.status !== 0) throw infraError(`apt-get ${args.join(' ')} failed (exit ${r.status}); install ${packages.join(', ')} by hand and run setup again`);
  }
}

export function registerSetup(program: Command): void {
  program
    .command('setup')
    .description('install what fleetload needs: Debian packages (as root) and the k6 binary with k6/x/tcp')
    .option('--k6-only', 'only build k6')
    .option('--rebuild', 'rebuild k6 even if a binary for the current pins exists')
    .option('--test', "also what the test suite needs: Debian's chromium (the HTML report is checked in a real browser)")
    .action(async (opts: { k6Only?: boolean; rebuild?: boolean; test?: boolean }) => {
      if (!opts.k6Only) {
        const missing = [
          !toolVersion('git', ['--version']) && 'git',
          !findPrometheus() && 'prometheus',
          opts.test && !existsSync(CHROMIUM) && 'chromium',
        ].filter((p): p is string => Boolean(p));
        if (missing.length > 0) {
          if (!isRoot()) throw infraError(`missing ${missing.join(', ')}: run \`sudo apt-get install -y ${missing.join(' ')}\` (setup installs them itself only as root)`);
          aptInstall(missing);
        }
      }
      if (!toolVersion('go', ['version'])) throw infraError('Go is needed once to build k6: install Go ≥ 1.25 (https://go.dev/doc/install) and run setup again');
      const started = Date.now();
      const bin = await ensureK6Binary({ log: stderrLog, force: opts.rebuild });
      const v = await k6Version(bin);
      stderrLog(`k6 ${v.version} ready at ${bin} (${((Date.now() - started) / 1000).toFixed(1)} s); extensions: ${v.extensions.map((e) => `${e.module} ${e.version}`).join(', ') || 'none listed'}`);
    });
}
