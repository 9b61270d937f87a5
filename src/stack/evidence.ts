// An embedded run's evidence outlives its stack: the stopped Prometheus TSDB and PostgreSQL data folder are kept
// in <run>/evidence/, and `fleetload verify <run>` starts both again on copies of them to judge the run anew
// (another SLO file, another baseline) with the same PromQL and SQL as the first time.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { infraError } from '../core/errors.js';
import { startEmbeddedPostgres } from './postgres.js';
import { startPrometheus } from './prometheus.js';
import { runFile } from '../core/run-folder.js';


export interface EvidenceFolders {
  dir: string;
  prometheus: string;
  postgres: string;
}

export function evidenceFolders(runDir: string): EvidenceFolders {
  const dir = runFile(runDir, 'evidenceDir');
  return { dir, prometheus: join(dir, 'prometheus'), postgres: join(dir, 'postgres') };
}

/** Both parts present: the run can be judged again. */
function hasEvidence(runDir: string): boolean {
  const f = evidenceFolders(runDir);
  return existsSync(f.prometheus) && existsSync(join(f.postgres, 'PG_VERSION'));
}

/** Bytes under a folder (the figure printed after a run, so nobody is surprised by the disk it takes). */
export function folderBytes(dir: string): number {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) total += folderBytes(p);
    else if (e.isFile()) total += statSync(p).size;
  }
  return total;
}

export interface OpenedEvidence {
  prometheusUrl: string;
  /** Unix-socket URL, no password (see startEmbeddedPostgres's seedData). */
  pgUrl: string;
  stop(): Promise<void>;
}

/** Starts Prometheus (no scrape targets) and PostgreSQL on copies of a run's kept evidence. */
export async function openEvidence(runDir: string, log: (component: string, line: string) => void = () => {}): Promise<OpenedEvidence> {
  const f = evidenceFolders(runDir);
  if (!hasEvidence(runDir)) {
    throw infraError(
      `${f.dir} holds no kept evidence (the run used --no-keep-evidence, was interrupted, or the folder was deleted): ` +
        '`fleetload report` rebuilds the reports from series.json and db-stats.json, but judging again needs the evidence',
    );
  }
  const pg = await startEmbeddedPostgres({ seedData: f.postgres, label: 'verify', log: (l) => log('postgres', l) });
  try {
    const prometheus = await startPrometheus({ scrapeTargets: [], seedData: f.prometheus, label: 'verify', log: (l) => log('prometheus', l) });
    return {
      prometheusUrl: prometheus.url,
      pgUrl: pg.url,
      async stop() {
        await prometheus.stop();
        await pg.stop();
      },
    };
  } catch (e) {
    await pg.stop();
    throw e;
  }
}
