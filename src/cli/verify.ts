import type { Command } from 'commander';
import { ExitCode, FleetloadError } from '../core/errors.js';
import { secretFromEnv } from '../core/secrets.js';
import { readManifest } from '../core/manifest.js';
import { formatTable, writeReports } from '../report/index.js';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { errorReport, exitCodeFor, loadBaseline, loadSloFile, verifyRun } from '../verify/index.js';
import { stripPassword } from '../core/redact.js';
import { evidenceFolders, openEvidence, type OpenedEvidence } from '../stack/evidence.js';
import { stderrLog } from './options.js';

export function registerVerify(program: Command): void {
  program
    .command('verify')
    .description('judge a finished run folder against the SLO file; writes the verdict to <run-dir>/verify-<time>/ (report.json, .md, junit.xml), never over the run\'s own outputs')
    .argument('<run-dir>', 'run folder (holds run.json)')
    .option('--slo <file>', 'SLO file (default: the shipped default SLO set)')
    .option('--baseline <run-dir|report.json>', 'earlier run for relative criteria such as "<=+10%"')
    .option('--fail-on-warn', 'exit 1 when the verdict is warn')
    .option('--prometheus-url <url>', 'Prometheus holding the run (default: the one in the manifest); credentials in the URL or PROMETHEUS_PASSWORD(_FILE) / PROMETHEUS_BEARER_TOKEN(_FILE)')
    .option('--pg-url <url>', 'PostgreSQL of the platform (or PG_URL / PG_URL_FILE; default: the manifest URL, password from PGPASSWORD)')
    .addHelpText(
      'after',
      '\nAn embedded run is judged from the Prometheus and PostgreSQL data it kept in <run-dir>/evidence/: both are\nstarted again on copies of it (no load, no network). External runs are judged against the URLs above.',
    )
    .action(async (runDir: string, opts: { slo?: string; baseline?: string; failOnWarn?: boolean; prometheusUrl?: string; pgUrl?: string }) => {
      const slo = loadSloFile(opts.slo);
      const manifest = readManifest(runDir);
      const baseline = opts.baseline ? loadBaseline(opts.baseline).report : undefined;
      const explicitPg = opts.pgUrl ?? secretFromEnv('PG_URL');
      // the embedded stack is gone; its kept data stands in for it unless the user points elsewhere (and an SLO
      // file judged from the k6 summary alone needs neither)
      const needsServers = slo.objectives.some((x) => x.source === 'prometheus' || x.source === 'postgres' || x.source === 'ledger');
      // one folder per verification: the run's own report stays as the run judged it
      const outDir = verificationDir(runDir);
      const fromEvidence = manifest.target.embedded && needsServers && !opts.prometheusUrl && !explicitPg;
      let report;
      let evidence: OpenedEvidence | undefined;
      try {
        if (fromEvidence) {
          stderrLog(`starting Prometheus and PostgreSQL on copies of ${evidenceFolders(runDir).dir}`);
          evidence = await openEvidence(runDir);
        }
        const pgUrl = evidence?.pgUrl ?? explicitPg ?? (manifest.postgres ? stripPassword(manifest.postgres.url) : undefined);
        const prometheusUrl = evidence?.prometheusUrl ?? opts.prometheusUrl ?? manifest.prometheus.url;
        report = await verifyRun({ slo, manifest, runDir, prometheusUrl, pgUrl, baseline, failOnWarn: opts.failOnWarn });
      } catch (e) {
        // Leave a report behind for CI when the evidence could not be read; bad input stays a plain error.
        if (e instanceof FleetloadError && e.exitCode === ExitCode.Infrastructure) writeReports(mkdir(outDir), errorReport(manifest, e, slo), manifest);
        throw e;
      } finally {
        await evidence?.stop();
      }
      writeReports(mkdir(outDir), report, manifest);
      process.stdout.write(`${formatTable(report)}\nverdict written to ${outDir}\n`);
      process.exitCode = exitCodeFor(report, opts.failOnWarn);
    });
}

/** <run>/verify-<UTC time, filesystem-safe>/; a suffix when two verifications start in the same millisecond. */
export function verificationDir(runDir: string, now: Date = new Date()): string {
  const base = join(runDir, `verify-${now.toISOString().replace(/[:.]/g, '-')}`);
  let dir = base;
  for (let n = 2; existsSync(dir); n++) dir = `${base}-${n}`;
  return dir;
}

function mkdir(dir: string): string {
  mkdirSync(dir, { recursive: true });
  return dir;
}
