// WebSocket feed on /ws: clients subscribe to every device or to a list of IMEIs and receive each record
// after it is committed, as JSON with the device timestamp, the server receive time and the commit time.
//   subscribe:   ?all=1 or ?imeis=a,b in the URL, or send {"subscribe":"all"} / {"subscribe":["356..."]}
//   unsubscribe: {"unsubscribe":"all"} / {"unsubscribe":["356..."]}
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import type { CommittedBatch } from './batch-writer.js';
import type { Metrics } from './metrics.js';

/** A client whose unsent data exceeds this loses records (counted) instead of growing server memory. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

const CONTROL_HELP = 'expected {"subscribe":"all"|[imei,...]} or {"unsubscribe":...}';

interface Client {
  ws: WebSocket;
  all: boolean;
  imeis: Set<string>;
}

export class WsFeed {
  private readonly clients = new Set<Client>();
  private readonly byImei = new Map<string, Set<Client>>();
  private allCount = 0;

  constructor(
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

  get size(): number {
    return this.clients.size;
  }

  register(app: FastifyInstance): void {
    app.get('/ws', { websocket: true }, (ws, req) => {
      const client: Client = { ws, all: false, imeis: new Set() };
      this.clients.add(client);
      this.metrics.wsActive.inc();
      const q = req.query as Record<string, string | undefined>;
      if (q.all === '1' || q.all === 'true') this.subscribe(client, 'all');
      else if (q.imeis) this.subscribe(client, q.imeis.split(',').filter(Boolean));
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
        this.unsubscribe(client, 'all');
        this.clients.delete(client);
        this.metrics.wsActive.dec();
      });
      ws.on('error', (err) => this.log.debug({ err: err.message }, 'websocket error'));
    });
  }

  private onMessage(client: Client, data: unknown, isBinary: boolean): void {
    if (isBinary) return client.ws.close(1003, 'binary messages are not supported');
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

  private subscribe(c: Client, target: 'all' | string[]): void {
    if (target === 'all') {
      if (!c.all) this.allCount++;
      c.all = true;
    } else {
      for (const imei of target) {
        c.imeis.add(imei);
        let set = this.byImei.get(imei);
        if (!set) this.byImei.set(imei, (set = new Set()));
        set.add(c);
      }
    }
    this.send(c, { type: 'subscribed', all: c.all, imeis: [...c.imeis] });
  }

  private unsubscribe(c: Client, target: 'all' | string[]): void {
    const imeis = target === 'all' ? [...c.imeis] : target;
    if (target === 'all' && c.all) {
      c.all = false;
      this.allCount--;
    }
    for (const imei of imeis) {
      c.imeis.delete(imei);
      const set = this.byImei.get(imei);
      set?.delete(c);
      if (set && set.size === 0) this.byImei.delete(imei);
    }
    if (c.ws.readyState === c.ws.OPEN) this.send(c, { type: 'subscribed', all: c.all, imeis: [...c.imeis] });
  }

  private send(c: Client, obj: unknown): void {
    if (c.ws.readyState === c.ws.OPEN) c.ws.send(JSON.stringify(obj));
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
        const head = JSON.stringify({
          type: 'record',
          imei: t.imei,
          timestamp: new Date(r.timestamp).toISOString(),
          receivedAt,
          committedAt,
          latitude: r.latitude,
          longitude: r.longitude,
          altitude: r.altitude,
          speed: r.speed,
          heading: r.heading,
          satellites: r.satellites,
          priority: r.priority,
          eventId: r.eventId,
        });
        const msg = `${head.slice(0, -1)},"io":${r.io ?? 'null'}}`;
        for (const c of this.clients) {
          if (!(c.all || specific?.has(c))) continue;
          if (c.ws.readyState !== c.ws.OPEN) continue;
          if (c.ws.bufferedAmount > MAX_BUFFERED_BYTES) {
            this.metrics.wsDropped.inc();
            continue;
          }
          c.ws.send(msg);
          this.metrics.wsMessages.inc();
        }
      }
    }
  };

  closeAll(): void {
    for (const c of this.clients) c.ws.close(1001, 'server shutting down');
  }
}
