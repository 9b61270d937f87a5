// Secrets never leave the environment: a real external-target run with known secrets — PostgreSQL's
// generated password (PG_URL), a Prometheus basic-auth password (PROMETHEUS_PASSWORD for `run`,
// PROMETHEUS_PASSWORD_FILE and then the password in --prometheus-url for `verify`) behind a proxy that REQUIRES it,
// and an API token (FLEET_API_TOKEN) — then every byte fleetload printed or wrote (stdout, stderr, every file of the
// run folder and of its verification folders) is scanned for each secret in plain, URL-encoded and base64
// (Authorization header) form, and the command lines of fleetload and anything it starts are watched while it runs
// (the engine's worker threads are threads of the fleetload process: its argv is theirs).
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/stack/ports.js';
import { startPlatformProcess, type PlatformProcess } from '../../src/stack/platform-process.js';
import { startEmbeddedPostgres, type EmbeddedPg } from '../../src/stack/postgres.js';
import { startPrometheus, type RunningPrometheus } from '../../src/stack/prometheus.js';
import { fleetload } from '../helpers/cli.js';

const PROM_USER = 'gate';
const PROM_PASSWORD = 'Kn0wn/Pr0m:S3cret!'; // '/' and ':' so that the URL-encoded form differs
const API_TOKEN = 'KNOWN-api-t0ken-5f1c2b';
const dir = mkdtempSync(join(tmpdir(), 'fleetload-secrets-'));
const reportsDir = join(dir, 'reports');

let pg: EmbeddedPg;
let platform: PlatformProcess;
let prom: RunningPrometheus;
let proxy: Server;
let proxyPort = 0;
/** the engine's /metrics port for this external-target run: the test's Prometheus scrapes it as job fleetload-engine */
let metricsPort = 0;
const proxied = { authorized: new Map<string, number>(), refused: 0 };

