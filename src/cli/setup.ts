import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { findPrometheus } from '../stack/prometheus.js';
import { isRoot } from '../stack/tools.js';
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
    .description('install the Debian packages fleetload needs (as root): prometheus for the embedded stack')
    .option('--test', "also what the test suite needs: Debian's chromium (the HTML report is checked in a real browser)")
    .action((opts: { test?: boolean }) => {
      const missing = [!findPrometheus() && 'prometheus', opts.test && !existsSync(CHROMIUM) && 'chromium'].filter((p): p is string => Boolean(p));
      if (missing.length > 0) {
        if (!isRoot()) throw infraError(`missing ${missing.join(', ')}: run \`sudo apt-get install -y ${missing.join(' ')}\` (setup installs them itself only as root)`);
        aptInstall(missing);
      }
      stderrLog(`ready: prometheus ${findPrometheus() ?? '(missing)'}${opts.test ? `, chromium ${existsSync(CHROMIUM) ? CHROMIUM : '(missing)'}` : ''}; the load engine is part of fleetload (Node only)`);
    });
}
