// Shared helpers for the platform tests: a fresh database per test on one embedded server per file, an
// in-process platform on free ports, a raw-socket Teltonika device, and a Prometheus text scraper.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { build } from 'esbuild';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { startEmbeddedPostgres, type EmbeddedPg } from '../../src/stack/postgres.js';
import { pino } from 'pino';
import { encodeAvlPacket, encodeLogin, imeiForIndex, type AvlRecord } from '../../src/protocol/teltonika/index.js';
import { startPlatform, type PlatformHandle, type StartPlatformOptions } from '../../src/platform/platform.js';

let dbCounter = 0;

/** A new empty database on the server behind `adminUrl`; returns its URL. */
export async function freshDb(adminUrl: string): Promise<string> {
  const name = `t_${process.pid}_${++dbCounter}_${Date.now() % 100000}`;
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    await c.query(`CREATE DATABASE ${name}`);
  } finally {
    await c.end();
  }
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

export async function query<T extends pg.QueryResultRow = pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(sql, params)).rows;
  } finally {
    await c.end();
  }
}

export const quietLogger = () => pino({ level: process.env.TEST_LOG ?? 'silent' });

export function startTestPlatform(pgUrl: string, opts: Partial<StartPlatformOptions> = {}): Promise<PlatformHandle> {
  return startPlatform({
    pgUrl,
    host: '127.0.0.1',
    tcpPort: 0,
    httpPort: 0,
    batchMaxAgeMs: 20,
    defaultMetrics: true,
    logger: quietLogger(),
    ...opts,
  });
}

let imeiIndex = 0;
/** A Luhn-valid IMEI not used before in this process. */
export const nextImei = (): string => imeiForIndex(4242 + (process.pid % 1000), ++imeiIndex);

/** Records with given ms timestamps (Codec 8, a couple of IO elements). */
export function records(timestamps: number[], base: Partial<AvlRecord> = {}): AvlRecord[] {
  return timestamps.map((timestamp, i) => ({
    timestamp,
    priority: 0,
    longitude: 17.1234567 + i * 1e-4,
    latitude: 44.7654321 - i * 1e-4,
    altitude: 150 + i,
    angle: (i * 10) % 360,
    satellites: 9,
    speed: 40 + i,
    eventId: 0,
    io: [
      { id: 239, width: 1, value: 1 },
      { id: 66, width: 2, value: 12_345 },
    ],
    ...base,
  }));
}

export const packet = (recs: AvlRecord[], codec: 0x08 | 0x8e = 0x08): Uint8Array => encodeAvlPacket(codec, recs);

/** A raw TCP client that reads exact byte counts with timeouts. */
export class RawDevice {
  private buf = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  closed = false;
  closeError: Error | undefined;
  readonly closedPromise: Promise<void>;

