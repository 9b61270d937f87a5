// WebSocket expected / received / missed, record by record, from the ACK ledger: once every device has finished,
// a record of a subscribed device whose timestamp lies in a client's counting window is expected when the platform
// ACKed it by the window's end (it was committed then, so the feed had it and the grace to deliver it); it is
// received when that client got that very record. A record a device still held back at the window's end (a link
// loss, a slow reconnect) was never the feed's to deliver, so it is not expected — the device model alone cannot
// know that, the ledger does.
import { FLAG_SENT_UNACKED, readLedgerFile } from '../core/ledger.js';
import { imeiForIndex } from '../protocol/teltonika/index.js';
import type { WsWindow } from './clients/context.js';
import type { Stats } from './stats.js';

export interface WsDeliveries {
  expected: number;
  received: number;
  missed: number;
}

/** Counts every window against the ledger files; adds the totals to `stats` (ws_records_*). */
export function countWsDeliveries(windows: WsWindow[], ledgerFiles: string[], seed: number, stats: Stats): WsDeliveries {
  const out: WsDeliveries = { expected: 0, received: 0, missed: 0 };
  if (windows.length > 0) {
    const subscribed = windows.map((w) => (w.devices === 'all' ? undefined : new Set(w.devices)));
    const imeis = new Map<number, string>();
    const imeiOf = (i: number) => imeis.get(i) ?? (imeis.set(i, imeiForIndex(seed, i)), imeis.get(i)!);
    for (const file of ledgerFiles) {
      for (const e of readLedgerFile(file).entries) {
        if (e.flags & FLAG_SENT_UNACKED) continue;
        windows.forEach((w, k) => {
          if (e.atMs > w.deliverBy || (subscribed[k] && !subscribed[k]!.has(e.device))) return;
          const got = w.received.get(imeiOf(e.device));
          for (const t of e.timestamps) {
            if (t < w.from || t > w.to) continue;
            out.expected++;
            if (got?.has(t)) out.received++;
          }
        });
      }
    }
  }
  out.missed = out.expected - out.received;
  stats.inc('ws_records_expected', out.expected);
  stats.inc('ws_records_received', out.received);
  stats.inc('ws_records_missed', out.missed);
  return out;
}
