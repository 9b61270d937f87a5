// HTTP API (Fastify), one plugin per job: /health and /metrics (open), the /v1 API (http-v1.ts), /admin (fault
// knobs, only with enableAdmin) and /ws (the WebSocket feed). /v1/*, /admin/* and /ws need
// `Authorization: Bearer <token>` when a token is configured (/ws also takes ?token=): each guarded plugin adds the
// token check to its own scope. Fault knobs for HTTP apply to the /v1 scope only.
// Against hostile clients: request/body time and size limits, /admin/* only when enabled, and error bodies that name
// their status (404, 405, 413, ...).
import { timingSafeEqual } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest, type onRequestAsyncHookHandler } from 'fastify';
import fastifyWebsocket from '@fastify/websocket';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { BatchWriter } from './batch-writer.js';
import { parseFaults, type Faults } from './faults.js';
import { errorBody, HttpError, ImplausibleTime } from './http-errors.js';
import { v1Api } from './http-v1.js';
import type { Metrics } from './metrics.js';
import type { WsFeed } from './ws-feed.js';

export interface HttpApiDeps {
  pool: pg.Pool;
  writer: BatchWriter;
  metrics: Metrics;
  faults: Faults;
  feed: WsFeed;
  log: Logger;
  apiToken?: string;
  /** Extra fields for /health. */
  status: () => Record<string, unknown>;
  /** Fault: drop every device TCP link (and refuse new ones for refuseMs); returns how many were dropped. */
  disconnectDevices?: (refuseMs: number) => number;
  /** Serve /admin/* (fault injection); off unless enabled. */
  enableAdmin?: boolean;
  limits?: Partial<HttpLimits>;
}

export interface HttpLimits {
  requestTimeoutMs: number;
  connectionTimeoutMs: number;
  bodyLimitBytes: number;
  maxFutureSkewMs: number;
  /** Writer queue size at which /health says "behind". */
  maxQueuedRecords: number;
}

const DEFAULT_LIMITS: HttpLimits = {
  requestTimeoutMs: 15_000,
  connectionTimeoutMs: 30_000,
  bodyLimitBytes: 1024 * 1024,
  maxFutureSkewMs: 300_000,
  maxQueuedRecords: 100_000,
};

type NotFound = (req: FastifyRequest, reply: FastifyReply) => unknown;

export async function buildHttpApi(deps: HttpApiDeps): Promise<FastifyInstance> {
  const limits: HttpLimits = { ...DEFAULT_LIMITS, ...deps.limits };
  const app = createServer(deps.log, limits);
  const notFound = notFoundOr405(app);
  await app.register(fastifyWebsocket, { options: { maxPayload: 64 * 1024 } });
  countRequests(app, deps.metrics);
  app.setErrorHandler(errorHandler(deps.metrics));
  app.setNotFoundHandler(notFound);

  const token = bearerGuard(deps.apiToken, false);
  await app.register(openRoutes(deps, limits));
  await app.register(v1Api, {
    prefix: '/v1',
    pool: deps.pool,
    writer: deps.writer,
    metrics: deps.metrics,
    maxFutureSkewMs: limits.maxFutureSkewMs,
    hooks: [only404On('/v1', 'below', token), only404On('/v1', 'below', httpFaults(deps.faults))],
    notFound,
  });
  await app.register(adminApi(deps, only404On('/admin', 'below', token), notFound), { prefix: '/admin' });
  await app.register(
    async (ws) => {
      // Only the bare prefix is the feed: /ws/anything stays a plain 404, as it is no part of the feed.
      ws.addHook('onRequest', only404On('/ws', 'bare', bearerGuard(deps.apiToken, true)));
      ws.setNotFoundHandler(notFound);
      deps.feed.register(ws);
    },
    { prefix: '/ws' },
  );
  return app;
}

