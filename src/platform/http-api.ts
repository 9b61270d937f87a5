// HTTP API (Fastify): health, Prometheus metrics, fleet/device queries, JSON location ingest through the same
// batch writer as TCP, and the fault knobs. /v1/*, /admin/* and /ws need `Authorization: Bearer <token>` when a
// token is configured (/ws also takes ?token=). Fault knobs for HTTP apply to /v1/* only.
// Against hostile clients: no type coercion (null is not 0, true is not 1; query numbers are digit strings), strings
// checked for what PostgreSQL accepts (no NUL, no lone surrogate), request/body time and size limits, /admin/*
// only when enabled, and error bodies that name their status (404, 405, 413, ...).
import { timingSafeEqual } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import fastifyWebsocket from '@fastify/websocket';
import type pg from 'pg';
import type { Logger } from 'pino';
import { MAX_TIMESTAMP_MS, MIN_TIMESTAMP_MS, timestampPlausibility, type BatchWriter, type CommitResult, type WriterRecord } from './batch-writer.js';
import { parseFaults, type Faults } from './faults.js';
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

/** NUL, or a UTF-16 surrogate without its partner: valid in a JS string, refused by PostgreSQL text and jsonb. */
const PG_UNSAFE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function pgSafeString(s: string): boolean {
  return !PG_UNSAFE.test(s);
}

const IMEI_PATTERN = '^[0-9]{15,16}$';
/** Query numbers are digit strings checked here (no coercion): `1e20`, `-1` or `1.5` are a 400, never a 500. */
const UINT_QUERY = (digits: number) => ({ type: 'string', pattern: `^[0-9]{1,${digits}}$` }) as const;
/** IO elements per record: Teltonika packets carry at most 255. */
const MAX_IO_ELEMENTS = 255;
const MAX_RECORDS_PER_REQUEST = 1000;

const recordProps = {
  timestamp: { type: ['string', 'integer'], description: 'ISO 8601 date-time or ms since epoch' },
  latitude: { type: 'number', minimum: -90, maximum: 90 },
  longitude: { type: 'number', minimum: -180, maximum: 180 },
  altitude: { type: 'integer', minimum: -32768, maximum: 32767 },
  speed: { type: 'number', minimum: 0, maximum: 65535 },
  heading: { type: 'number', minimum: 0, maximum: 360 },
  satellites: { type: 'integer', minimum: 0, maximum: 255 },
  priority: { type: 'integer', minimum: 0, maximum: 2 },
  eventId: { type: 'integer', minimum: 0, maximum: 65535 },
  io: { type: 'object', maxProperties: MAX_IO_ELEMENTS, additionalProperties: { type: ['number', 'string', 'boolean'], maxLength: 4096 } },
} as const;

const locationBody = {
  type: 'object',
  required: ['imei'],
  additionalProperties: false,
  properties: {
    imei: { type: 'string', pattern: IMEI_PATTERN },
    ...recordProps,
    records: {
      type: 'array',
      minItems: 1,
      maxItems: MAX_RECORDS_PER_REQUEST,
      items: { type: 'object', required: ['timestamp', 'latitude', 'longitude'], additionalProperties: false, properties: recordProps },
    },
  },
} as const;

type RecordBody = {
  timestamp?: string | number;
  latitude?: number;
  longitude?: number;
  altitude?: number;
  speed?: number;
  heading?: number;
  satellites?: number;
  priority?: number;
  eventId?: number;
  io?: Record<string, unknown>;
};
type LocationBody = RecordBody & { imei: string; records?: RecordBody[] };

class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** ms since epoch from an ISO 8601 string or an integer; throws HttpError 400. */
export function parseTime(v: string | number, what: string): number {
  let ms: number;
  if (typeof v === 'number') ms = v;
  else if (/^-?\d+$/.test(v)) ms = Number(v);
  else if (/^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(v)) ms = Date.parse(v);
  else ms = Number.NaN;
  if (!Number.isFinite(ms) || ms < MIN_TIMESTAMP_MS || ms > MAX_TIMESTAMP_MS) {
    throw new HttpError(400, `${what} must be an ISO 8601 date-time or ms since epoch between 1970 and 9999 (got ${JSON.stringify(v)})`);
  }
  return ms;
}

