// The engine against real TCP servers on loopback: a well-behaved one and ones that misbehave on purpose (withhold
// ACKs, ACK a wrong count, reset, refuse logins). In each case the accounting is exact: what the engine says it
// sent and got ACKed equals what the server saw and answered, record for record, and the ACK ledger holds exactly
// the ACKed records. Devices run in two worker threads, so the merge across threads is exact too.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ENGINE_SUMMARY_FILE, type EngineSummary } from '../../src/core/engine-summary.js';
import { FLAG_SENT_UNACKED, ledgerFiles, readLedgerFile } from '../../src/core/ledger.js';
import { runEngine, type EngineOptions } from '../../src/engine/engine.js';
import { imeiForIndex } from '../../src/protocol/teltonika/index.js';
import type { FleetConfig } from '../../src/sim/fleet-config.js';
import { startTeltonikaServer, type Reply, type Received, type TestServer } from '../scenarios/teltonika-server.js';

const config = (port: number, over: Partial<FleetConfig> = {}): FleetConfig => ({
  runId: 'engine-test',
  seed: 11,
  devices: 12,
  durationSec: 3,
  intervalMs: 500,
  recordsPerPacket: 2,
  codec: 8,
  ackTimeoutMs: 600,
  reconnectBaseMs: 100,
  reconnectMaxMs: 400,
  tcpHost: '127.0.0.1',
  tcpPort: port,
  centre: { latitude: 44.77, longitude: 17.19 },
  codec8eShare: 0.5,
  drainMs: 3000,
  ...over,
});

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function run(c: FleetConfig, over: Partial<EngineOptions> = {}): Promise<{ summary: EngineSummary; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'engine-'));
  const r = await runEngine({ runId: c.runId, config: c, workers: 2, outDir: dir, hardLimitMs: 30_000, fleetloadVersion: 'test', log: () => {}, ...over });
  await r.metrics?.close();
  return { summary: JSON.parse(readFileSync(join(dir, ENGINE_SUMMARY_FILE), 'utf8')) as EngineSummary, dir };
}

/** (imei, timestamp) of every record in the ledger, split into ACKed and sent-but-unACKed. */
function ledgerRecords(dir: string, seed: number): { acked: string[]; unacked: string[] } {
  const out = { acked: [] as string[], unacked: [] as string[] };
  for (const f of ledgerFiles(dir)) {
    for (const e of readLedgerFile(f).entries) {
      const imei = imeiForIndex(seed, e.device);
      for (const t of e.timestamps) (e.flags & FLAG_SENT_UNACKED ? out.unacked : out.acked).push(`${imei}@${t}`);
    }
  }
  return { acked: out.acked.sort(), unacked: out.unacked.sort() };
}

const keys = (ps: Received[]) => ps.flatMap((p) => p.records.map((r) => `${p.imei}@${r.timestamp}`));
const sumRecords = (ps: Received[]) => ps.reduce((a, p) => a + p.records.length, 0);