function createServer(log: Logger, limits: HttpLimits): FastifyInstance {
  return Fastify({
    loggerInstance: log.child({ component: 'http' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    // coerceTypes off: Ajv's default would store `latitude: null` as 0 and `true` as 1
    ajv: { customOptions: { allowUnionTypes: true, removeAdditional: false, coerceTypes: false } },
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    bodyLimit: limits.bodyLimitBytes,
    requestTimeout: limits.requestTimeoutMs,
    connectionTimeout: limits.connectionTimeoutMs,
    // Node checks request deadlines only every connectionsCheckingInterval (30 s by default): a trickled body
    // would otherwise outlive requestTimeout by up to that much.
    http: {
      connectionsCheckingInterval: Math.min(1000, limits.requestTimeoutMs),
      headersTimeout: Math.min(limits.requestTimeoutMs, 60_000),
    },
  });
}

/**
 * The 404 handler of every scope: a wrong method on a known path (from any plugin) is a 405 with Allow, not a 404.
 * Knows every route through the onRoute hook, so it must be created before the plugins register.
 */
function notFoundOr405(app: FastifyInstance): NotFound {
  const routes: Array<{ re: RegExp; methods: string[] }> = [];
  app.addHook('onRoute', (r) => {
    const re = new RegExp(`^${r.url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:[A-Za-z0-9_]+/g, '[^/]+')}$`);
    const methods = Array.isArray(r.method) ? r.method : [r.method];
    const known = routes.find((x) => x.re.source === re.source);
    if (known) known.methods.push(...methods);
    else routes.push({ re, methods: [...methods] });
  });
  return (req, reply) => {
    const path = req.url.split('?')[0];
    const allowed = routes.find((r) => r.re.test(path))?.methods;
    if (allowed && !allowed.includes(req.method)) {
      return reply.code(405).header('allow', allowed.join(', ')).send(errorBody(405, `${req.method} is not allowed on ${path} (allowed: ${allowed.join(', ')})`));
    }
    return reply.code(404).send(errorBody(404, `no route ${req.method} ${path}`));
  };
}

function countRequests(app: FastifyInstance, metrics: Metrics): void {
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    const method = req.method;
    metrics.httpRequests.inc({ method, route, status: String(reply.statusCode) });
    metrics.httpDuration.observe({ method, route }, reply.elapsedTime / 1000);
  });
}

function errorHandler(metrics: Metrics) {
  return (err: Error & { statusCode?: number; validation?: unknown }, req: FastifyRequest, reply: FastifyReply): void => {
    let status = err instanceof HttpError ? err.statusCode : (err.statusCode ?? 500);
    if (!(status >= 400 && status <= 599)) status = 500;
    if (err instanceof ImplausibleTime) metrics.recordsImplausibleTime.inc({ reason: err.reason, path: 'http' });
    if (status >= 500) req.log.error({ err }, 'request failed');
    const message = status >= 500 && !(err instanceof HttpError) ? 'internal error' : err.message;
    void reply.code(status).send(errorBody(status, message));
  };
}

function tokenMatches(expected: string, given: string | undefined): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The scope's token check (a no-op without a token); `queryToken`: ?token= counts too (browsers' WebSocket). */
function bearerGuard(apiToken: string | undefined, queryToken: boolean): onRequestAsyncHookHandler {
  return async (req, reply) => {
    if (apiToken === undefined) return;
    const h = req.headers.authorization;
    const bearer = h?.startsWith('Bearer ') ? h.slice(7) : undefined;
    const q = queryToken ? (req.query as Record<string, string | undefined>).token : undefined;
    if (!tokenMatches(apiToken, bearer) && !tokenMatches(apiToken, q)) {
      return reply.code(401).header('www-authenticate', 'Bearer').send({ statusCode: 401, error: 'Unauthorized', message: 'missing or wrong bearer token' });
    }
  };
}

/** The HTTP fault knobs: extra latency, and a share of requests answered 500. */
function httpFaults(faults: Faults): onRequestAsyncHookHandler {
  return async (_req, reply) => {
    const f = faults.current;
    if (f.httpLatencyMs > 0) await new Promise((r) => setTimeout(r, f.httpLatencyMs));
    if (faults.roll(f.httpErrorRatio)) {
      return reply.code(500).send({ statusCode: 500, error: 'Internal Server Error', message: 'injected fault (httpErrorRatio)' });
    }
  };
}

