import type { StopOptions } from './move-dir.js';
import { startEmbeddedPostgres, type EmbeddedPg } from './postgres.js';
import { startPlatformProcess, type PlatformProcess } from './platform-process.js';
import { startPrometheus, waitForFirstScrape, type RunningPrometheus, type ScrapeTarget } from './prometheus.js';

/** The Prometheus job under which the embedded stack scrapes its platform (the default SLO file queries it). */
export const PLATFORM_JOB = 'fleet-platform';

export interface EmbeddedStack {
  pg: EmbeddedPg;
  platform: PlatformProcess;
  prometheus: RunningPrometheus;
  /**
   * Starts the reference platform again on the SAME tcp and http ports (devices reconnect to the same address,
   * Prometheus scrapes the same target) after it died (fault runs: SIGKILL); `platform` then is the new process
   * and stop() stops that one.
   */
  restartPlatform(): Promise<PlatformProcess>;
  /**
   * Stops everything. With `keepData`, Prometheus's TSDB and PostgreSQL's data folder are moved to those folders
   * (after a clean shutdown) instead of being deleted, so that the run can be judged again later (evidence.ts).
   */
  stop(o?: { keepData?: KeepData }): Promise<void>;
}

/** Where the data of the stack's two servers goes when it is kept (evidence.ts's folders). */
export type KeepData = Record<'prometheus' | 'postgres', string>;

export interface EmbeddedStackOptions {
  scrapeIntervalSec?: number;
  platformArgs?: string[];
  log?: (component: string, line: string) => void;
  /** Names the stack's temporary folders (the run id), so its processes can be found in `ps`. */
  label?: string;
  /** More targets for the stack's Prometheus (the load engine's /metrics, which starts later) */
  extraScrapeTargets?: ScrapeTarget[];
}

/**
 * The default target: PostgreSQL, the reference platform and a Prometheus scraping it, all on free
 * loopback ports; it returns once Prometheus has scraped the platform. Whatever started is stopped again if a
 * later part fails, so no process outlives us.
 */
export async function startEmbeddedStack(opts: EmbeddedStackOptions = {}): Promise<EmbeddedStack> {
  const log = opts.log ?? (() => {});
  const started: Array<{ name: 'platform' | keyof KeepData; stop(o?: StopOptions): Promise<void> }> = [];
  const stopAll = async (o: { keepData?: KeepData } = {}) => {
    let firstError: unknown;
    for (const part of started.reverse()) {
      const keepDataIn = part.name === 'platform' ? undefined : o.keepData?.[part.name];
      await part.stop({ keepDataIn }).catch((e: unknown) => {
        log('stack', `stop failed: ${e instanceof Error ? e.message : String(e)}`);
        // the processes are down either way; a failed move of the evidence must not pass unnoticed
        if (keepDataIn && firstError === undefined) firstError = e;
      });
    }
    started.length = 0;
    if (firstError !== undefined) throw firstError;
  };
  try {
    const pg = await startEmbeddedPostgres({ label: opts.label, log: (l) => log('postgres', l) });
    started.push({ name: 'postgres', stop: (o) => pg.stop(o) });
    const platformLog = (l: string) => log('platform', l);
    let platform = await startPlatformProcess({ pgUrl: pg.url, extraArgs: opts.platformArgs, log: platformLog });
    // stops whichever platform process is current (it is replaced by restartPlatform)
    started.push({ name: 'platform', stop: () => platform.stop() });
    const prometheus = await startPrometheus({
      scrapeTargets: [{ job: PLATFORM_JOB, address: `127.0.0.1:${platform.httpPort}` }, ...(opts.extraScrapeTargets ?? [])],
      scrapeIntervalSec: opts.scrapeIntervalSec ?? 1,
      label: opts.label,
      log: (l) => log('prometheus', l),
    });
    started.push({ name: 'prometheus', stop: (o) => prometheus.stop(o) });
    // Prometheus starts scraping a few seconds after it is ready (its target discovery is throttled); counters
    // need a sample from before the load, or the first seconds of a run are missing from every rate.
    await waitForFirstScrape(prometheus.url, PLATFORM_JOB);
    const stack: EmbeddedStack = {
      pg,
      platform,
      prometheus,
      async restartPlatform() {
        const old = platform;
        await old.stop(); // no-op when it is already dead
        platform = await startPlatformProcess({ pgUrl: pg.url, tcpPort: old.tcpPort, httpPort: old.httpPort, extraArgs: opts.platformArgs, log: platformLog });
        stack.platform = platform;
        return platform;
      },
      stop: stopAll,
    };
    return stack;
  } catch (e) {
    await stopAll();
    throw e;
  }
}
