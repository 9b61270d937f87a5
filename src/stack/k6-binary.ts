// The k6 binary fleetload runs: upstream k6 plus our k6/x/tcp module, built from src/stack/k6build
// with the Go toolchain and cached under .cache/k6/<hash of the Go sources>/k6.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, constants, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { infraError } from '../core/errors.js';
import { repoRoot } from './repo-root.js';

/** Absolute path of the Go main module that builds k6 (src/stack/k6build). */
export const K6_BUILD_DIR: string = join(repoRoot(), 'src', 'stack', 'k6build');

/** The JS module our extension registers. */
export const TCP_MODULE = 'k6/x/tcp';

/** go.mod, go.sum and every *.go file under K6_BUILD_DIR (tests included), as sorted relative paths. */
function buildInputs(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name.startsWith('.') || entry.name === 'testdata' || entry.name === 'vendor') continue;
        walk(p);
      } else if (entry.isFile() && (entry.name.endsWith('.go') || (dir === K6_BUILD_DIR && (entry.name === 'go.mod' || entry.name === 'go.sum')))) {
        out.push(relative(K6_BUILD_DIR, p).split(sep).join('/'));
      }
    }
  };
  walk(K6_BUILD_DIR);
  return out.sort();
}

/** sha256 over the sorted paths and contents of the build inputs; first 16 hex chars. */
export function k6BuildKey(): string {
  const h = createHash('sha256');
  for (const rel of buildInputs()) {
    h.update(rel);
    h.update('\0');
    h.update(readFileSync(join(K6_BUILD_DIR, rel)));
    h.update('\0');
  }
  return h.digest('hex').slice(0, 16);
}

/** Where the binary for the current sources lives: <repo>/.cache/k6/<key>/k6 (.cache is git-ignored). */
export function cachedK6Path(): string {
  return join(repoRoot(), '.cache', 'k6', k6BuildKey(), 'k6');
}

function isExecutable(p: string): boolean {
  try {
    if (!statSync(p).isFile()) return false;
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** FLEETLOAD_K6 if set and executable, else the cached build for the current sources if it exists. */
export function findK6Binary(): string | undefined {
  const fromEnv = process.env.FLEETLOAD_K6;
  if (fromEnv && isExecutable(fromEnv)) return fromEnv;
  const cached = cachedK6Path();
  return isExecutable(cached) ? cached : undefined;
}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  spawnError?: NodeJS.ErrnoException;
}

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; log?: (line: string) => void; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolvePromise) => {
    let stdout = '';
    let stderr = '';
    let settled = false;
    const done = (r: RunResult) => {
      if (!settled) {
        settled = true;
        resolvePromise(r);
      }
    };
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : undefined;
    const lines = (chunk: Buffer, acc: 'out' | 'err') => {
      const s = chunk.toString('utf8');
      if (acc === 'out') stdout += s;
      else stderr += s;
      if (opts.log) for (const line of s.split('\n')) if (line.trim()) opts.log(line);
    };
    child.stdout.on('data', (c: Buffer) => lines(c, 'out'));
    child.stderr.on('data', (c: Buffer) => lines(c, 'err'));
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (timer) clearTimeout(timer);
      done({ code: null, stdout, stderr, spawnError: err });
    });
    child.on('close', (code) => {
      if (timer) clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

let inFlight: Promise<string> | undefined;

/**
 * Returns the path of a k6 binary built from the current k6build sources, building it first if needed
 * (`go build`, CGO off, `-trimpath -ldflags=-s -w`). The build goes to a temporary file that is renamed
 * into place, so a concurrent or interrupted build never leaves a half-written binary behind.
 */
export async function ensureK6Binary(opts: { log?: (line: string) => void; force?: boolean } = {}): Promise<string> {
  const target = cachedK6Path();
  if (!opts.force && isExecutable(target)) return target;
  if (inFlight) return inFlight;
  inFlight = buildK6(target, opts).finally(() => {
    inFlight = undefined;
  });
  return inFlight;
}

async function buildK6(target: string, opts: { log?: (line: string) => void }): Promise<string> {
  const log = opts.log ?? (() => {});
  const goVersion = await run('go', ['version']);
  if (goVersion.spawnError || goVersion.code !== 0) {
    throw infraError(
      'Go is needed to build k6 with k6/x/tcp but `go` was not found on PATH: install Go ≥ 1.25 (https://go.dev/doc/install, or apt-get install golang-go if new enough) and git, then run `npx fleetload setup`',
      goVersion.spawnError,
    );
  }
  const dir = join(target, '..');
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.k6.${process.pid}.${Date.now()}.tmp`);
  const env: NodeJS.ProcessEnv = { ...process.env, CGO_ENABLED: '0' };
  log(`building k6 (${goVersion.stdout.trim()}) from ${K6_BUILD_DIR} → ${target}`);
  const started = Date.now();
  const r = await run('go', ['build', '-trimpath', '-buildvcs=false', '-ldflags=-s -w', '-o', tmp, '.'], { cwd: K6_BUILD_DIR, env, log });
  if (r.code !== 0 || !existsSync(tmp)) {
    rmSync(tmp, { force: true });
    const tail = (r.stderr || r.stdout).trim().split('\n').slice(-15).join('\n');
    const hint = /git/.test(tail) && /not found|executable file/.test(tail) ? ' (install git: apt-get install -y git)' : '';
    throw infraError(
      `building k6 failed (go build exit ${r.code ?? 'signal'})${hint}. It needs Go ≥ 1.25, git, and access to the Go module proxy (GOPROXY) or a filled module cache.\n${tail}`,
    );
  }
  renameSync(tmp, target);
  log(`k6 built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return target;
}

export interface K6VersionInfo {
  version: string;
  extensions: Array<{ module: string; version: string; imports: string[] }>;
}

/** Runs `k6 version --json`. Our local module is listed with an empty version; it is reported as "(local)". */
export async function k6Version(bin: string): Promise<K6VersionInfo> {
  const r = await run(bin, ['version', '--json'], { env: k6Env(), timeoutMs: 30_000 });
  if (r.spawnError || r.code !== 0) throw infraError(`\`${bin} version --json\` failed (exit ${r.code ?? 'n/a'}): ${(r.stderr || r.spawnError?.message || '').trim()}`, r.spawnError);
  let parsed: { version?: unknown; extensions?: unknown };
  try {
    parsed = JSON.parse(r.stdout.trim().split('\n').filter(Boolean).pop() ?? '') as typeof parsed;
  } catch (err) {
    throw infraError(`\`${bin} version --json\` printed something that is not JSON: ${r.stdout.slice(0, 200)}`, err);
  }
  const extensions = (Array.isArray(parsed.extensions) ? parsed.extensions : []).map((e: { module?: unknown; version?: unknown; imports?: unknown }) => ({
    module: String(e.module ?? ''),
    version: typeof e.version === 'string' && e.version !== '' ? e.version : '(local)',
    imports: Array.isArray(e.imports) ? e.imports.map(String) : [],
  }));
  return { version: String(parsed.version ?? 'unknown'), extensions };
}

/** Environment for running k6: never try to download extensions (there is no network for it). */
export function k6Env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, K6_AUTO_EXTENSION_RESOLUTION: 'false', ...extra };
}
