import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { infraError } from '../core/errors.js';
import { spawnTracked, stopChild } from './children.js';
import { repoRoot } from '../core/repo-root.js';

export interface PlatformProcess {
  tcpPort: number;
  httpPort: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

export interface PlatformProcessOptions {
  /** Database URL with its password; handed over in the environment, never on the command line (ps shows that). */
  pgUrl: string;
  tcpPort?: number;
  httpPort?: number;
  extraArgs?: string[];
  log?: (line: string) => void;
}

/**
 * Runs the reference platform as its own process (with /admin/* enabled: fault runs drop device links through it;
 * it listens on loopback only, where the admin routes need no token) (`fleetload platform`), so that fault runs can kill,
 * pause or restart it like a real service, and waits for its one-line JSON ready message on stdout.
 */
export async function startPlatformProcess(opts: PlatformProcessOptions): Promise<PlatformProcess> {
  const cli = join(repoRoot(), 'dist', 'cli.js');
  const args = [cli, 'platform', '--host', '127.0.0.1', '--tcp-port', String(opts.tcpPort ?? 0), '--http-port', String(opts.httpPort ?? 0), '--enable-admin', '--exit-with-parent', ...(opts.extraArgs ?? [])];
  const child = spawnTracked(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PG_URL: opts.pgUrl },
  });
  const log = opts.log ?? (() => {});
  let tail = '';
  createInterface({ input: child.stderr! }).on('line', (line) => {
    tail = (tail + line + '\n').slice(-3000);
    log(line);
  });
  const ready = await new Promise<{ tcpPort: number; httpPort: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(infraError(`the reference platform did not report ready within 30 s:\n${tail}`)), 30_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const msg = JSON.parse(line) as { event?: string; tcpPort?: number; httpPort?: number };
        if (msg.event === 'ready' && msg.tcpPort && msg.httpPort) {
          clearTimeout(timer);
          resolve({ tcpPort: msg.tcpPort, httpPort: msg.httpPort });
        }
      } catch {
        log(line);
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(infraError(`the reference platform exited during start-up (code ${code}, signal ${signal}):\n${tail}`));
    });
  });
  return { ...ready, child, stop: () => stopChild(child, 12_000) };
}
