// The live view's HTTP side: node:http, GET only, Server-Sent Events on /events. Every response carries the
// page's CSP (`default-src 'self'`); report.html is served with the report's own stricter CSP (it inlines its
// script and styles and may request nothing at all). Requests whose Host is a name other than the one given are
// refused, so a web page elsewhere cannot read this one through DNS rebinding.
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIP, type AddressInfo } from 'node:net';
import { badInput } from '../core/errors.js';
import { uplotAssets } from '../report/html/assets.js';
import { LIVE_CLIENT_SCRIPT } from './client.js';
import { LIVE_CSP, LIVE_CSS } from './page.js';

/** The report's own policy (src/report/html/page.ts): inline only, no request of any kind. */
const REPORT_CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'";
/** Open pages at once; each holds one response open. More get 503 (the run matters more than the 65th tab). */
export const MAX_CLIENTS = 64;
/** A tab that reads slower than this many bytes behind is dropped rather than buffered without bound. */
const MAX_BACKLOG_BYTES = 4 * 1024 * 1024;

export const DEFAULT_WEB_PORT = 9470;

export interface LiveRoutes {
  page(): string;
  /** the first message of a new stream: the run's shape, the history so far, the latest state */
  initEvent(): string;
  /** report.html once the run has written it */
  reportFile(): string | undefined;
}

export interface LiveServer {
  url: string;
  readonly clients: number;
  /** ms since the last request or disconnect */
  idleMs(): number;
  broadcast(event: string, data: string): void;
  close(): Promise<void>;
}

/** `--web [PORT]`: true (no value) = the default port; otherwise a whole number 0–65535 (0 = a free one). */
export function parseWebPort(value: string | number | true): number {
  if (value === true) return DEFAULT_WEB_PORT;
  const text = String(value).trim();
  const n = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(n >= 0 && n <= 65535)) throw badInput(`--web: expected a port number from 0 to 65535 (0 = a free port), got "${value}"`);
  return n;
}

/** Listens, or fails as bad input naming the flag (port taken, not this machine's address) before any load. */
export async function startLiveServer(host: string, port: number, routes: LiveRoutes): Promise<LiveServer> {
  const clients = new Set<ServerResponse>();
  let lastActivity = Date.now();
  const server = createServer((req, res) => {
    lastActivity = Date.now();
    handle(req, res, routes, clients, host, () => (lastActivity = Date.now())).catch((e: unknown) => {
      if (!res.headersSent) send(res, 500, 'text/plain', `live view error: ${e instanceof Error ? e.message : String(e)}`);
      else res.destroy();
    });
  });
  await listen(server, host, port);
  const bound = (server.address() as AddressInfo).port;
  const shownHost = isIP(host) === 6 ? `[${host}]` : host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return {
    url: `http://${shownHost}:${bound}/`,
    get clients() {
      return clients.size;
    },
    idleMs: () => (clients.size > 0 ? 0 : Date.now() - lastActivity),
    broadcast(event, data) {
      if (clients.size === 0) return;
      const message = sseMessage(event, data);
      for (const res of clients) {
        if (res.writableLength > MAX_BACKLOG_BYTES) res.destroy();
        else res.write(message);
      }
    },
    async close() {
      for (const res of clients) res.end();
      clients.clear();
      await new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      });
    },
  };
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => {
      server.close();
      const where = `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
      if (e.code === 'EADDRINUSE') reject(badInput(`--web ${port}: ${where} is already in use; pick another port (--web 0 = a free one)`, e));
      else if (e.code === 'EADDRNOTAVAIL') reject(badInput(`--web-host ${host}: not an address of this machine (the live view can only listen on this machine's own addresses, e.g. 127.0.0.1)`, e));
      else if (e.code === 'EACCES') reject(badInput(`--web ${port}: not allowed to listen on ${where} (ports below 1024 need root)`, e));
      else if (e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN') reject(badInput(`--web-host ${host}: no such host name`, e));
      else reject(badInput(`--web: cannot listen on ${where}: ${e.code ?? e.message}`, e));
    };
    server.once('error', onError);
    server.listen({ host, port, exclusive: true }, () => {
      server.removeListener('error', onError);
      resolve();
    });
  });
}

const sseMessage = (event: string, data: string) => `event: ${event}\ndata: ${data}\n\n`;

function headers(type: string, csp = LIVE_CSP): Record<string, string> {
  return {
    'content-type': type,
    'content-security-policy': csp,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cross-origin-resource-policy': 'same-origin',
    'cache-control': 'no-store',
  };
}

function send(res: ServerResponse, status: number, type: string, body: string, csp?: string): void {
  res.writeHead(status, headers(type, csp));
  res.end(body);
}

/** Host names this server answers to: IP literals, localhost, and the --web-host name itself. */
function hostAllowed(req: IncomingMessage, bindHost: string): boolean {
  const raw = req.headers.host;
  if (!raw) return false;
  const name = raw.replace(/:\d+$/, '').replace(/^\[|\]$/g, '').toLowerCase();
  return isIP(name) !== 0 || name === 'localhost' || name === bindHost.toLowerCase();
}

async function handle(req: IncomingMessage, res: ServerResponse, routes: LiveRoutes, clients: Set<ServerResponse>, host: string, touch: () => void): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'the live view is read-only: GET only');
  if (!hostAllowed(req, host)) return send(res, 421, 'text/plain', 'unknown Host');
  const path = new URL(req.url ?? '/', 'http://live').pathname;
  switch (path) {
    case '/':
    case '/index.html':
      return send(res, 200, 'text/html; charset=utf-8', routes.page());
    case '/live.js':
      return send(res, 200, 'text/javascript; charset=utf-8', LIVE_CLIENT_SCRIPT);
    case '/live.css':
      return send(res, 200, 'text/css; charset=utf-8', LIVE_CSS);
    case '/uplot.js':
      return send(res, 200, 'text/javascript; charset=utf-8', uplotAssets().js);
    case '/uplot.css':
      return send(res, 200, 'text/css; charset=utf-8', uplotAssets().css);
    case '/report.html': {
      const file = routes.reportFile();
      if (!file) return send(res, 404, 'text/plain; charset=utf-8', 'report.html is written when the run has been judged; it is not there yet');
      return send(res, 200, 'text/html; charset=utf-8', await readFile(file, 'utf8'), REPORT_CSP);
    }
    case '/events': {
      if (clients.size >= MAX_CLIENTS) return send(res, 503, 'text/plain', `too many open live pages (${MAX_CLIENTS})`);
      res.writeHead(200, { ...headers('text/event-stream; charset=utf-8'), connection: 'keep-alive' });
      res.write(`retry: 2000\n${sseMessage('init', routes.initEvent())}`);
      clients.add(res);
      res.on('close', () => {
        clients.delete(res);
        touch();
      });
      return;
    }
    case '/favicon.ico':
      res.writeHead(204, headers('image/x-icon'));
      return void res.end();
    default:
      return send(res, 404, 'text/plain', 'not found');
  }
}