/** io as JSON text PostgreSQL's jsonb accepts; throws HttpError 400 naming the bad key. */
function ioJson(io: Record<string, unknown> | undefined, where: string): string | null {
  if (!io) return null;
  const keys = Object.keys(io);
  if (keys.length === 0) return null;
  for (const k of keys) {
    const v = io[k];
    if (!pgSafeString(k) || (typeof v === 'string' && !pgSafeString(v))) {
      throw new HttpError(400, `${where}.io: keys and strings must not contain NUL (\\u0000) or a lone UTF-16 surrogate (key ${JSON.stringify(k)})`);
    }
  }
  return JSON.stringify(io);
}

function toWriterRecord(r: RecordBody, where: string, receivedAt: number, maxFutureSkewMs: number): WriterRecord {
  if (r.timestamp === undefined || r.latitude === undefined || r.longitude === undefined) {
    throw new HttpError(400, `${where} must have timestamp, latitude and longitude (or send a records array)`);
  }
  const timestamp = parseTime(r.timestamp, `${where}.timestamp`);
  const plausible = timestampPlausibility(timestamp, receivedAt, maxFutureSkewMs);
  if (plausible !== 'ok') {
    throw new ImplausibleTime(
      plausible,
      `${where}.timestamp ${new Date(timestamp).toISOString()} is outside the plausibility window (from 2000-01-01 to ${maxFutureSkewMs / 1000} s after receive time)`,
    );
  }
  return {
    timestamp,
    latitude: r.latitude,
    longitude: r.longitude,
    altitude: r.altitude ?? 0,
    speed: Math.round(r.speed ?? 0),
    heading: Math.round(r.heading ?? 0),
    satellites: r.satellites ?? 0,
    priority: r.priority ?? 0,
    eventId: r.eventId ?? 0,
    io: ioJson(r.io, where),
  };
}

class ImplausibleTime extends HttpError {
  constructor(
    readonly reason: 'too_old' | 'future',
    message: string,
  ) {
    super(400, message);
  }
}

function tokenMatches(expected: string, given: string | undefined): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

const ROW_COLUMNS = `r."timestamp", r.received_at, r.latitude, r.longitude, r.altitude, r.speed, r.heading, r.satellites,
  r.priority, r.event_id, r.io`;

type Row = {
  timestamp: Date;
  received_at: Date;
  latitude: number;
  longitude: number;
  altitude: number;
  speed: number;
  heading: number;
  satellites: number;
  priority: number;
  event_id: number;
  io: unknown;
};

function rowJson(r: Row) {
  return {
    timestamp: r.timestamp.toISOString(),
    receivedAt: r.received_at.toISOString(),
    latitude: r.latitude,
    longitude: r.longitude,
    altitude: r.altitude,
    speed: r.speed,
    heading: r.heading,
    satellites: r.satellites,
    priority: r.priority,
    eventId: r.event_id,
    io: r.io,
  };
}

