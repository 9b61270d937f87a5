// HTTP API (Fastify): health, Prometheus metrics, fleet/device queries, JSON location ingest through the same
// batch writer as TCP, and the fault knobs. /v1/*, /admin/* and /ws need `Authorization: Bearer <token>` when a
// token is configured (/ws also takes ?token=). Fault knobs for HTTP apply to /v1/* only.
import { timingSafeEqual } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import fastifyWebsocket from '@fastify/websocket';
import type pg from 'pg';
import type { Logger } from 'pino';
import { MAX_TIMESTAMP_MS, MIN_TIMESTAMP_MS, type BatchWriter, type CommitResult, type WriterRecord } from './batch-writer.js';
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
}

const IMEI_PATTERN = '^[0-9]{15,16}$';
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
  io: { type: 'object', additionalProperties: { type: ['number', 'string', 'boolean'] } },
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

function toWriterRecord(r: RecordBody, where: string): WriterRecord {
  if (r.timestamp === undefined || r.latitude === undefined || r.longitude === undefined) {
    throw new HttpError(400, `${where} must have timestamp, latitude and longitude (or send a records array)`);
  }
  return {
    timestamp: parseTime(r.timestamp, `${where}.timestamp`),
    latitude: r.latitude,
    longitude: r.longitude,
    altitude: r.altitude ?? 0,
    speed: Math.round(r.speed ?? 0),
    heading: Math.round(r.heading ?? 0),
    satellites: r.satellites ?? 0,
    priority: r.priority ?? 0,
    eventId: r.eventId ?? 0,
    io: r.io && Object.keys(r.io).length > 0 ? JSON.stringify(r.io) : null,
  };
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
  const app = Fastify({
    loggerInstance: log.child({ component: 'http' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    ajv: { customOptions: { allowUnionTypes: true, removeAdditional: false } },
    forceCloseConnections: 'idle',
    return503OnClosing: true,
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
    const status = err instanceof HttpError ? err.statusCode : (err.statusCode ?? 500);
    if (status >= 500) req.log.error({ err }, 'request failed');
    const message = status >= 500 && !(err instanceof HttpError) ? 'internal error' : err.message;
    void reply.code(status).send({ statusCode: status, error: status >= 500 ? 'Internal Server Error' : 'Bad Request', message });
  });

  app.get('/health', async (_req, reply) => {
    let db = 'up';
    try {
      await Promise.race([
        pool.query('SELECT 1'),
        new Promise((_, rej) => setTimeout(() => rej(new Error('timeout')), 2000).unref()),
      ]);
    } catch {
      db = 'down';
    }
    return reply.code(db === 'up' ? 200 : 503).send({ status: db === 'up' ? 'ok' : 'degraded', db, ...deps.status() });
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
            limit: { type: 'integer', minimum: 1, maximum: 10000, default: 1000 },
            offset: { type: 'integer', minimum: 0, default: 0 },
          },
        },
      },
    },
    async (req) => {
      const q = req.query as { limit: number; offset: number };
      const res = await pool.query(
        `SELECT d.imei, ${ROW_COLUMNS}
           FROM devices d
           CROSS JOIN LATERAL (SELECT * FROM telemetry_records t WHERE t.device_id = d.id ORDER BY t."timestamp" DESC LIMIT 1) r
          ORDER BY d.id LIMIT $1 OFFSET $2`,
        [q.limit, q.offset],
      );
      return { count: res.rowCount, devices: res.rows.map((r: Row & { imei: string }) => ({ imei: r.imei, ...rowJson(r) })) };
    },
  );

  const imeiParams = { type: 'object', required: ['imei'], properties: { imei: { type: 'string', pattern: IMEI_PATTERN } } } as const;

  async function deviceId(imei: string): Promise<string> {
    const res = await pool.query<{ id: string }>('SELECT id FROM devices WHERE imei = $1', [imei]);
    if (res.rowCount === 0) throw new HttpError(404, `unknown IMEI ${imei}`);
    return res.rows[0].id;
  }

  app.get('/v1/devices/:imei/latest', { schema: { params: imeiParams } }, async (req) => {
    const { imei } = req.params as { imei: string };
    const id = await deviceId(imei);
    const res = await pool.query<Row>(`SELECT ${ROW_COLUMNS} FROM telemetry_records r WHERE r.device_id = $1 ORDER BY r."timestamp" DESC LIMIT 1`, [id]);
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
            limit: { type: 'integer', minimum: 1, maximum: 10000, default: 1000 },
          },
        },
      },
    },
    async (req) => {
      const { imei } = req.params as { imei: string };
      const q = req.query as { from?: string; to?: string; limit: number };
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
    const records = body.records
      ? body.records.map((r, i) => toWriterRecord(r, `body/records/${i}`))
      : [toWriterRecord(body, 'body')];
    if (writer.full) {
      return reply.code(503).header('retry-after', '1').send({ statusCode: 503, error: 'Service Unavailable', message: 'ingest queue full, retry later' });
    }
    metrics.recordsReceived.inc(records.length);
    const result = await new Promise<CommitResult>((done) => writer.submit({ imei: body.imei, records, receivedAt: Date.now(), done }));
    if (!result.ok) {
      return reply.code(503).send({ statusCode: 503, error: 'Service Unavailable', message: `records not stored: ${result.error}` });
    }
    return { accepted: records.length, committedAt: new Date(result.committedAt).toISOString() };
  });

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
    if (!deps.disconnectDevices) throw new HttpError(404, 'this platform has no device TCP ingest');
    return { dropped: deps.disconnectDevices(refuseMs), refuseMs };
  });

  feed.register(app);
  return app;
}
