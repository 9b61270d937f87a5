// `fleetload platform`: runs the reference fleet platform in the foreground. Wiring only; the platform lives
// in src/platform. Contract: once listening, exactly one JSON line on stdout
// {"event":"ready","tcpPort":N,"httpPort":N}; every log line goes to stderr; SIGTERM/SIGINT shut down
// gracefully (flush, pending ACKs, close) and exit 0. A crash (uncaught exception, unhandled rejection) stops
// the embedded PostgreSQL and removes its temporary folder before exiting 1, so no server or folder is left behind.
import { readFileSync } from 'node:fs';
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { Logger } from 'pino';
import { DEFAULTS, INT_SETTINGS, describePgUrl, resolveConfig, type IntSetting, type PlatformOptions } from '../platform/config.js';
import { parseFaults, type FaultSettings } from '../platform/faults.js';
import { defaultLogger, startPlatform, type PlatformHandle, type StartPlatformOptions } from '../platform/platform.js';
import { badInput, infraError } from '../core/errors.js';
import { collect, intOption } from './options.js';
import { secretFromEnv } from '../core/secrets.js';

/** What commander parses; the whole-number settings arrive under their flag's attribute name (see INT_SETTINGS). */
interface PlatformFlags {
  pgUrl?: string;
  pgUrlFile?: string;
  pgDataDir?: string;
  host: string;
  allowImei: string[];
  allowImeisFile?: string;
  apiTokenFile?: string;
  logLevel: string;
  exitWithParent?: boolean;
  faultHttpLatencyMs?: number;
  faultHttpErrorRatio?: number;
  faultAckedNotStoredRatio?: number;
  faultDuplicateRatio?: number;
  faultInsertDelayMs?: number;
  faultTcpResetPerSec?: number;
  enableAdmin: boolean;
  [intFlag: string]: unknown;
}

/** The flagged whole-number settings, each with the commander Option that reads it (and names its attribute). */
function intOptions(): Array<{ key: IntSetting['key']; option: Option }> {
  return INT_SETTINGS.filter((s) => s.flag !== undefined).map((s) => {
    const flag = s.flag as string;
    return { key: s.key, option: new Option(flag, s.help).argParser(intOption(flag.split(' ')[0])).default(DEFAULTS[s.key]) };
  });
}

const ratio = (flag: string) => (v: string): number => {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError(`${flag}: expected a number from 0 to 1, got "${v}"`);
  return n;
};
const nonNegative = (flag: string) => (v: string): number => {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`${flag}: expected a number >= 0, got "${v}"`);
  return n;
};

