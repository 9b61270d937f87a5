// The /v1 API as one Fastify plugin (registered with prefix '/v1'): fleet and device queries and JSON location
// ingest through the same batch writer as TCP. The scope's own hooks (bearer token, HTTP fault knobs) and its 404
// handler come from http-api.ts, so they cover exactly this prefix, unknown /v1 paths included.
// Against hostile clients: no type coercion (null is not 0, true is not 1; query numbers are digit strings) and
// strings checked for what PostgreSQL accepts (no NUL, no lone surrogate).
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import type pg from 'pg';
import { MAX_TIMESTAMP_MS, MIN_TIMESTAMP_MS, timestampPlausibility, type BatchWriter, type CommitResult, type WriterRecord } from './batch-writer.js';
import { errorBody, HttpError, ImplausibleTime } from './http-errors.js';
import type { Metrics } from './metrics.js';
import { positionJson, type PositionFields } from './record-json.js';

export interface V1Options {
  pool: pg.Pool;
  writer: BatchWriter;
  metrics: Metrics;
  maxFutureSkewMs: number;
  /** onRequest hooks of this scope, in order (token first, then fault knobs). */
  hooks: onRequestAsyncHookHandler[];
  notFound: (req: FastifyRequest, reply: FastifyReply) => unknown;
}

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

const imeiParams = { type: 'object', required: ['imei'], properties: { imei: { type: 'string', pattern: IMEI_PATTERN } } } as const;

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

/**
 * A JSON body record as the writer stores it (the TCP path has its own `avlToWriterRecord`: a decoded AVL record
 * needs no checks, a JSON body needs every one). Throws HttpError 400 / ImplausibleTime.
 */
function bodyToWriterRecord(r: RecordBody, where: string, receivedAt: number, maxFutureSkewMs: number): WriterRecord {
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

const ROW_COLUMNS = `r."timestamp", r.received_at, r.latitude, r.longitude, r.altitude, r.speed, r.heading, r.satellites,
  r.priority, r.event_id AS "eventId", r.io`;

type Row = PositionFields & { timestamp: Date; received_at: Date; io: unknown };

function rowJson(r: Row) {
  return { timestamp: r.timestamp.toISOString(), receivedAt: r.received_at.toISOString(), ...positionJson(r), io: r.io };
}

/** A digit-string query parameter (already matched by the schema) as an integer in range; throws HttpError 400. */
function queryInt(v: string | undefined, name: string, min: number, max: number, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new HttpError(400, `querystring/${name} must be an integer from ${min} to ${max}`);
  return n;
}

export async function v1Api(app: FastifyInstance, opts: V1Options): Promise<void> {
  for (const hook of opts.hooks) app.addHook('onRequest', hook);
  app.setNotFoundHandler(opts.notFound);
  queryRoutes(app, opts);
  ingestRoute(app, opts);
}

/** Fleet and device reads; "latest" never picks a record outside the plausibility window. */
function queryRoutes(app: FastifyInstance, { pool, maxFutureSkewMs }: V1Options): void {
  // "latest" is the newest record whose timestamp lies in the plausibility window (a year-9999 clock never wins)
  const PLAUSIBLE = (t: string) =>
    `${t}."timestamp" >= '2000-01-01T00:00:00Z' AND ${t}."timestamp" <= now() + make_interval(secs => ${maxFutureSkewMs / 1000})
     AND ${t}."timestamp" <= ${t}.received_at + make_interval(secs => ${maxFutureSkewMs / 1000})`;

  async function deviceId(imei: string): Promise<string> {
    const res = await pool.query<{ id: string }>('SELECT id FROM devices WHERE imei = $1', [imei]);
    if (res.rowCount === 0) throw new HttpError(404, `unknown IMEI ${imei}`);
    return res.rows[0].id;
  }

  const liveQuery = { type: 'object', additionalProperties: false, properties: { limit: UINT_QUERY(5), offset: UINT_QUERY(9) } } as const;
  app.get('/fleet/live', { schema: { querystring: liveQuery } }, async (req) => {
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
  });

  app.get('/devices/:imei/latest', { schema: { params: imeiParams } }, async (req) => {
    const { imei } = req.params as { imei: string };
    const id = await deviceId(imei);
    const res = await pool.query<Row>(`SELECT ${ROW_COLUMNS} FROM telemetry_records r WHERE r.device_id = $1 AND ${PLAUSIBLE('r')} ORDER BY r."timestamp" DESC LIMIT 1`, [id]);
    if (res.rowCount === 0) throw new HttpError(404, `no records for IMEI ${imei}`);
    return { imei, ...rowJson(res.rows[0]) };
  });

  const positionsQuery = { type: 'object', additionalProperties: false, properties: { from: { type: 'string' }, to: { type: 'string' }, limit: UINT_QUERY(5) } } as const;
  app.get('/devices/:imei/positions', { schema: { params: imeiParams, querystring: positionsQuery } }, async (req) => {
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
  });
}

/** JSON location ingest: answered only after the records are committed, like a TCP ACK. */
function ingestRoute(app: FastifyInstance, { writer, metrics, maxFutureSkewMs }: V1Options): void {
  app.post('/telemetry/location', { schema: { body: locationBody } }, async (req, reply) => {
    const body = req.body as LocationBody;
    const receivedAt = Date.now();
    const records = body.records
      ? body.records.map((r, i) => bodyToWriterRecord(r, `body/records/${i}`, receivedAt, maxFutureSkewMs))
      : [bodyToWriterRecord(body, 'body', receivedAt, maxFutureSkewMs)];
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
}
