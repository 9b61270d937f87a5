// WebSocket clients of the platform's live feed (ported from the k6 scenario's lib/ws.ts): ws.clients clients connect to
// <httpUrl>/ws at ws.startMs, subscribe to every record or to a block of fleet IMEIs, measure
// freshness = receive time − record timestamp (ws_freshness) and close at ws.startMs + ws.durationMs.
// Expected vs received, record by record when the run keeps an ACK ledger: each client hands its window
// [subscribed + grace, close − grace] and the records it received to the engine (ctx.wsWindows), which counts as
// expected every record of the subscribed devices in that window that the platform ACKed by the window's end — a
// record held back by a link loss was never the feed's to deliver — and as missed those that never arrived.
// Without a ledger, the device model stands in: it is deterministic, so a client knows how many records its
// devices acquire in any window (devices of a later step counted from their step's start), and missed =
// max(0, expected − received). Either way a record lost, or delivered later than the grace, counts as missed.
// A client that never connected (refused), or was dropped, still counts its whole window as expected — from the
// moment it tried to connect — so a dead feed fails its objective instead of having no data. Clients do not
// reconnect (as in k6): a dropped client misses the rest of its window.
// Failures (ws_errors): refused = connection refused or an HTTP error instead of the upgrade; dropped = closed by the
// server (or the network) before the client's own close; json = a message that is not JSON; error = any other
// failure to connect.
import WebSocket from 'ws';
import { imeiForIndex } from '../protocol/teltonika/index.js';
import { deviceSettings, recordsBetween } from '../sim/device.js';
import { fleetSteps, type FleetConfig, type WsClientConfig } from '../sim/fleet-config.js';
import { subscription } from '../sim/clients.js';
import type { ClientContext } from './clients/context.js';
import { sleepUntil } from './clients/schedule.js';

export type { ClientContext } from './clients/context.js';

/** After its close frame, a client waits this long for the server's before it drops the socket. */
const CLOSE_HANDSHAKE_MS = 2000;


/** When device `index` starts: its step's start (ms after the test start). */
function stepStartOf(config: FleetConfig, index: number): number {
  for (const s of fleetSteps(config)) if (index < s.devices) return s.startMs;
  return 0;
}

/** Records the devices `indices` acquire with timestamps in [from, to]. */
export function expectedRecords(config: FleetConfig, testStartMs: number, indices: number[], from: number, to: number): number {
  if (!(from < to)) return 0;
  const s = deviceSettings(config);
  let n = 0;
  for (const i of indices) n += recordsBetween(s, i, testStartMs + stepStartOf(config, i), from, to);
  return n;
}

/** Runs ws.clients clients until their close time (or `signal`); resolves when every one has closed. */
export async function runWsClients(ctx: ClientContext): Promise<void> {
  const cfg = ctx.config.ws;
  if (!cfg || !ctx.config.httpUrl || cfg.clients <= 0) return;
  const startAt = ctx.testStartMs + cfg.startMs;
  ctx.stats.set('ws_clients_connected', 0);
  for (const reason of ['refused', 'dropped', 'json', 'error']) ctx.stats.inc('ws_errors', 0, { reason });
  await sleepUntil(ctx.clock, startAt, () => ctx.signal?.aborted === true);
  if (ctx.signal?.aborted) return;
  const gauge = { connected: 0 };
  const clients = Array.from({ length: cfg.clients }, (_, c) => runClient(ctx, cfg, c, gauge));
  await Promise.all(clients);
}

function wsUrl(httpUrl: string): string {
  return `${httpUrl.replace(/^http/, 'ws').replace(/\/$/, '')}/ws`;
}

