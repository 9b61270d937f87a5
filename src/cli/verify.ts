import type { Command } from 'commander';
import { ExitCode, FleetloadError } from '../core/errors.js';
import { secretFromEnv } from '../core/secrets.js';
import { readManifest } from '../core/manifest.js';
import { formatTable, writeReports } from '../report/index.js';
import { writeRunOutputs } from '../report/run-outputs.js';
import { existsSync, statSync } from 'node:fs';
import { errorReport, exitCodeFor, loadBaseline, loadSloFile, verifyRun } from '../verify/index.js';
import { stripPassword } from '../core/redact.js';
import { evidenceFolders, openEvidence, type OpenedEvidence } from '../stack/evidence.js';
import { stderrLog } from './options.js';

export function registerVerify(program: Command): void {
  program
    .command('verify')
    .description('judge a finished run folder against the SLO file; rewrites its reports (json, md, junit, html)')
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
      const needsServers = slo.objectives.some((x) => x.source !== 'k6');
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
        if (e instanceof FleetloadError && e.exitCode === ExitCode.Infrastructure) writeReports(runDir, errorReport(manifest, e, slo), manifest);
        throw e;
      } finally {
        await evidence?.stop();
      }
      const baselineDir = opts.baseline && existsSync(opts.baseline) && statSync(opts.baseline).isDirectory() ? opts.baseline : undefined;
      writeRunOutputs(runDir, report, manifest, { baselineDir });
      process.stdout.write(`${formatTable(report)}\n`);
      process.exitCode = exitCodeFor(report, opts.failOnWarn);
    });
}