export async function buildHttpApi(deps: HttpApiDeps): Promise<FastifyInstance> {
  const { pool, writer, metrics, faults, feed, log, apiToken } = deps;
  const limits: HttpLimits = { ...DEFAULT_LIMITS, ...deps.limits };
  const app = Fastify({
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
  // Every route, so that a wrong method on a known path is a 405 with Allow, not a 404.
  const routes: Array<{ re: RegExp; methods: string[] }> = [];
  app.addHook('onRoute', (r) => {
    const re = new RegExp(`^${r.url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:[A-Za-z0-9_]+/g, '[^/]+')}$`);
    const methods = Array.isArray(r.method) ? r.method : [r.method];
    const known = routes.find((x) => x.re.source === re.source);
    if (known) known.methods.push(...methods);
    else routes.push({ re, methods: [...methods] });
  });
  await app.register(fastifyWebsocket, { options: { maxPayload: 64 * 1024 } });

  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    const method = req.method;
    metrics.httpRequests.inc({ method, route, status: String(reply.statusCode) });
    metrics.httpDuration.observe({ method, route }, reply.elapsedTime / 1000);
  });

  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    const url = req.url;
    const guarded = url.startsWith('/v1/') || url.startsWith('/admin/') || url === '/ws' || url.startsWith('/ws?');
    if (guarded && apiToken !== undefined) {
      const h = req.headers.authorization;
      const bearer = h?.startsWith('Bearer ') ? h.slice(7) : undefined;
      const q = url.startsWith('/ws') ? (req.query as Record<string, string | undefined>).token : undefined;
      if (!tokenMatches(apiToken, bearer) && !tokenMatches(apiToken, q)) {
        return reply.code(401).header('www-authenticate', 'Bearer').send({ statusCode: 401, error: 'Unauthorized', message: 'missing or wrong bearer token' });
      }
    }
    if (url.startsWith('/v1/')) {
      const f = faults.current;
      if (f.httpLatencyMs > 0) await new Promise((r) => setTimeout(r, f.httpLatencyMs));
      if (faults.roll(f.httpErrorRatio)) {
        return reply.code(500).send({ statusCode: 500, error: 'Internal Server Error', message: 'injected fault (httpErrorRatio)' });
      }
    }
  });

  app.setErrorHandler((err: Error & { statusCode?: number; validation?: unknown }, req, reply) => {
    let status = err instanceof HttpError ? err.statusCode : (err.statusCode ?? 500);
    if (!(status >= 400 && status <= 599)) status = 500;
    if (err instanceof ImplausibleTime) metrics.recordsImplausibleTime.inc({ reason: err.reason, path: 'http' });
    if (status >= 500) req.log.error({ err }, 'request failed');
    const message = status >= 500 && !(err instanceof HttpError) ? 'internal error' : err.message;
    void reply.code(status).send(errorBody(status, message));
  });

  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0];
    const allowed = routes.find((r) => r.re.test(path))?.methods;
    if (allowed && !allowed.includes(req.method)) {
      return reply.code(405).header('allow', allowed.join(', ')).send(errorBody(405, `${req.method} is not allowed on ${path} (allowed: ${allowed.join(', ')})`));
    }
    return reply.code(404).send(errorBody(404, `no route ${req.method} ${path}`));
  });

  app.get('/health', async (_req, reply) => {
    const h = await health(pool, writer, limits.maxQueuedRecords);
    return reply.code(h.status === 'down' ? 503 : 200).send({ ...h, ...deps.status() });
  });

  app.get('/metrics', async (_req, reply) => {
    return reply.header('content-type', metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  app.get(
    '/v1/fleet/live',
    {
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            limit: UINT_QUERY(5),
            offset: UINT_QUERY(9),
          },
        },
      },
    },
    async (req) => {
      const raw = req.query as { limit?: string; offset?: string };
      const q = { limit: queryInt(raw.limit, 'limit', 1, 10_000, 1000), offset: queryInt(raw.offset, 'offset', 0, 999_999_999, 0) };
      const res = await pool.query(
        `SELECT d.imei, ${ROW_COLUMNS}
           FROM devices d
           CROSS JOIN LATERAL (SELECT * FROM telemetry_records t WHERE t.device_id = d.id AND ${PLAUSIBLE('t')} ORDER BY t."timestamp" DESC LIMIT 1) r
          ORDER BY d.id LIMIT $1 OFFSET $2`,
        [q.limit, q.offset],
      );
      return { count: res.rowCount, devices: res.rows.map((r: Row & { imei: string }) => ({ imei: r.imei, ...rowJson(r) })) };
    },
  );

  // "latest" is the newest record whose timestamp lies in the plausibility window (a year-9999 clock never wins)
  const PLAUSIBLE = (t: string) =>
    `${t}."timestamp" >= '2000-01-01T00:00:00Z' AND ${t}."timestamp" <= now() + make_interval(secs => ${limits.maxFutureSkewMs / 1000})
     AND ${t}."timestamp" <= ${t}.received_at + make_interval(secs => ${limits.maxFutureSkewMs / 1000})`;

  const imeiParams = { type: 'object', required: ['imei'], properties: { imei: { type: 'string', pattern: IMEI_PATTERN } } } as const;

  async function deviceId(imei: string): Promise<string> {
    const res = await pool.query<{ id: string }>('SELECT id FROM devices WHERE imei = $1', [imei]);
    if (res.rowCount === 0) throw new HttpError(404, `unknown IMEI ${imei}`);
    return res.rows[0].id;
  }

  app.get('/v1/devices/:imei/latest', { schema: { params: imeiParams } }, async (req) => {
    const { imei } = req.params as { imei: string };
    const id = await deviceId(imei);
    const res = await pool.query<Row>(`SELECT ${ROW_COLUMNS} FROM telemetry_records r WHERE r.device_id = $1 AND ${PLAUSIBLE('r')} ORDER BY r."timestamp" DESC LIMIT 1`, [id]);
    if (res.rowCount === 0) throw new HttpError(404, `no records for IMEI ${imei}`);
    return { imei, ...rowJson(res.rows[0]) };
  });

  app.get(
    '/v1/devices/:imei/positions',
    {
      schema: {
        params: imeiParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            from: { type: 'string' },
            to: { type: 'string' },
            limit: UINT_QUERY(5),
          },
        },
      },
    },
    async (req) => {
      const { imei } = req.params as { imei: string };
      const raw = req.query as { from?: string; to?: string; limit?: string };
      const q = { from: raw.from, to: raw.to, limit: queryInt(raw.limit, 'limit', 1, 10_000, 1000) };
      const from = q.from !== undefined ? parseTime(q.from, 'from') : MIN_TIMESTAMP_MS;
      const to = q.to !== undefined ? parseTime(q.to, 'to') : MAX_TIMESTAMP_MS;
      if (from > to) throw new HttpError(400, 'from must not be after to');
      const id = await deviceId(imei);
      // The newest `limit` positions in [from, to], returned oldest first (reads the DESC covering index).
      const res = await pool.query<Row>(
        `SELECT ${ROW_COLUMNS} FROM telemetry_records r
          WHERE r.device_id = $1 AND r."timestamp" >= to_timestamp($2 / 1000.0) AND r."timestamp" <= to_timestamp($3 / 1000.0)
          ORDER BY r."timestamp" DESC LIMIT $4`,
        [id, from, to, q.limit],
      );
      const positions = res.rows.reverse().map(rowJson);
      return { imei, count: positions.length, positions };
    },
  );

  app.post('/v1/telemetry/location', { schema: { body: locationBody } }, async (req, reply) => {
    const body = req.body as LocationBody;
    const receivedAt = Date.now();
    const records = body.records
      ? body.records.map((r, i) => toWriterRecord(r, `body/records/${i}`, receivedAt, limits.maxFutureSkewMs))
      : [toWriterRecord(body, 'body', receivedAt, limits.maxFutureSkewMs)];
    if (writer.full) {
      return reply.code(503).header('retry-after', '1').send({ statusCode: 503, error: 'Service Unavailable', message: 'ingest queue full, retry later' });
    }
    metrics.recordsReceived.inc(records.length);
    const result = await new Promise<CommitResult>((done) => writer.submit({ imei: body.imei, records, receivedAt, done }));
    if (!result.ok && result.rejected) {
      return reply.code(400).send(errorBody(400, `records rejected by the database: ${result.error}`));
    }
    if (!result.ok) {
      return reply.code(503).send({ statusCode: 503, error: 'Service Unavailable', message: `records not stored: ${result.error}` });
    }
    return { accepted: records.length, committedAt: new Date(result.committedAt).toISOString() };
  });

  if (deps.enableAdmin) registerAdmin(app, faults, deps.disconnectDevices);
  feed.register(app);
  return app;
}

