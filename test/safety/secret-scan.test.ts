// Secrets never leave the environment: a real external-target run with known secrets — PostgreSQL's
// generated password (PG_URL), a Prometheus basic-auth password (in --prometheus-url, and for `verify`
// from PROMETHEUS_PASSWORD_FILE) behind a proxy that REQUIRES it, and an API token (FLEET_API_TOKEN) —
// then every byte fleetload printed or wrote (stdout, stderr, every file of the run folder) is scanned
// for each secret in plain, URL-encoded and base64 (Authorization header) form, and k6's command line
// is watched while it runs.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureK6Binary } from '../../src/stack/k6-binary.js';
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
  await ensureK6Binary();
  pg = await startEmbeddedPostgres({ label: 'secret-scan' });
  const tokenFile = join(dir, 'api-token');
  writeFileSync(tokenFile, `${API_TOKEN}\n`);
  platform = await startPlatformProcess({ pgUrl: pg.url, extraArgs: ['--api-token-file', tokenFile, '--log-level', 'warn'] });
  prom = await startPrometheus({ scrapeTargets: [{ job: 'fleet-platform', address: `127.0.0.1:${platform.httpPort}` }], label: 'secret-scan' });
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

/** Polls `ps` while a command runs: k6's argv must never hold a credential. */
function watchK6Argv(): { stop(): string[] } {
  const seen = new Set<string>();
  const timer = setInterval(() => {
    try {
      for (const line of execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).split('\n')) if (/\bk6 run\b/.test(line)) seen.add(line);
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

  it('fleetload run against an authenticated Prometheus: works, and nothing it wrote holds a secret', async () => {
    const watch = watchK6Argv();
    const res = await fleetload(
      [
        'run',
        '--profile', 'smoke',
        '--duration', '8s',
        '--run-id', runId,
        '--tcp', `127.0.0.1:${platform.tcpPort}`,
        '--prometheus-url', `http://${PROM_USER}:${encodeURIComponent(PROM_PASSWORD)}@127.0.0.1:${proxyPort}`,
        '--reports-dir', reportsDir,
      ],
      { env: { PG_URL: pg.url, FLEET_API_TOKEN: API_TOKEN }, timeoutMs: 150_000 },
    );
    const k6Lines = watch.stop();
    const report = JSON.parse(readFileSync(join(runDir, 'report.json'), 'utf8')) as { verdict: string; objectives: Array<{ id: string; status: string; value: number | null }> };
    const context = `${res.stderr}\n${JSON.stringify(report.objectives.map((o) => [o.id, o.status, o.value]))}`;
    // the run really worked through the authenticated endpoint
    expect(report.verdict, context).toBe('pass');
    expect(res.code, context).toBe(0);
    expect(res.stderr).toContain(`>>> LOAD TARGET: 127.0.0.1:${platform.tcpPort} (resolves to 127.0.0.1)`);
    expect(res.stderr).toMatch(new RegExp(`remote write to http://${PROM_USER}@127\\.0\\.0\\.1:${proxyPort} \\(basic auth\\)`));
    expect(proxied.authorized.get('/api/v1/write') ?? 0, 'k6 remote write with the credentials').toBeGreaterThan(0);
    expect(proxied.authorized.get('/api/v1/query') ?? 0, 'verifier queries with the credentials').toBeGreaterThan(0);
    expect(proxied.authorized.get('/api/v1/query_range') ?? 0, 'series capture with the credentials').toBeGreaterThan(0);
    expect(proxied.refused).toBe(0);
    const series = JSON.parse(readFileSync(join(runDir, 'series.json'), 'utf8')) as { queries: Array<{ status: string }> };
    expect(series.queries.some((q) => q.status === 'ok')).toBe(true);

    // k6 ran, and its command line never carried a credential
    expect(k6Lines.length).toBeGreaterThan(0);
    expect(leaks(k6Lines.map((l, i) => [`k6 argv #${i}`, l]))).toEqual([]);

    const files = filesUnder(runDir).map((f) => f.slice(runDir.length + 1));
    expect(files).toEqual(expect.arrayContaining(['run.json', 'report.json', 'report.md', 'report.html', 'junit.xml', 'k6.log', 'k6-summary.json', 'series.json', 'db-stats.json']));
    // control: the scan does find a secret where there is one
    expect(leaks([['control', `${pg.url} ${encodeURIComponent(PROM_PASSWORD)}`]])).toEqual(
      expect.arrayContaining(['PostgreSQL password (URL-encoded) in control', 'Prometheus password (URL-encoded) in control']),
    );
    expect(leaks([['stdout', res.stdout], ['stderr', res.stderr], ...runFolderTexts(runDir)])).toEqual([]);
    const manifest = JSON.parse(readFileSync(join(runDir, 'run.json'), 'utf8')) as { prometheus: { url: string }; postgres: { url: string } };
    expect(manifest.prometheus.url).toMatch(new RegExp(`^http://${PROM_USER}@127\\.0\\.0\\.1:${proxyPort}/?$`));
    expect(manifest.postgres.url).toMatch(/^postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/);
  }, 180_000);

  it('fleetload verify with PG_URL_FILE and PROMETHEUS_PASSWORD_FILE: same verdict, still no secret anywhere', async () => {
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
    expect(leaks([['stdout', res.stdout], ['stderr', res.stderr], ...runFolderTexts(runDir)])).toEqual([]);

    // without the password the authenticated Prometheus refuses: exit 3, with a hint and no secret
    const denied = await fleetload(['verify', runDir], { env: { PG_URL: '', PG_URL_FILE: pgFile }, timeoutMs: 60_000 });
    expect(denied.code).toBe(3);
    expect(denied.stderr).toMatch(/HTTP 401/);
    expect(leaks([['stdout', denied.stdout], ['stderr', denied.stderr], ...runFolderTexts(runDir)])).toEqual([]);
  }, 120_000);
});
