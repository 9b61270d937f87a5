// WebSocket deliveries counted record by record against the ACK ledger: a record is expected only when the platform
// ACKed it by the client's window end, so records a device held back (a link loss) are not the feed's fault, while
// every record the platform had and did not push is missed.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FLAG_SENT_UNACKED, LedgerWriter } from '../../src/core/ledger.js';
import { Stats } from '../../src/engine/stats.js';
import { countWsDeliveries } from '../../src/engine/ws-deliveries.js';
import { imeiForIndex } from '../../src/protocol/teltonika/index.js';

const T = 1_767_225_600_000;
const SEED = 21;

describe('WebSocket deliveries from the ledger', () => {
  it('expects what was ACKed in time for subscribed devices in the window; missed is what never arrived', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'wsd-')), 'w0.bin');
    const w = new LedgerWriter(file, { runId: 'r', seed: SEED, part: 'w0' });
    w.append(0, T + 1_000, [T + 500, T + 900]); // device 0: two records, ACKed in time
    w.append(1, T + 2_000, [T + 1_900]); // device 1: not subscribed by client A
    w.append(0, T + 9_500, [T + 3_000]); // held back by a link loss, ACKed after A's window end: not expected
    w.append(0, T + 4_000, [T + 100]); // before A's window: not expected
    w.append(2, T + 5_000, [T + 4_800], FLAG_SENT_UNACKED); // never ACKed: never expected
    w.close();
    const a = { devices: [0, 2], from: T + 200, to: T + 8_000, deliverBy: T + 8_000, received: new Map([[imeiForIndex(SEED, 0), new Set([T + 500])]]) };
    const b = { devices: 'all' as const, from: T, to: T + 8_000, deliverBy: T + 8_000, received: new Map<string, Set<number>>() };
    const stats = new Stats();
    const r = countWsDeliveries([a, b], [file], SEED, stats);
    // A expects T+500 and T+900 of device 0 (and got one); B expects all four ACKed in time and got none
    expect(r).toEqual({ expected: 2 + 4, received: 1, missed: 5 });
    expect(stats.snapshot().counters).toMatchObject({ ws_records_expected: 6, ws_records_received: 1, ws_records_missed: 5 });
  });

  it('no window, nothing counted (but the series exist at 0)', () => {
    const stats = new Stats();
    expect(countWsDeliveries([], [], SEED, stats)).toEqual({ expected: 0, received: 0, missed: 0 });
    expect(stats.snapshot().counters.ws_records_missed).toBe(0);
  });
});
