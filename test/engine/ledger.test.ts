// The ACK ledger: what is written is read back exactly (device, flags, ACK time, every record timestamp), the
// size stays within the budget (10,000 devices × 1 h at a 10 s interval under 100 MB), and a damaged file is an
// error that names it, never a silently shorter ledger.
import { mkdtempSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FLAG_SENT_UNACKED, LedgerFormatError, LedgerWriter, readLedgerFile } from '../../src/core/ledger.js';

const dir = mkdtempSync(join(tmpdir(), 'ledger-'));

describe('ACK ledger', () => {
  it('round-trips entries exactly, in order, across buffer flushes', () => {
    const file = join(dir, 'w0.bin');
    const w = new LedgerWriter(file, { runId: 'r1', seed: 9, part: 'w0' });
    const written: Array<{ device: number; atMs: number; timestamps: number[]; flags: number }> = [];
    for (let i = 0; i < 40_000; i++) {
      const atMs = 1_767_225_600_000 + i * 37;
      const timestamps = Array.from({ length: 1 + (i % 5) }, (_, k) => atMs - 1000 * (k + 1) - (i % 997));
      const flags = i % 1000 === 0 ? FLAG_SENT_UNACKED : 0;
      w.append(i % 10_000, atMs, timestamps, flags);
      written.push({ device: i % 10_000, atMs, timestamps, flags });
    }
    w.close();
    const { header, entries } = readLedgerFile(file);
    expect(header).toMatchObject({ format: 'fleetload-ack-ledger', version: 1, runId: 'r1', seed: 9, part: 'w0' });
    expect([...entries]).toEqual(written);
    expect(w.entries).toBe(40_000);
  });

  it('costs 16 bytes per ACK plus 4 per record: 10,000 devices for an hour at 10 s stay under 100 MB', () => {
    const file = join(dir, 'size.bin');
    const w = new LedgerWriter(file, { runId: 'r2', seed: 1, part: 'w0' });
    const headerBytes = statSync(file).size;
    for (let i = 0; i < 10_000; i++) w.append(i, 1_767_225_600_000 + i, [1_767_225_590_000 + i]);
    w.close();
    const perAck = (statSync(file).size - headerBytes) / 10_000;
    expect(perAck).toBe(20);
    expect(10_000 * 360 * perAck).toBeLessThan(100e6);
  });

  it('a truncated or foreign file is an error naming the file', () => {
    const file = join(dir, 'cut.bin');
    const w = new LedgerWriter(file, { runId: 'r3', seed: 1, part: 'w0' });
    w.append(1, 2_000_000, [1_000_000, 1_500_000]);
    w.close();
    truncateSync(file, statSync(file).size - 3);
    expect(() => [...readLedgerFile(file).entries]).toThrow(LedgerFormatError);
    expect(() => [...readLedgerFile(file).entries]).toThrow(/cut\.bin: truncated entry/);
    const foreign = join(dir, 'foreign.bin');
    writeFileSync(foreign, '{"format":"something-else","version":1}\n');
    expect(() => readLedgerFile(foreign)).toThrow(/format is "something-else"/);
  });
});
