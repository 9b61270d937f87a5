// Prometheus credentials: URL user:pass, PROMETHEUS_* variables and *_FILE, bearer tokens; they travel as
// an Authorization header (verifier queries, series capture) only, never in a URL, a message or a stored form.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FleetloadError } from '../../src/core/errors.js';
import { fetchSeries } from '../../src/report/series.js';
import { endpointUrl, prometheusEndpoint } from '../../src/core/prometheus-endpoint.js';
import { prometheusClient } from '../../src/verify/evidence-prometheus.js';

const dir = mkdtempSync(join(tmpdir(), 'fleetload-promep-'));
const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('prometheusEndpoint', () => {
  it('takes basic-auth credentials out of the URL (percent-decoded) and keeps the path prefix', () => {
    const ep = prometheusEndpoint('https://alice:p%40ss%3Aw0rd@prom.example:9090/prometheus/', {});
    expect(ep.url).toBe('https://prom.example:9090/prometheus');
    expect(ep.auth).toBe('basic');
    expect(ep.headers.authorization).toBe(`Basic ${b64('alice:p@ss:w0rd')}`);
    expect(ep.redacted).toBe('https://alice@prom.example:9090/prometheus');
    expect(endpointUrl(ep, 'api/v1/query')).toBe('https://prom.example:9090/prometheus/api/v1/query');
    expect(JSON.stringify({ ...ep, headers: undefined })).not.toMatch(/p@ss|p%40ss|w0rd/);
  });

  it('reads PROMETHEUS_USERNAME / PROMETHEUS_PASSWORD and PROMETHEUS_PASSWORD_FILE', () => {
    const file = join(dir, 'prom-pass');
    writeFileSync(file, 'from-a-file\n');
    const a = prometheusEndpoint('http://127.0.0.1:9090', { PROMETHEUS_USERNAME: 'bob', PROMETHEUS_PASSWORD: 'direct' });
    expect(a.headers.authorization).toBe(`Basic ${b64('bob:direct')}`);
    const b = prometheusEndpoint('http://127.0.0.1:9090', { PROMETHEUS_USERNAME: 'bob', PROMETHEUS_PASSWORD_FILE: file });
    expect(b.headers.authorization).toBe(`Basic ${b64('bob:from-a-file')}`);
    // a run manifest keeps the user name only: the password comes from the environment
    const c = prometheusEndpoint('http://bob@127.0.0.1:9090', { PROMETHEUS_PASSWORD_FILE: file });
    expect(c.headers.authorization).toBe(`Basic ${b64('bob:from-a-file')}`);
    expect(c.redacted).toBe('http://bob@127.0.0.1:9090');
  });

  it('reads a bearer token (also from *_FILE) and refuses a password and a token together', () => {
    const file = join(dir, 'prom-token');
    writeFileSync(file, 'tok-123\n');
    const ep = prometheusEndpoint('http://user@127.0.0.1:9090', { PROMETHEUS_BEARER_TOKEN_FILE: file });
    expect(ep.auth).toBe('bearer');
    expect(ep.headers).toEqual({ authorization: 'Bearer tok-123' });
    let err: unknown;
    try {
      prometheusEndpoint('http://u:secret-pass@127.0.0.1:9090', { PROMETHEUS_BEARER_TOKEN: 'secret-token' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FleetloadError);
    expect((err as FleetloadError).exitCode).toBe(2);
    expect((err as Error).message).not.toMatch(/secret-pass|secret-token/);
  });

  it('without credentials sends no header; a bad URL or a missing *_FILE is bad input without the secret', () => {
    expect(prometheusEndpoint('http://127.0.0.1:9090/', {})).toMatchObject({ url: 'http://127.0.0.1:9090', auth: 'none', headers: {} });
    expect(() => prometheusEndpoint('127.0.0.1:9090', {})).toThrow(/http/);
    expect(() => prometheusEndpoint('not a url u:hunter2@x', {})).toThrow(FleetloadError);
    try {
      prometheusEndpoint('not a url //u:hunter2@x', {});
    } catch (e) {
      expect((e as Error).message).not.toContain('hunter2');
    }
    expect(() => prometheusEndpoint('http://h:1', { PROMETHEUS_PASSWORD_FILE: join(dir, 'missing') })).toThrow(/PROMETHEUS_PASSWORD_FILE/);
  });

  it('holds a secret in the Authorization header only: every other field may be logged or stored', () => {
    const file = join(dir, 'prom-token-2');
    writeFileSync(file, 'tok-file-secret\n');
    const cases = [
      { ep: prometheusEndpoint('http://rw:rw-secret@127.0.0.1:9090/p', {}), secret: 'rw-secret' },
      { ep: prometheusEndpoint('http://127.0.0.1:9090', { PROMETHEUS_USERNAME: 'rw', PROMETHEUS_PASSWORD: 'env-secret' }), secret: 'env-secret' },
      { ep: prometheusEndpoint('http://rw@127.0.0.1:9090', { PROMETHEUS_BEARER_TOKEN_FILE: file }), secret: 'tok-file-secret' },
    ];
    for (const { ep, secret } of cases) {
      // no other field carries credentials (k6's remote-write environment is gone with k6)
      expect(Object.keys(ep).sort()).toEqual(['auth', 'headers', 'redacted', 'url']);
      expect(ep.headers.authorization).toContain(ep.auth === 'bearer' ? secret : b64(`rw:${secret}`));
      const { headers: _headers, ...shown } = ep;
      expect(JSON.stringify(shown), secret).not.toContain(secret);
      expect(endpointUrl(ep, 'api/v1/query')).not.toMatch(/@|secret/);
    }
  });
});

describe('the Prometheus clients send the credentials as a header', () => {
  let server: Server;
  let port = 0;
  const seen: Array<{ url: string; auth?: string }> = [];
  beforeAll(async () => {
    server = createServer((req: IncomingMessage, res) => {
      seen.push({ url: req.url ?? '', auth: req.headers.authorization });
      if (req.headers.authorization !== `Basic ${b64('carol:s3cret')}`) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="prom"' }).end('Unauthorized\n');
        return;
      }
      req.resume();
      req.on('end', () => {
        const body = req.url?.includes('query_range')
          ? { status: 'success', data: { resultType: 'matrix', result: [{ metric: {}, values: [[1, '1']] }] } }
          : { status: 'success', data: { resultType: 'vector', result: [{ metric: {}, value: [1, '42'] }] } };
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('verifier queries: URL credentials work, wrong ones give exit 3 with a hint and no secret', async () => {
    const ok = prometheusClient(`http://carol:s3cret@127.0.0.1:${port}/`);
    expect((await ok.query('vector(1)', new Date(), 'test')).value).toBe(42);
    expect(seen.at(-1)?.url).toBe('/api/v1/query');
    const bad = prometheusClient(prometheusEndpoint(`http://carol:wrong-pass@127.0.0.1:${port}`, {}));
    const err = await bad.query('vector(1)', new Date(), 'test').catch((e: unknown) => e as FleetloadError);
    expect(err).toBeInstanceOf(FleetloadError);
    expect((err as FleetloadError).exitCode).toBe(3);
    expect((err as Error).message).toMatch(/401.*refused/);
    expect((err as Error).message).not.toContain('wrong-pass');
    const none = prometheusClient(prometheusEndpoint(`http://127.0.0.1:${port}`, {}));
    expect(String(await none.query('vector(1)', new Date(), 'test').catch((e: unknown) => e))).toMatch(/PROMETHEUS_PASSWORD/);
  });

  it('series capture: query_range with the header; the stored source has no password', async () => {
    const file = await fetchSeries({
      prometheusUrl: prometheusEndpoint(`http://carol@127.0.0.1:${port}`, { PROMETHEUS_PASSWORD: 's3cret' }),
      runId: 'r1',
      start: new Date(Date.now() - 10_000),
      end: new Date(),
      defs: [{ id: 'x', kind: 'gauge', unit: '1', query: 'up', help: '' }],
    });
    expect(file.queries[0].status).toBe('ok');
    expect(file.source).toBe(`http://carol@127.0.0.1:${port}`);
    expect(JSON.stringify(file)).not.toContain('s3cret');
    expect(seen.at(-1)).toEqual({ url: '/api/v1/query_range', auth: `Basic ${b64('carol:s3cret')}` });
  });
});
