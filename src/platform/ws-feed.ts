// WebSocket feed on /ws: clients subscribe to every device or to a list of IMEIs and receive each record
// after it is committed, as JSON with the device timestamp, the server receive time and the commit time.
//   subscribe:   ?all=1 or ?imeis=a,b in the URL, or send {"subscribe":"all"} / {"subscribe":["356..."]}
//   unsubscribe: {"unsubscribe":"all"} / {"unsubscribe":["356..."]}
//   reply:       {"type":"subscribed","all":bool,"count":n} (a count, never the list: a reply must not grow with it)
// Memory per client is bounded: at most maxClients clients, maxSubscriptions 15-digit IMEIs each, control messages
// rate-limited (token bucket), and every send skipped while the client's unsent data is above maxBufferedBytes; a
// client that stays above it for graceMs is closed (1008) and counted as an eviction.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import type { CommittedBatch } from './batch-writer.js';
import type { Metrics } from './metrics.js';
import { positionJson } from './record-json.js';

export interface WsFeedOptions {
  maxClients: number;
  maxSubscriptions: number;
  maxBufferedBytes: number;
  /** How long a client may stay above maxBufferedBytes before it is closed. */
  graceMs: number;
  /** Control messages per second (bucket of twice that). */
  controlPerSec: number;
  /** ms since the epoch; injectable so that the eviction rule can be driven without sleeping. */
  now?: () => number;
}

export const DEFAULT_WS_OPTIONS: WsFeedOptions = {
  maxClients: 1000,
  maxSubscriptions: 10_000,
  maxBufferedBytes: 4 * 1024 * 1024,
  graceMs: 10_000,
  controlPerSec: 10,
};

const CONTROL_HELP = 'expected {"subscribe":"all"|[imei,...]} or {"unsubscribe":"all"|[imei,...]} with 15-digit IMEIs';
const IMEI = /^[0-9]{15}$/;

interface Client {
  ws: WebSocket;
  all: boolean;
  imeis: Set<string>;
  /** since when (ms) the client's unsent data is above the cap; undefined while it is not */
  overSince: number | undefined;
  tokens: number;
  refilledAt: number;
}