/**
 * Which unknown paths of a prefixed scope a hook guards. Fastify's scoped 404 handler answers both the bare prefix
 * and every path below it; `below`: only paths below it (/v1/x, /admin/x — the bare "/v1" was never part of the
 * API); `bare`: only the prefix itself (/ws is the feed, a wrong method on it is guarded, /ws/x is not). Matched
 * routes always run the hook.
 */
function only404On(prefix: string, which: 'below' | 'bare', hook: onRequestAsyncHookHandler): onRequestAsyncHookHandler {
  return async function (this: FastifyInstance, req, reply) {
    if (req.is404 && (req.url.split('?')[0] === prefix) !== (which === 'bare')) return;
    return hook.call(this, req, reply);
  };
}

/** /health and /metrics: open to anyone, so that probes and Prometheus need no token. */
function openRoutes(deps: HttpApiDeps, limits: HttpLimits) {
  return async (app: FastifyInstance): Promise<void> => {
    app.get('/health', async (_req, reply) => {
      const h = await health(deps.pool, deps.writer, limits.maxQueuedRecords);
      return reply.code(h.status === 'down' ? 503 : 200).send({ ...h, ...deps.status() });
    });
    app.get('/metrics', async (_req, reply) => {
      return reply.header('content-type', deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
    });
  };
}

/**
 * Fault injection is an admin act: the routes exist only with enableAdmin. The scope (token check, 404 handler) is
 * there either way, so that an unknown /admin path answers alike whether admin is on or off.
 */
function adminApi(deps: HttpApiDeps, guard: onRequestAsyncHookHandler, notFound: NotFound) {
  const { faults, disconnectDevices } = deps;
  return async (app: FastifyInstance): Promise<void> => {
    app.addHook('onRequest', guard);
    app.setNotFoundHandler(notFound);
    if (!deps.enableAdmin) return;
    app.get('/faults', async () => faults.current);
    app.post('/faults', async (req) => {
      try {
        return faults.update(parseFaults(req.body));
      } catch (err) {
        throw new HttpError(400, (err as Error).message);
      }
    });

    // Fault: drop every device link at once (a cell outage); body {"refuseMs": 5000} keeps refusing reconnects that long.
    app.post('/disconnect-devices', async (req) => {
      const refuseMs = (req.body as { refuseMs?: unknown } | undefined)?.refuseMs ?? 0;
      if (typeof refuseMs !== 'number' || !Number.isFinite(refuseMs) || refuseMs < 0 || refuseMs > 600_000) {
        throw new HttpError(400, 'refuseMs must be a number of milliseconds from 0 to 600000');
      }
      if (!disconnectDevices) throw new HttpError(404, 'this platform has no device TCP ingest');
      return { dropped: disconnectDevices(refuseMs), refuseMs };
    });
  };
}

export interface Health {
  /** ok; behind: the write queue is deep (ingest slowed, database reachable); down: the database is unreachable */
  status: 'ok' | 'behind' | 'down';
  db: 'up' | 'down';
  queue: { pending: number; max: number; full: boolean };
}

/**
 * Tells "behind" from "down": a probe that times out while the writer committed within the last 5 s means the
 * database is busy, not gone.
 */
async function health(pool: pg.Pool, writer: BatchWriter, maxQueued: number): Promise<Health> {
  let db: Health['db'] = 'up';
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Error('timeout');
  try {
    await Promise.race([pool.query('SELECT 1'), new Promise((_, rej) => (timer = setTimeout(() => rej(timeout), 2000)))]);
  } catch (err) {
    // a refused or broken connection is "down"; a slow answer while the writer keeps committing is "busy"
    db = err === timeout && Date.now() - writer.lastCommitAt < 5000 ? 'up' : 'down';
  } finally {
    clearTimeout(timer);
  }
  const queue = { pending: writer.pending, max: maxQueued, full: writer.full };
  const behind = queue.full || queue.pending >= maxQueued / 2;
  return { status: db === 'down' ? 'down' : behind ? 'behind' : 'ok', db, queue };
}