/** Fault injection is an admin act: these routes exist only with enableAdmin (guarded by the token in onRequest). */
function registerAdmin(app: FastifyInstance, faults: Faults, disconnectDevices: HttpApiDeps['disconnectDevices']): void {
  app.get('/admin/faults', async () => faults.current);
  app.post('/admin/faults', async (req) => {
    try {
      return faults.update(parseFaults(req.body));
    } catch (err) {
      throw new HttpError(400, (err as Error).message);
    }
  });

  // Fault: drop every device link at once (a cell outage); body {"refuseMs": 5000} keeps refusing reconnects that long.
  app.post('/admin/disconnect-devices', async (req) => {
    const refuseMs = (req.body as { refuseMs?: unknown } | undefined)?.refuseMs ?? 0;
    if (typeof refuseMs !== 'number' || !Number.isFinite(refuseMs) || refuseMs < 0 || refuseMs > 600_000) {
      throw new HttpError(400, 'refuseMs must be a number of milliseconds from 0 to 600000');
    }
    if (!disconnectDevices) throw new HttpError(404, 'this platform has no device TCP ingest');
    return { dropped: disconnectDevices(refuseMs), refuseMs };
  });
}

function errorBody(status: number, message: string) {
  return { statusCode: status, error: STATUS_CODES[status] ?? 'Error', message };
}

/** A digit-string query parameter (already matched by the schema) as an integer in range; throws HttpError 400. */
function queryInt(v: string | undefined, name: string, min: number, max: number, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new HttpError(400, `querystring/${name} must be an integer from ${min} to ${max}`);
  return n;
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