/** One client's life: connect, subscribe, count, close at its time; never rejects. */
function runClient(ctx: ClientContext, cfg: WsClientConfig, client: number, gauge: { connected: number }): Promise<void> {
  const { config, stats, clock } = ctx;
  const closeAt = ctx.testStartMs + cfg.startMs + cfg.durationMs;
  const sub = subscription(config, client);
  const indices = sub === 'all' ? Array.from({ length: config.devices }, (_, i) => i) : sub;
  const imeis = new Set(indices.map((i) => imeiForIndex(config.seed, i)));
  const token = cfg.tokenEnv ? ctx.env[cfg.tokenEnv] : undefined;
  const attemptAt = clock.now();
  let subscribedAt: number | undefined;
  let received = 0;
  const receivedKeys = new Map<string, Set<number>>();
  let opened = false;
  let closing = false;
  let stopAt = closeAt;
  return new Promise<void>((resolve) => {
    const ws = new WebSocket(wsUrl(config.httpUrl ?? ''), { headers: token ? { authorization: `Bearer ${token}` } : {}, handshakeTimeout: 10_000 });
    const close = () => {
      if (closing) return;
      closing = true;
      stopAt = Math.min(closeAt, clock.now());
      if (ws.readyState === WebSocket.CONNECTING) return ws.terminate();
      ws.close(1000, 'run over');
      setTimeout(() => ws.terminate(), CLOSE_HANDSHAKE_MS).unref();
    };
    const onAbort = () => close();
    ctx.signal?.addEventListener('abort', onAbort, { once: true });
    ws.on('open', () => {
      opened = true;
      stats.inc('ws_connects');
      stats.set('ws_clients_connected', ++gauge.connected);
      ws.send(JSON.stringify({ subscribe: sub === 'all' ? 'all' : [...imeis] }));
    });
    ws.on('message', (data: WebSocket.RawData) => {
      const r = onMessage(ctx, data, imeis, subscribedAt, closeAt - cfg.graceMs, cfg.graceMs);
      if (r === 'subscribed') subscribedAt ??= clock.now();
      else if (r !== 'other') {
        received++;
        if (ctx.wsWindows) {
          let set = receivedKeys.get(r.imei);
          if (!set) receivedKeys.set(r.imei, (set = new Set()));
          set.add(r.ts);
        }
      }
    });
    ws.on('error', (err: Error & { code?: string }) => {
      if (opened || closing) return; // after the upgrade, the close that follows says it (dropped)
      const refused = err.code === 'ECONNREFUSED' || /Unexpected server response/.test(err.message);
      stats.inc('ws_errors', 1, { reason: refused ? 'refused' : 'error' });
    });
    ws.on('close', () => {
      ctx.signal?.removeEventListener('abort', onAbort);
      if (opened) {
        stats.set('ws_clients_connected', --gauge.connected);
        if (!closing) stats.inc('ws_errors', 1, { reason: 'dropped' });
      }
      // the window starts when the subscription was confirmed, or — never subscribed — when the client tried
      const from = (subscribedAt ?? attemptAt) + cfg.graceMs;
      const to = Math.min(closeAt, ctx.signal?.aborted ? stopAt : closeAt) - cfg.graceMs;
      if (ctx.wsWindows) {
        ctx.wsWindows.push({ devices: sub, from, to, deliverBy: to, received: receivedKeys });
      } else {
        const expected = expectedRecords(config, ctx.testStartMs, indices, from, to);
        stats.inc('ws_records_expected', expected);
        stats.inc('ws_records_received', received);
        stats.inc('ws_records_missed', Math.max(0, expected - received));
      }
      closing = true;
      resolve();
    });
    void sleepUntil(clock, closeAt, () => closing).then(close);
  });
}

/** Records one message; says whether it confirmed the subscription or is a record inside the counting window. */
function onMessage(ctx: ClientContext, data: WebSocket.RawData, imeis: Set<string>, subscribedAt: number | undefined, to: number, graceMs: number): 'subscribed' | { imei: string; ts: number } | 'other' {
  const now = ctx.clock.now();
  let msg: { type?: unknown; imei?: unknown; timestamp?: unknown };
  try {
    msg = JSON.parse(String(data)) as typeof msg;
  } catch {
    ctx.stats.inc('ws_errors', 1, { reason: 'json' });
    return 'other';
  }
  if (msg === null || typeof msg !== 'object') return 'other';
  if (msg.type === 'subscribed') return 'subscribed';
  if (msg.type !== 'record' || typeof msg.timestamp !== 'string') return 'other';
  const ts = Date.parse(msg.timestamp);
  if (!Number.isFinite(ts)) return 'other';
  ctx.stats.inc('ws_messages');
  ctx.stats.observe('ws_freshness', now - ts);
  const from = subscribedAt === undefined ? Infinity : subscribedAt + graceMs;
  return ts >= from && ts <= to && typeof msg.imei === 'string' && imeis.has(msg.imei) ? { imei: msg.imei, ts } : 'other';
}