/** A reverse proxy in front of Prometheus that answers 401 unless the request carries the known basic auth. */
async function startAuthProxy(target: string): Promise<void> {
  const expected = `Basic ${Buffer.from(`${PROM_USER}:${PROM_PASSWORD}`).toString('base64')}`;
  const up = new URL(target);
  proxy = createServer((req, res) => {
    if (req.headers.authorization !== expected) {
      proxied.refused++;
      req.resume();
      res.writeHead(401, { 'www-authenticate': 'Basic realm="prometheus"' }).end('Unauthorized\n');
      return;
    }
    const path = (req.url ?? '/').split('?')[0];
    proxied.authorized.set(path, (proxied.authorized.get(path) ?? 0) + 1);
    const headers = { ...req.headers };
    delete headers.authorization;
    const fwd = request({ host: up.hostname, port: up.port, method: req.method, path: req.url, headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    fwd.on('error', () => res.writeHead(502).end());
    req.pipe(fwd);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  proxyPort = (proxy.address() as { port: number }).port;
}

beforeAll(async () => {
  pg = await startEmbeddedPostgres({ label: 'secret-scan' });
  const tokenFile = join(dir, 'api-token');
  writeFileSync(tokenFile, `${API_TOKEN}\n`);
  platform = await startPlatformProcess({ pgUrl: pg.url, extraArgs: ['--api-token-file', tokenFile, '--log-level', 'warn'] });
  metricsPort = await freePort();
  prom = await startPrometheus({
    scrapeTargets: [
      { job: 'fleet-platform', address: `127.0.0.1:${platform.httpPort}` },
      { job: 'fleetload-engine', address: `127.0.0.1:${metricsPort}` },
    ],
    label: 'secret-scan',
  });
  await startAuthProxy(prom.url);
  // counters need a sample from before the load starts
  const deadline = Date.now() + 20_000;
  for (;;) {
    const body = (await (await fetch(`${prom.url}/api/v1/query?query=${encodeURIComponent('up{job="fleet-platform"} == 1')}`)).json()) as { data: { result: unknown[] } };
    if (body.data.result.length > 0) break;
    if (Date.now() > deadline) throw new Error('Prometheus did not scrape the platform');
    await new Promise((r) => setTimeout(r, 200));
  }
}, 180_000);

afterAll(async () => {
  await new Promise<void>((r) => (proxy ? proxy.close(() => r()) : r()));
  await prom?.stop();
  await platform?.stop();
  await pg?.stop();
});

/** Every secret in the forms it could leak in. */
function secretForms(): Map<string, string> {
  const pgPassword = decodeURIComponent(new URL(pg.url).password);
  expect(pgPassword.length).toBeGreaterThan(10);
  const forms = new Map<string, string>();
  const add = (name: string, value: string) => {
    forms.set(`${name}`, value);
    forms.set(`${name} (URL-encoded)`, encodeURIComponent(value));
    forms.set(`${name} (base64)`, Buffer.from(value).toString('base64'));
  };
  add('PostgreSQL password', pgPassword);
  add('Prometheus password', PROM_PASSWORD);
  forms.set('Prometheus Authorization header', Buffer.from(`${PROM_USER}:${PROM_PASSWORD}`).toString('base64'));
  add('API token', API_TOKEN);
  return forms;
}

function filesUnder(d: string): string[] {
  return readdirSync(d).flatMap((f) => {
    const p = join(d, f);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

function leaks(texts: Array<[string, string]>): string[] {
  const found: string[] = [];
  for (const [where, text] of texts) for (const [what, value] of secretForms()) if (text.includes(value)) found.push(`${what} in ${where}`);
  return found;
}

function runFolderTexts(runDir: string): Array<[string, string]> {
  return filesUnder(runDir).map((f) => [f.slice(runDir.length + 1), readFileSync(f).toString('latin1')]);
}

/** Command lines of this test process's descendants (fleetload and anything it starts), from one `ps`. */
function descendantArgv(): string[] {
  const procs = execFileSync('ps', ['-eo', 'pid=,ppid=,args='], { encoding: 'utf8' })
    .split('\n')
    .map((l) => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ pid: Number(m[1]), ppid: Number(m[2]), args: m[3] }));
  const tree = new Set([process.pid]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of procs) if (tree.has(p.ppid) && !tree.has(p.pid)) grew = Boolean(tree.add(p.pid));
  }
  return procs.filter((p) => p.pid !== process.pid && tree.has(p.pid) && !/^ps /.test(p.args)).map((p) => p.args);
}

/** Polls `ps` while a command runs: no command line in fleetload's process tree may hold a credential. */
function watchArgv(): { stop(): string[] } {
  const seen = new Set<string>();
  const timer = setInterval(() => {
    try {
      for (const args of descendantArgv()) seen.add(args);
    } catch {
      // ps raced a process exit
    }
  }, 250);
  return {
    stop() {
      clearInterval(timer);
      return [...seen];
    },
  };
}

describe('secrets never reach logs, manifests, reports, JUnit or argv', () => {
  const runId = 'secret-scan';
  const runDir = join(reportsDir, runId);

  it('control: the command-line watch sees a secret in a child process', async () => {
    const watch = watchArgv();
    await new Promise<void>((resolve) => spawn(process.execPath, ['-e', 'setTimeout(() => {}, 800)', API_TOKEN]).on('exit', () => resolve()));
    const lines = watch.stop();
    expect(leaks(lines.map((l, i) => [`argv #${i}`, l]))).toContain(`API token in argv #${lines.findIndex((l) => l.includes(API_TOKEN))}`);
  });

  it('fleetload run against an authenticated Prometheus: works, and nothing it wrote or ran holds a secret', async () => {
    const watch = watchArgv();
    const res = await fleetload(
      [
        'run',
        '--profile', 'smoke',
        '--duration', '8s',
        '--run-id', runId,
        '--tcp', `127.0.0.1:${platform.tcpPort}`,
        '--prometheus-url', `http://${PROM_USER}@127.0.0.1:${proxyPort}`,
        '--metrics-port', String(metricsPort),
        '--reports-dir', reportsDir,
      ],
      { env: { PG_URL: pg.url, FLEET_API_TOKEN: API_TOKEN, PROMETHEUS_PASSWORD: PROM_PASSWORD }, timeoutMs: 150_000 },
    );
    const argvLines = watch.stop();
    const report = JSON.parse(readFileSync(join(runDir, 'report.json'), 'utf8')) as { verdict: string; objectives: Array<{ id: string; status: string; value: number | null }> };
    const context = `${res.stderr}\n${JSON.stringify(report.objectives.map((o) => [o.id, o.status, o.value]))}`;
    // the run really worked through the authenticated endpoint
    expect(report.verdict, context).toBe('pass');
    expect(res.code, context).toBe(0);
    expect(res.stderr).toContain(`>>> LOAD TARGET: 127.0.0.1:${platform.tcpPort} (resolves to 127.0.0.1)`);
    expect(res.stderr).toMatch(new RegExp(`engine metrics: http://[^ ]+:${metricsPort}/metrics — let http://${PROM_USER}@127\\.0\\.0\\.1:${proxyPort} scrape it as job fleetload-engine`));
    expect(proxied.authorized.get('/api/v1/query') ?? 0, 'verifier queries with the credentials').toBeGreaterThan(0);
    expect(proxied.authorized.get('/api/v1/query_range') ?? 0, 'series capture with the credentials').toBeGreaterThan(0);
    expect(proxied.refused).toBe(0);
    // series capture read the engine's and the platform's series through the authenticated endpoint
    const series = JSON.parse(readFileSync(join(runDir, 'series.json'), 'utf8')) as { queries: Array<{ id: string; status: string }> };
    const ok = series.queries.filter((q) => q.status === 'ok').map((q) => q.id);
    expect(ok).toEqual(expect.arrayContaining(['engine_records_acked', 'platform_received']));

    // fleetload was watched while it ran (its worker threads share its argv), and no command line held a credential
    expect(argvLines.some((l) => l.includes('dist/cli.js run') && l.includes(runId)), argvLines.join('\n')).toBe(true);
    expect(leaks(argvLines.map((l, i) => [`argv #${i}`, l]))).toEqual([]);

    const files = filesUnder(runDir).map((f) => f.slice(runDir.length + 1));
    expect(files).toEqual(
      expect.arrayContaining(['run.json', 'report.json', 'report.md', 'report.html', 'junit.xml', 'engine-summary.json', 'series.json', 'db-stats.json', 'capacity.json', 'capacity.md']),
    );
    expect(files.filter((f) => f.startsWith('ledger/')).length).toBeGreaterThan(0); // the ACK ledger is scanned too
    // control: the scan does find a secret where there is one
    expect(leaks([['control', `${pg.url} ${encodeURIComponent(PROM_PASSWORD)}`]])).toEqual(
      expect.arrayContaining(['PostgreSQL password (URL-encoded) in control', 'Prometheus password (URL-encoded) in control']),
    );
    expect(leaks([['stdout', res.stdout], ['stderr', res.stderr], ...runFolderTexts(runDir)])).toEqual([]);
    const manifest = JSON.parse(readFileSync(join(runDir, 'run.json'), 'utf8')) as { prometheus: { url: string }; postgres: { url: string } };
    expect(manifest.prometheus.url).toMatch(new RegExp(`^http://${PROM_USER}@127\\.0\\.0\\.1:${proxyPort}/?$`));
    expect(manifest.postgres.url).toMatch(/^postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/);
  }, 180_000);

  const verdictIn = (file: string) => (JSON.parse(readFileSync(file, 'utf8')) as { verdict: string }).verdict;
  const runVerdict = () => verdictIn(join(runDir, 'report.json'));
  /** verdicts of the verify-<time>/ folders, oldest first (verify never writes over the run's own report) */
  const verdicts = () =>
    readdirSync(runDir)
      .filter((f) => f.startsWith('verify-'))
      .sort()
      .map((f) => verdictIn(join(runDir, f, 'report.json')));

  it('fleetload verify with PG_URL_FILE and PROMETHEUS_PASSWORD_FILE, then the password in the URL: same verdict, still no secret anywhere', async () => {
    const pgFile = join(dir, 'pg-url');
    const promFile = join(dir, 'prom-password');
    writeFileSync(pgFile, `${pg.url}\n`);
    writeFileSync(promFile, `${PROM_PASSWORD}\n`);
    const before = proxied.authorized.get('/api/v1/query') ?? 0;
    const res = await fleetload(['verify', runDir], {
      env: { PG_URL: '', PG_URL_FILE: pgFile, PROMETHEUS_PASSWORD_FILE: promFile, FLEET_API_TOKEN: API_TOKEN },
      timeoutMs: 60_000,
    });
    expect(res.code, res.stderr).toBe(0);
    expect((proxied.authorized.get('/api/v1/query') ?? 0) - before).toBeGreaterThan(0);
    expect(proxied.refused).toBe(0);
    expect(verdicts()).toEqual([runVerdict()]);
    expect(leaks([['stdout', res.stdout], ['stderr', res.stderr], ...runFolderTexts(runDir)])).toEqual([]);

    // the password in --prometheus-url (taken out of the URL, sent as a header): same verdict, no secret written
    const again = proxied.authorized.get('/api/v1/query') ?? 0;
    const inUrl = await fleetload(['verify', runDir, '--prometheus-url', `http://${PROM_USER}:${encodeURIComponent(PROM_PASSWORD)}@127.0.0.1:${proxyPort}`], {
      env: { PG_URL: '', PG_URL_FILE: pgFile },
      timeoutMs: 60_000,
    });
    expect(inUrl.code, inUrl.stderr).toBe(0);
    expect((proxied.authorized.get('/api/v1/query') ?? 0) - again).toBeGreaterThan(0);
    expect(proxied.refused).toBe(0);
    expect(verdicts()).toEqual([runVerdict(), runVerdict()]);
    expect(leaks([['stdout', inUrl.stdout], ['stderr', inUrl.stderr], ...runFolderTexts(runDir)])).toEqual([]);

    // without the password the authenticated Prometheus refuses: exit 3, with a hint and no secret
    const denied = await fleetload(['verify', runDir], { env: { PG_URL: '', PG_URL_FILE: pgFile }, timeoutMs: 60_000 });
    expect(denied.code).toBe(3);
    expect(denied.stderr).toMatch(/HTTP 401/);
    expect(leaks([['stdout', denied.stdout], ['stderr', denied.stderr], ...runFolderTexts(runDir)])).toEqual([]);
  }, 120_000);
});
