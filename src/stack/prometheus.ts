import { spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants, cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { infraError } from '../core/errors.js';
import { spawnTracked, stopChild } from './children.js';
import { moveDir, type StopOptions } from './move-dir.js';
import { freePort } from './ports.js';

export interface ScrapeTarget {
  job: string;
  /** host:port */
  address: string;
  metricsPath?: string;
}

export interface PrometheusOptions {
  scrapeTargets: ScrapeTarget[];
  scrapeIntervalSec?: number;
  port?: number;
  log?: (line: string) => void;
  /** Goes into the temporary folder's name, so a run's processes can be told apart in `ps`. */
  label?: string;
  /** Start on a copy of this stored TSDB folder (re-verifying a finished run); the folder itself is never touched. */
  seedData?: string;
}

export interface RunningPrometheus {
  url: string;
  scrapeIntervalSec: number;
  version: string;
  stop(o?: StopOptions): Promise<void>;
}

/** The prometheus binary: $PROMETHEUS_BIN, else the first `prometheus` on PATH (Debian installs /usr/bin/prometheus). */
export function findPrometheus(): string | undefined {
  const fromEnv = process.env.PROMETHEUS_BIN;
  const candidates = fromEnv ? [fromEnv] : (process.env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, 'prometheus'));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // not here
    }
  }
  return undefined;
}

export function prometheusVersion(bin: string): string {
  const out = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  const m = /version (\S+)/.exec(`${out.stdout}${out.stderr}`);
  return m ? m[1] : 'unknown';
}

function scrapeConfig(targets: ScrapeTarget[], intervalSec: number): string {
  // Short intervals so that a 30-second smoke run still has enough points to judge.
  const jobs = targets
    .map(
      (t) => `  - job_name: ${JSON.stringify(t.job)}
    metrics_path: ${JSON.stringify(t.metricsPath ?? '/metrics')}
    static_configs:
      - targets: [${JSON.stringify(t.address)}]`,
    )
    .join('\n');
  return `global:
  scrape_interval: ${intervalSec}s
  evaluation_interval: ${intervalSec}s
scrape_configs:${jobs ? `\n${jobs}` : ' []'}
`;
}

/** Starts Debian's Prometheus scraping the given targets (nothing is pushed to it: the engine is scraped too). */
export async function startPrometheus(opts: PrometheusOptions): Promise<RunningPrometheus> {
  const bin = findPrometheus();
  if (!bin) {
    throw infraError(
      'prometheus not found: install it with `apt-get install -y prometheus` (Debian/Ubuntu) or set PROMETHEUS_BIN to its path',
    );
  }
  const interval = opts.scrapeIntervalSec ?? 1;
  const port = opts.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), `fleetload-prom-${opts.label ? `${opts.label}-` : ''}`));
  const configFile = join(dir, 'prometheus.yml');
  const dataDir = join(dir, 'data');
  writeFileSync(configFile, scrapeConfig(opts.scrapeTargets, interval));
  if (opts.seedData) cpSync(opts.seedData, dataDir, { recursive: true });
  const prom = spawnPrometheus(bin, configFile, dataDir, port, opts.log ?? (() => {}));
  const url = `http://127.0.0.1:${port}`;
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  await waitUntilReady(prom, url, cleanup);
  return {
    url,
    scrapeIntervalSec: interval,
    version: prometheusVersion(bin),
    async stop(o: StopOptions = {}) {
      await stopChild(prom.child, 10_000);
      if (o.keepDataIn) moveDir(dataDir, o.keepDataIn);
      cleanup();
    },
  };
}

interface SpawnedPrometheus {
  child: ChildProcess;
  /** the last 4,000 characters it wrote, for start-up errors */
  output(): string;
}

/** Runs prometheus on loopback; its output goes to `log` line by line and the tail is kept for errors. */
function spawnPrometheus(bin: string, configFile: string, dataDir: string, port: number, log: (line: string) => void): SpawnedPrometheus {
  const child = spawnTracked(
    bin,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${dataDir}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--storage.tsdb.retention.time=2d',
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const collect = (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    output = (output + text).slice(-4000);
    for (const line of text.split('\n')) if (line.trim()) log(line);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  return { child, output: () => output };
}

/** Polls /-/ready every 100 ms for at most 30 s; on failure the process is gone and `cleanup` has run. */
async function waitUntilReady({ child, output }: SpawnedPrometheus, url: string, cleanup: () => void): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) {
      cleanup();
      throw infraError(`prometheus exited during start-up (code ${child.exitCode}): ${output().trim().slice(-600)}`);
    }
    try {
      const res = await fetch(`${url}/-/ready`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stopChild(child, 2000);
      cleanup();
      throw infraError(`prometheus did not become ready on ${url} within 30 s: ${output().trim().slice(-600)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Waits until Prometheus has scraped `job` successfully once (up == 1). */
export async function waitForFirstScrape(prometheusUrl: string, job: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const url = `${prometheusUrl}/api/v1/query?query=${encodeURIComponent(`up{job="${job}"} == 1`)}`;
  while (Date.now() < deadline) {
    try {
      const body = (await (await fetch(url)).json()) as { data?: { result?: unknown[] } };
      if ((body.data?.result?.length ?? 0) > 0) return;
    } catch {
      // not answering yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw infraError(`Prometheus did not scrape job ${job} within ${timeoutMs / 1000} s`);
}
