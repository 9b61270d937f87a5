// A complete engine summary of a clean run (src/core/engine-summary.ts), and a run folder holding it: what the
// engine will write. Tests change a copy of it and call verifyRun.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ENGINE_SUMMARY_FILE, ENGINE_SUMMARY_FORMAT, type EngineSummary, type LatencyFigures } from '../../src/core/engine-summary.js';
import type { RunManifest } from '../../src/core/manifest.js';
import { imeiForIndex } from '../../src/protocol/teltonika/index.js';

export const SEED = 7;
export const START = new Date('2025-03-01T10:00:00.000Z');
export const END = new Date('2025-03-01T10:01:00.000Z');

const lat = (p95: number, count: number): LatencyFigures => ({ count, min: p95 / 4, mean: p95 / 2, p50: p95 / 2, p90: p95 * 0.9, p95, p99: p95 * 1.1, max: p95 * 1.5 });

export function cleanSummary(devices = 3, records = 180): EngineSummary {
  return {
    format: ENGINE_SUMMARY_FORMAT, version: 1, runId: 'run-1', seed: SEED, fleetload: '0.1.0',
    loadStart: START.toISOString(), loadEnd: END.toISOString(),
    stages: [{ name: 'steady', devices, start: START.toISOString(), end: END.toISOString() }],
    shard: { index: 1, count: 1 },
    devices: { planned: devices, connectedPeak: devices },
    records: { sent: records, acked: records, resent: 0, unsent: 0, lost: 0 },
    packets: { sent: records, acked: records },
    logins: devices, reconnects: 0, connects: devices, disconnects: devices, keepAlives: 0,
    errors: { connect: 0, login_timeout: 0, login_rejected: 0, ack_timeout: 0, ack_mismatch: 0, reset: 0, closed: 0 },
    linkOutages: { drop: 0, storm: 0 }, outagesUnrecovered: 0,
    ackLatencyMs: lat(40, records), recordLatencyMs: lat(60, records), loginLatencyMs: lat(5, devices), sendLagMs: lat(1, records),
    api: { configured: false, offered: 0, requests: 0, succeeded: 0, errors: { '4xx': 0, '5xx': 0, timeout: 0, refused: 0, reset: 0, other: 0 }, throttled: 0, dropped: 0, byEndpoint: {} },
    ws: { configured: false, clients: 0, connected: 0, errors: { refused: 0, dropped: 0, json: 0, error: 0 }, messages: 0, expected: 0, received: 0, missed: 0 },
    generator: { workers: 1, rssPeakBytes: 1e8, cpuSeconds: 1, cpuShareOfMachine: 0.1, cores: 2, eventLoopDelayP99MaxMs: 3, generatorErrors: 0, invalidReasons: [] },
    ledger: { files: ['ledger/w0.bin'], entries: records, records },
    histograms: {},
  };
}

/** API and WebSocket clients configured and clean. */
export function withClients(s: EngineSummary, requests = 10_000): EngineSummary {
  return {
    ...s,
    api: { ...s.api, configured: true, offered: requests, requests, succeeded: requests, latencyMs: lat(80, requests) },
    ws: { ...s.ws, configured: true, clients: 2, connected: 2, messages: 360, expected: 360, received: 360, missed: 0, freshnessMs: lat(300, 360) },
  };
}

export function manifestFor(devices = 3, more: Partial<RunManifest> = {}): RunManifest {
  return {
    runId: 'run-1', profile: 'test', seed: SEED, startedAt: START.toISOString(), endedAt: END.toISOString(),
    stages: [{ name: 'steady', start: START.toISOString(), end: END.toISOString(), devices }],
    devices, imeis: Array.from({ length: devices }, (_, i) => imeiForIndex(SEED, i)),
    target: { tcp: '127.0.0.1:5027', embedded: false }, prometheus: { url: 'http://127.0.0.1:1' },
    versions: { fleetload: '0.1.0' }, engine: { summaryFile: ENGINE_SUMMARY_FILE, ledgerDir: 'ledger', exitCode: 0 },
    ...more,
  };
}

/** A fresh run folder holding the summary (and an empty ledger folder). */
export function runFolder(summary: EngineSummary | undefined, root = tmpdir()): string {
  const dir = mkdtempSync(join(root, 'fleetload-verify-run-'));
  mkdirSync(join(dir, 'ledger'));
  if (summary) writeFileSync(join(dir, ENGINE_SUMMARY_FILE), JSON.stringify(summary));
  return dir;
}