export class WsFeed {
  private readonly clients = new Set<Client>();
  private readonly byImei = new Map<string, Set<Client>>();
  private allCount = 0;
  private readonly opts: WsFeedOptions;
  private readonly now: () => number;
  private sweepTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly metrics: Metrics,
    private readonly log: Logger,
    opts: Partial<WsFeedOptions> = {},
  ) {
    this.opts = { ...DEFAULT_WS_OPTIONS, ...opts };
    this.now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.clients.size;
  }

  /** Adds the feed's route to a scope registered with prefix '/ws' (the route itself is the bare prefix). */
  register(app: FastifyInstance): void {
    // Refused before the upgrade, so a refused client costs no WebSocket state at all.
    const capacity = async (_req: FastifyRequest, reply: FastifyReply) => {
      if (this.clients.size < this.opts.maxClients) return;
      this.metrics.wsRejected.inc({ reason: 'max_clients' });
      return reply
        .code(503)
        .header('retry-after', '5')
        .send({ statusCode: 503, error: 'Service Unavailable', message: `too many WebSocket clients (limit ${this.opts.maxClients})` });
    };
    app.get('', { websocket: true, preValidation: capacity }, (ws, req) => {
      const client: Client = { ws, all: false, imeis: new Set(), overSince: undefined, tokens: 2 * this.opts.controlPerSec, refilledAt: this.now() };
      this.clients.add(client);
      this.metrics.wsActive.inc();
      this.startSweep();
      ws.on('message', (data, isBinary) => {
        // A listener that throws takes the whole platform down with every device on it: whatever a client sends,
        // the worst it gets is an error reply or a close.
        try {
          this.onMessage(client, data, isBinary);
        } catch (err) {
          this.log.warn({ err: (err as Error).message }, 'websocket message handler failed; closing the client');
          client.ws.close(1011, 'internal error');
        }
      });
      ws.on('close', () => {
        this.dropSubscriptions(client);
        this.clients.delete(client);
        this.metrics.wsActive.dec();
        if (this.clients.size === 0) this.stopSweep();
      });
      ws.on('error', (err) => this.log.debug({ err: err.message }, 'websocket error'));
      const q = req.query as Record<string, unknown>;
      if (q.all === '1' || q.all === 'true') this.subscribe(client, 'all');
      else if (typeof q.imeis === 'string') this.subscribe(client, q.imeis.split(',').filter(Boolean));
    });
  }

  private onMessage(client: Client, data: unknown, isBinary: boolean): unknown {
    if (client.ws.readyState !== client.ws.OPEN) return; // closing: frames already read are ignored
    if (isBinary) return client.ws.close(1003, 'binary messages are not supported');
    if (!this.takeToken(client)) return this.evict(client, 'control_rate', 'too many control messages');
    let msg: unknown;
    try {
      msg = JSON.parse(String(data));
    } catch {
      return this.send(client, { type: 'error', message: 'messages must be JSON' });
    }
    // `null`, numbers, strings and arrays are valid JSON but not a control message
    if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) return this.send(client, { type: 'error', message: CONTROL_HELP });
    const m = msg as { subscribe?: unknown; unsubscribe?: unknown };
    const target = m.subscribe ?? m.unsubscribe;
    const valid = target === 'all' || (Array.isArray(target) && target.every((x) => typeof x === 'string'));
    if (!valid) return this.send(client, { type: 'error', message: CONTROL_HELP });
    if (m.subscribe !== undefined) this.subscribe(client, target as 'all' | string[]);
    else this.unsubscribe(client, target as 'all' | string[]);
  }

  /** Token bucket: controlPerSec per second, at most twice that saved up. */
  private takeToken(c: Client): boolean {
    const now = this.now();
    const rate = this.opts.controlPerSec;
    c.tokens = Math.min(2 * rate, c.tokens + ((now - c.refilledAt) / 1000) * rate);
    c.refilledAt = now;
    if (c.tokens < 1) return false;
    c.tokens -= 1;
    return true;
  }

  private subscribe(c: Client, target: 'all' | string[]): unknown {
    if (target !== 'all') {
      const bad = target.find((x) => !IMEI.test(x));
      if (bad !== undefined) return this.send(c, { type: 'error', message: `not a 15-digit IMEI: ${JSON.stringify(bad.slice(0, 32))}; ${CONTROL_HELP}` });
      const fresh = new Set(target.filter((x) => !c.imeis.has(x)));
      if (c.imeis.size + fresh.size > this.opts.maxSubscriptions) {
        return this.send(c, { type: 'error', message: `at most ${this.opts.maxSubscriptions} IMEIs per client (subscribed: ${c.imeis.size}); subscribe to "all" instead` });
      }
      for (const imei of fresh) {
        c.imeis.add(imei);
        let set = this.byImei.get(imei);
        if (!set) this.byImei.set(imei, (set = new Set()));
        set.add(c);
      }
    } else if (!c.all) {
      this.allCount++;
      c.all = true;
    }
    this.send(c, { type: 'subscribed', all: c.all, count: c.imeis.size });
  }

  private unsubscribe(c: Client, target: 'all' | string[]): void {
    if (target === 'all') this.dropSubscriptions(c);
    else {
      for (const imei of target) {
        if (!c.imeis.delete(imei)) continue;
        const set = this.byImei.get(imei);
        set?.delete(c);
        if (set && set.size === 0) this.byImei.delete(imei);
      }
    }
    this.send(c, { type: 'subscribed', all: c.all, count: c.imeis.size });
  }

  private dropSubscriptions(c: Client): void {
    if (c.all) {
      c.all = false;
      this.allCount--;
    }
    for (const imei of c.imeis) {
      const set = this.byImei.get(imei);
      set?.delete(c);
      if (set && set.size === 0) this.byImei.delete(imei);
    }
    c.imeis.clear();
  }

  /** Every send goes through the byte cap; returns whether the message was handed to the socket. */
  private send(c: Client, obj: unknown): boolean {
    return this.sendText(c, JSON.stringify(obj));
  }

  private sendText(c: Client, text: string): boolean {
    if (c.ws.readyState !== c.ws.OPEN) return false;
    if (c.ws.bufferedAmount > this.opts.maxBufferedBytes) {
      c.overSince ??= this.now();
      return false;
    }
    c.overSince = undefined;
    c.ws.send(text);
    return true;
  }

  private evict(c: Client, reason: 'slow' | 'control_rate', message: string): void {
    this.metrics.wsEvictions.inc({ reason });
    this.log.info({ reason, buffered: c.ws.bufferedAmount }, 'closing a websocket client');
    this.dropSubscriptions(c);
    c.ws.close(1008, message);
    // a client that reads nothing never completes the closing handshake: do not wait for it
    if (reason === 'slow') c.ws.terminate();
  }

  /** Closes clients that stayed above the byte cap for longer than the grace period; public for tests. */
  sweep(): void {
    const now = this.now();
    for (const c of this.clients) {
      if (c.ws.readyState !== c.ws.OPEN) continue;
      if (c.ws.bufferedAmount <= this.opts.maxBufferedBytes) {
        c.overSince = undefined;
        continue;
      }
      c.overSince ??= now;
      if (now - c.overSince >= this.opts.graceMs) this.evict(c, 'slow', 'too slow: unsent data above the limit');
    }
  }

  private startSweep(): void {
    if (this.sweepTimer) return;
    this.sweepTimer = setInterval(() => this.sweep(), Math.max(50, Math.min(1000, this.opts.graceMs / 4)));
    this.sweepTimer.unref();
  }

  private stopSweep(): void {
    clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
  }

  /** Writer listener: pushes each committed record to its subscribers. */
  onCommitted = (b: CommittedBatch): void => {
    if (this.clients.size === 0 || (this.allCount === 0 && this.byImei.size === 0)) return;
    const committedAt = new Date(b.committedAt).toISOString();
    for (const t of b.tickets) {
      const specific = this.byImei.get(t.imei);
      if (this.allCount === 0 && !specific) continue;
      const receivedAt = new Date(t.receivedAt).toISOString();
      for (const r of t.records) {
        const head = JSON.stringify({ type: 'record', imei: t.imei, timestamp: new Date(r.timestamp).toISOString(), receivedAt, committedAt, ...positionJson(r) });
        // io is already JSON text: spliced in, not parsed and stringified again for every record
        const msg = `${head.slice(0, -1)},"io":${r.io ?? 'null'}}`;
        for (const c of this.clients) {
          if (!(c.all || specific?.has(c))) continue;
          if (this.sendText(c, msg)) this.metrics.wsMessages.inc();
          else if (c.ws.readyState === c.ws.OPEN) this.metrics.wsDropped.inc();
        }
      }
    }
  };

  closeAll(): void {
    this.stopSweep();
    for (const c of this.clients) c.ws.close(1001, 'server shutting down');
  }
}