describe('engine accounting against a real TCP server', () => {
  it('ACKs everything: sent = ACKed = what the server received, ledger = ACKed records, over 2 worker threads', async () => {
    server = await startTeltonikaServer();
    const c = config(server.port);
    const { summary, dir } = await run(c);
    expect(summary.records.sent).toBeGreaterThan(60);
    expect(summary.records.acked).toBe(summary.records.sent);
    expect(summary.records.sent).toBe(sumRecords(server.packets));
    expect(summary.packets).toEqual({ sent: server.packets.length, acked: server.packets.length });
    expect(summary.records.resent).toBe(0);
    expect(Object.values(summary.errors).every((n) => n === 0)).toBe(true);
    expect(summary.logins).toBe(12);
    expect(server.imeis().size).toBe(12);
    const ledger = ledgerRecords(dir, c.seed);
    expect(ledger.acked).toEqual(keys(server.packets).sort());
    expect(ledger.unacked).toEqual([]);
    expect(summary.ledger.records).toBe(summary.records.acked);
    expect(summary.ackLatencyMs?.count).toBe(summary.packets.acked);
    expect(summary.recordLatencyMs?.count).toBe(summary.records.acked);
    // a record waits for its packet: the first of two records is half an interval older than the packet's due time
    expect(summary.recordLatencyMs!.max).toBeGreaterThanOrEqual(summary.ackLatencyMs!.p50);
    expect(summary.generator.invalidReasons).toEqual([]);
    expect(summary.devices).toEqual({ planned: 12, connectedPeak: 12 });
  });

  it('withheld ACKs: each is an ack_timeout, the packet is resent byte for byte, and every record ends ACKed once', async () => {
    const withheld = new Set<number>();
    server = await startTeltonikaServer((_p, nth) => (nth % 7 === 0 && withheld.size < 4 ? (withheld.add(nth), 'none') : 'ack'));
    const c = config(server.port);
    const { summary, dir } = await run(c);
    expect(summary.errors.ack_timeout).toBe(4);
    const withheldRecords = server.packets.filter((_p, i) => withheld.has(i + 1)).reduce((a, p) => a + p.records.length, 0);
    expect(summary.records.resent).toBe(withheldRecords);
    expect(summary.records.acked).toBe(summary.records.sent);
    expect(summary.reconnects).toBe(4);
    expect(summary.recoveryMs?.count).toBe(4);
    // resends are byte-identical: the server saw each withheld packet twice
    for (const n of withheld) expect(server.packets.filter((p) => p.bytes.equals(server!.packets[n - 1].bytes)).length).toBe(2);
    const ledger = ledgerRecords(dir, c.seed);
    expect(new Set(ledger.acked).size).toBe(ledger.acked.length);
    expect(ledger.acked.length).toBe(summary.records.acked);
  });

  it('wrong ACK counts and resets are counted by reason; nothing is counted as ACKed that was not', async () => {
    const bad = new Map<number, Reply>([
      [5, { count: 99 }],
      [11, 'reset'],
      [17, { count: 0 }],
    ]);
    server = await startTeltonikaServer((_p, nth) => bad.get(nth) ?? 'ack');
    const { summary } = await run(config(server.port));
    expect(summary.errors.ack_mismatch).toBe(2);
    expect(summary.errors.reset + summary.errors.closed).toBe(1);
    expect(summary.records.acked).toBe(summary.records.sent);
    const ackedAtServer = server.packets.filter((_p, i) => !bad.has(i + 1)).reduce((a, p) => a + p.records.length, 0);
    expect(summary.records.acked).toBe(ackedAtServer);
  });

  it('a target that refuses every login: login_rejected counted, nothing sent, nothing in the ledger', async () => {
    server = await startTeltonikaServer();
    const net = await import('node:net');
    const refusing = net.createServer((s) => s.once('data', () => s.end(Buffer.from([0]))));
    await new Promise<void>((r) => refusing.listen(0, '127.0.0.1', r));
    const port = (refusing.address() as import('node:net').AddressInfo).port;
    try {
      const c = config(port, { devices: 3, durationSec: 2, drainMs: 500 });
      const { summary, dir } = await run(c);
      expect(summary.errors.login_rejected).toBeGreaterThanOrEqual(3);
      expect(summary.records.sent).toBe(0);
      expect(summary.logins).toBe(0);
      expect(summary.records.unsent).toBeGreaterThan(0);
      expect(ledgerRecords(dir, c.seed).acked).toEqual([]);
      expect(summary.outagesUnrecovered).toBe(3);
    } finally {
      refusing.close();
    }
  });

  it('serves every catalogue series at 0 from the first scrape, labelled with the run id', async () => {
    server = await startTeltonikaServer();
    let first = '';
    const c = config(server.port, { devices: 2, durationSec: 1, drainMs: 500 });
    await run(c, {
      workers: 0,
      metrics: { host: '127.0.0.1', port: 0 },
      onStart: (_t, m) => {
        void fetch(m!.url).then(async (r) => (first = await r.text()));
      },
    });
    expect(first).toContain('fleetload_records_sent_total{run_id="engine-test"} 0');
    for (const reason of ['connect', 'ack_timeout', 'reset', 'login_rejected']) expect(first).toContain(`fleetload_device_errors_total{reason="${reason}",run_id="engine-test"} 0`);
    expect(first).toMatch(/fleetload_ack_latency_seconds_bucket\{le="1",run_id="engine-test"\} 0/);
    expect(first).toContain('process_cpu_seconds_total');
  });
});