function readText(what: string, file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (e) {
    throw badInput(`${what}: cannot read ${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

export function registerPlatform(program: Command): void {
  const d = DEFAULTS;
  const command = program
    .command('platform')
    .description(
      'run the reference fleet platform (Teltonika TCP ingest, HTTP API, WebSocket feed, /metrics) in the foreground; ' +
        'prints {"event":"ready",...} on stdout when listening; logs go to stderr',
    )
    .option('--pg-url <url>', 'PostgreSQL URL (also PG_URL or PG_URL_FILE); without one an embedded PostgreSQL is started')
    .option('--pg-url-file <path>', 'file holding the PostgreSQL URL')
    .option('--pg-data-dir <dir>', 'data folder of the embedded PostgreSQL (default: a temporary folder)')
    .option('--host <host>', 'address to listen on', d.host)
    .option('--allow-imei <imei>', 'only let this IMEI log in (repeatable)', collect, [])
    .option('--allow-imeis-file <path>', 'only let the IMEIs in this file log in (one per line)')
    .option('--api-token-file <path>', 'bearer token for /v1, /admin and /ws (or FLEET_API_TOKEN / FLEET_API_TOKEN_FILE)');
  for (const { option } of intOptions()) command.addOption(option);
  command
    .option('--exit-with-parent', 'shut down when the process that started this one is gone (the embedded stack sets it, so a killed run leaves no platform behind)', false)
    .option('--enable-admin', 'serve /admin/* (fault knobs, device link drop); needs an API token unless --host is loopback', false)
    .option('--log-level <level>', 'pino log level', process.env.LOG_LEVEL ?? 'info')
    .option('--fault-http-latency-ms <ms>', 'FAULT: extra latency on /v1/* requests', nonNegative('--fault-http-latency-ms'))
    .option('--fault-http-error-ratio <r>', 'FAULT: share of /v1/* requests answered 500', ratio('--fault-http-error-ratio'))
    .option('--fault-acked-not-stored-ratio <r>', 'FAULT: share of records ACKed but never stored', ratio('--fault-acked-not-stored-ratio'))
    .option('--fault-duplicate-ratio <r>', 'FAULT: share of records stored twice (second copy at timestamp + 1 ms)', ratio('--fault-duplicate-ratio'))
    .option('--fault-insert-delay-ms <ms>', 'FAULT: extra delay in every batch insert', nonNegative('--fault-insert-delay-ms'))
    .option('--fault-tcp-reset-per-sec <n>', 'FAULT: device connections reset (RST) per second', nonNegative('--fault-tcp-reset-per-sec'))
    .action(async (flags: PlatformFlags) => runPlatform(flags));
}

async function runPlatform(flags: PlatformFlags): Promise<void> {
  const log = defaultLogger(flags.logLevel);
  const options = platformOptions(flags);
  // Signals are taken over before anything starts, so a SIGTERM during start-up also ends cleanly.
  const stopSignal = stopSignalOnce(log, flags.exitWithParent === true);
  let embedded: EmbeddedPg | undefined;
  installFatalHandlers(log, () => embedded);
  let pgUrl = options.pgUrl;
  if (!pgUrl) {
    log.info('no --pg-url given: starting an embedded PostgreSQL');
    embedded = await startEmbedded(flags.pgDataDir, log);
    pgUrl = embedded.url;
  }
  const platform = await startOrStop({ ...options, pgUrl, logger: log }, stopSignal, embedded);
  if (!platform) return;
  process.stdout.write(`${JSON.stringify({ event: 'ready', tcpPort: platform.tcpPort, httpPort: platform.httpPort })}\n`);
  await shutdownOnSignal(log, await stopSignal, platform, embedded);
}

type EmbeddedPg = { url: string; stop(): Promise<void> };

/**
 * The flags as platform options, checked by resolveConfig (a bad value is a usage error). `pgUrl` is empty when
 * none was given: the caller starts an embedded PostgreSQL.
 */
function platformOptions(flags: PlatformFlags): PlatformOptions {
  const pgUrl = flags.pgUrl ?? (flags.pgUrlFile ? readText('--pg-url-file', flags.pgUrlFile) : secretFromEnv('PG_URL'));
  const apiToken = flags.apiTokenFile ? readText('--api-token-file', flags.apiTokenFile) : secretFromEnv('FLEET_API_TOKEN');
  const ints = Object.fromEntries(intOptions().map(({ key, option }) => [key, flags[option.attributeName()] as number]));
  const options: PlatformOptions = {
    pgUrl: pgUrl ?? 'postgres://embedded', // placeholder for validation; replaced below
    host: flags.host,
    ...ints,
    allowImeis: allowList(flags),
    apiToken,
    faults: faultFlags(flags),
    enableAdmin: flags.enableAdmin,
  };
  try {
    resolveConfig(options);
  } catch (e) {
    throw badInput((e as Error).message);
  }
  return { ...options, pgUrl: pgUrl ?? '' };
}

function allowList(flags: PlatformFlags): Set<string> | undefined {
  if (flags.allowImei.length === 0 && !flags.allowImeisFile) return undefined;
  const fromFile = flags.allowImeisFile ? readText('--allow-imeis-file', flags.allowImeisFile).split(/\s+/) : [];
  const allowImeis = new Set([...flags.allowImei, ...fromFile].filter(Boolean));
  const bad = [...allowImeis].filter((i) => !/^\d{15,16}$/.test(i));
  if (bad.length > 0) throw badInput(`allow-list: not an IMEI: ${bad.slice(0, 3).join(', ')}`);
  return allowImeis;
}

function faultFlags(flags: PlatformFlags): Partial<FaultSettings> {
  try {
    return parseFaults(
      Object.fromEntries(
        Object.entries({
          httpLatencyMs: flags.faultHttpLatencyMs,
          httpErrorRatio: flags.faultHttpErrorRatio,
          ackedNotStoredRatio: flags.faultAckedNotStoredRatio,
          duplicateRatio: flags.faultDuplicateRatio,
          insertDelayMs: flags.faultInsertDelayMs,
          tcpResetPerSec: flags.faultTcpResetPerSec,
        }).filter(([, v]) => v !== undefined),
      ),
    );
  } catch (e) {
    throw badInput((e as Error).message);
  }
}

/**
 * Resolves with the first SIGTERM/SIGINT (later ones are only logged) — or, with `withParent`, once the parent is
 * gone: a SIGKILLed run cannot stop its children, so its platform notices that it was re-parented and stops itself.
 */
function stopSignalOnce(log: Logger, withParent: boolean): Promise<string> {
  return new Promise<string>((resolve) => {
    let seen = false;
    const on = (sig: string) => () => {
      if (seen) return void log.warn({ signal: sig }, 'already shutting down');
      seen = true;
      resolve(sig);
    };
    process.on('SIGTERM', on('SIGTERM'));
    process.on('SIGINT', on('SIGINT'));
    if (withParent) {
      const parent = process.ppid;
      const watch = setInterval(() => {
        if (process.ppid === parent) return;
        clearInterval(watch);
        log.warn({ parent }, 'the process that started the platform is gone: shutting down');
        on('parent-exit')();
      }, 1000);
      watch.unref();
    }
  });
}

/** The started platform; undefined when a signal came first (start failures throw, after stopping PostgreSQL). */
async function startOrStop(options: StartPlatformOptions, stopSignal: Promise<string>, embedded: EmbeddedPg | undefined): Promise<PlatformHandle | undefined> {
  let platform: PlatformHandle | undefined;
  const startOrSignal = await Promise.race([
    startPlatform(options).then(
      (p) => (platform = p),
      (e: unknown) => e,
    ),
    stopSignal,
  ]);
  if (platform) return platform;
  // Failed to start (or a signal came first: wait for the start to settle, then stop).
  if (typeof startOrSignal === 'string') options.logger?.info({ signal: startOrSignal }, 'signal during start-up');
  await embedded?.stop().catch(() => {});
  if (startOrSignal instanceof Error || typeof startOrSignal !== 'string') {
    const msg = startOrSignal instanceof Error ? startOrSignal.message : String(startOrSignal);
    throw infraError(`platform did not start (database ${describePgUrl(options.pgUrl)}): ${msg}`, startOrSignal);
  }
  return undefined;
}

async function shutdownOnSignal(log: Logger, signal: string, p: PlatformHandle, embedded: EmbeddedPg | undefined): Promise<void> {
  log.info({ signal }, 'stop requested');
  // Safety net: whatever hangs, the process ends within 10 s of the signal.
  const force = setTimeout(() => {
    log.error('shutdown took too long; exiting');
    process.exit(3);
  }, 9_500);
  force.unref();
  await p.close();
  if (embedded) await embedded.stop().catch((e: unknown) => log.warn({ err: String(e) }, 'embedded PostgreSQL stop failed'));
  clearTimeout(force);
  process.exitCode = 0;
  // Anything a library left open must not keep the process alive after a clean shutdown.
  setTimeout(() => process.exit(0), 500).unref();
}

/**
 * The fatal path: an uncaught exception or unhandled rejection leaves the process in an unknown state, so it exits
 * 1 — but first stops the embedded PostgreSQL (its server and temporary data folder would otherwise outlive us:
 * the 'exit' hook of children.ts can only SIGKILL the server, never remove its folder). Bounded by 8 s.
 */
function installFatalHandlers(log: Logger, embedded: () => { stop(): Promise<void> } | undefined): void {
  let dying = false;
  const die = (kind: string) => (err: unknown) => {
    if (dying) return;
    dying = true;
    log.fatal({ err: err instanceof Error ? { message: err.message, stack: err.stack } : String(err) }, `${kind}: the platform stops`);
    setTimeout(() => process.exit(1), 8_000).unref();
    void Promise.resolve(embedded()?.stop())
      .catch((e: unknown) => log.error({ err: String(e) }, 'embedded PostgreSQL stop failed'))
      .finally(() => process.exit(1));
  };
  process.on('uncaughtException', die('uncaught exception'));
  process.on('unhandledRejection', die('unhandled promise rejection'));
}

/** Starts the embedded PostgreSQL (its signal hooks are removed by the helper, so our flush runs first). */
async function startEmbedded(dataDir: string | undefined, log: Logger): Promise<{ url: string; stop(): Promise<void> }> {
  const { startEmbeddedPostgres } = await import('../stack/postgres.js');
  return startEmbeddedPostgres({ dataDir, log: (l) => log.debug({ pg: l }, 'postgres') });
}