  private constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake();
    });
    this.closedPromise = new Promise((resolve) => {
      socket.on('close', () => {
        this.closed = true;
        this.wake();
        resolve();
      });
    });
    socket.on('error', (e) => (this.closeError = e));
  }

  static connect(port: number): Promise<RawDevice> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port, noDelay: true }, () => resolve(new RawDevice(s)));
      s.once('error', reject);
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const fn of w) fn();
  }

  get available(): number {
    return this.buf.length;
  }

  write(b: Uint8Array | number[]): void {
    this.socket.write(Buffer.from(b as Uint8Array));
  }

  /** Exactly n bytes, or rejects on timeout / close. */
  async read(n: number, timeoutMs = 5000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (this.buf.length < n) {
      if (this.closed) throw new Error(`connection closed with ${this.buf.length}/${n} bytes`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timeout waiting for ${n} bytes (have ${this.buf.length})`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  async login(imei: string): Promise<number> {
    this.write(encodeLogin(imei));
    return (await this.read(1))[0];
  }

  async ack(timeoutMs = 5000): Promise<number> {
    return (await this.read(4, timeoutMs)).readUInt32BE(0);
  }

  /** Resolves true if the server closed the connection within the time. */
  async waitClosed(timeoutMs = 3000): Promise<boolean> {
    await Promise.race([this.closedPromise, new Promise((r) => setTimeout(r, timeoutMs))]);
    return this.closed;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Value of one sample in Prometheus text format; labels must match exactly the given subset. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  let total: number | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || !line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const ls = Object.fromEntries([...(m[3] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => ls[k] === v)) total = (total ?? 0) + Number(m[4]);
  }
  return total;
}

/** A TCP proxy in front of PostgreSQL that can be cut (existing connections reset, new ones refused) and restored. */
export class CuttableProxy {
  private readonly sockets = new Set<Socket>();
  private server: Server | undefined;
  port = 0;

  constructor(private readonly targetPort: number) {}

  async start(port = 0): Promise<void> {
    this.server = createServer((client) => {
      const upstream = connect({ host: '127.0.0.1', port: this.targetPort });
      this.sockets.add(client).add(upstream);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        this.sockets.delete(client);
        this.sockets.delete(upstream);
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve) => this.server?.listen(port, '127.0.0.1', resolve));
    const a = this.server.address();
    this.port = typeof a === 'object' && a ? a.port : port;
  }

  /** PostgreSQL "goes away": open connections are reset and the port refuses connections. */
  async cut(): Promise<void> {
    const srv = this.server;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => (srv ? srv.close(() => resolve()) : resolve()));
    for (const s of this.sockets) s.resetAndDestroy();
    this.sockets.clear();
    await closed;
  }

  async restore(): Promise<void> {
    await this.start(this.port);
  }

  async stop(): Promise<void> {
    await this.cut().catch(() => {});
  }

  urlFor(pgUrl: string): string {
    const u = new URL(pgUrl);
    u.port = String(this.port);
    return u.toString();
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls fn until it returns a truthy value or the time is up. */
export async function eventually<T>(fn: () => Promise<T> | T, timeoutMs = 5000, stepMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = new Error(`condition still false: ${String(v)}`);
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw last;
    await sleep(stepMs);
  }
}

/**
 * One embedded PostgreSQL for a test file (started in beforeAll, stopped in afterAll with every platform the
 * file started); `setup()` gives each test a fresh database and a platform on it.
 */
export function usePlatformFixture(label?: string) {
  let pgServer: EmbeddedPg | undefined;
  const platforms: PlatformHandle[] = [];
  beforeAll(async () => {
    pgServer = await startEmbeddedPostgres({ label });
  });
  afterAll(async () => {
    for (const p of platforms) await p.close().catch(() => {});
    await pgServer?.stop();
  });
  const server = (): EmbeddedPg => {
    if (!pgServer) throw new Error('usePlatformFixture: PostgreSQL is not started (use it inside a test)');
    return pgServer;
  };
  async function setup(opts: Partial<StartPlatformOptions> = {}) {
    const url = await freshDb(server().url);
    const p = await startTestPlatform(url, opts);
    platforms.push(p);
    return { url, p };
  }
  return { setup, server, platforms };
}

const ROOT = join(import.meta.dirname, '..', '..');

/** The built CLI: dist/cli.js when the whole project builds, else a small entry with only `platform`. */
export async function cliEntry(): Promise<string> {
  try {
    execFileSync(process.execPath, ['build.mjs'], { cwd: ROOT, stdio: 'ignore' });
    if (existsSync(join(ROOT, 'dist', 'cli.js'))) return join(ROOT, 'dist', 'cli.js');
  } catch {
    // other parts of the CLI may not build yet
  }
  const out = join(ROOT, '.cache', `platform-cli-test-${process.pid}.mjs`);
  await build({
    stdin: {
      contents: `import { Command, CommanderError } from 'commander';
import { registerPlatform } from './src/cli/platform.ts';
import { FleetloadError } from './src/core/errors.ts';
const program = new Command('fleetload').exitOverride();
registerPlatform(program);
try { await program.parseAsync(process.argv); } catch (e) {
  if (e instanceof FleetloadError) { process.stderr.write('fleetload: ' + e.message + '\\n'); process.exitCode = e.exitCode; }
  else if (e instanceof CommanderError) { process.exitCode = e.exitCode === 0 ? 0 : 2; }
  else { process.stderr.write(String(e) + '\\n'); process.exitCode = 3; }
}`,
      resolveDir: ROOT,
      loader: 'ts',
    },
    outfile: out,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    logLevel: 'silent',
  });
  return out;
}
