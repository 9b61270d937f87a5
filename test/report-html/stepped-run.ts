// A real short stepped run for the report tests: the embedded stack (PostgreSQL, reference platform,
// Prometheus) and the real k6 binary, run once per stage with a growing device count under one testid.
// Writes a complete run folder (manifest, report.json via the verifier, series.json, db-stats.json) and
// leaves the stack running so tests can query Prometheus; call stop() when done.
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { imeiForIndex } from '../../src/protocol/teltonika/index.js';
import { captureDbStats } from '../../src/report/capacity/db-stats.js';
import { writeReports } from '../../src/report/index.js';
import { captureSeries } from '../../src/report/series.js';
import { loadStartFromSummary } from '../../src/run/fleet-plan.js';
import { runK6 } from '../../src/run/k6-run.js';
import { writeManifest, type RunManifest } from '../../src/core/manifest.js';
import type { FleetConfig } from '../../src/sim/fleet-config.js';
import { startEmbeddedStack, type EmbeddedStack } from '../../src/stack/embedded-stack.js';
import { findK6Binary } from '../../src/stack/k6-binary.js';
import { repoRoot } from '../../src/core/repo-root.js';
import { loadSloFile, verifyRun } from '../../src/verify/index.js';

export interface SteppedRun {
  runDir: string;
  runId: string;
  manifest: RunManifest;
  stack: EmbeddedStack;
  stop(): Promise<void>;
}

export function k6Available(): boolean {
  return findK6Binary() !== undefined;
}

export async function steppedRun(o: { runId: string; steps: number[]; stepSec: number; log?: (l: string) => void }): Promise<SteppedRun> {
  const bin = findK6Binary();
  if (!bin) throw new Error('k6 binary not built: run `npx fleetload setup`');
  const log = o.log ?? (() => {});
  const runDir = join(repoRoot(), '.cache', 'test-runs', o.runId);
  rmSync(runDir, { recursive: true, force: true });
  mkdirSync(runDir, { recursive: true });
  const stack = await startEmbeddedStack({ log: (c, l) => log(`[${c}] ${l}`) });
  try {
    const seed = 7;
    const stages: RunManifest['stages'] = [];
    let exitCode = 0;
    const startedAt = new Date();
    for (const [i, devices] of o.steps.entries()) {
      const config: FleetConfig = {
        runId: o.runId,
        seed,
        devices,
        durationSec: o.stepSec,
        intervalMs: 1000,
        recordsPerPacket: 1,
        codec: 8,
        devicesPerVu: 50,
        ackTimeoutMs: 5000,
        reconnectBaseMs: 500,
        reconnectMaxMs: 5000,
        tcpHost: '127.0.0.1',
        tcpPort: stack.platform.tcpPort,
        centre: { latitude: 44.7722, longitude: 17.191 },
      };
      const summaryFile = join(runDir, i === o.steps.length - 1 ? 'k6-summary.json' : `k6-summary-${i + 1}.json`);
      const res = await runK6({
        bin,
        script: join(repoRoot(), 'dist', 'scenarios', 'devices.js'),
        runId: o.runId,
        env: { FLEET_CONFIG: JSON.stringify(config), FLEET_SUMMARY_FILE: summaryFile },
        remoteWriteUrl: stack.prometheus.remoteWriteUrl,
        logFile: join(runDir, `k6-${i + 1}.log`),
        hardLimitMs: (o.stepSec + 60) * 1000,
        onLine: (l) => log(`k6: ${l}`),
      });
      if (res.exitCode !== 0) exitCode = res.exitCode;
      // The stage starts when k6 starts its scenarios, as in `fleetload run`: k6's own start-up (seconds on a
      // loaded machine) is not load and must not dilute the step's rates.
      const end = new Date();
      const summary = existsSync(summaryFile) ? (JSON.parse(readFileSync(summaryFile, 'utf8')) as unknown) : undefined;
      const start = loadStartFromSummary(summary, end);
      if (!start) throw new Error(`k6 step ${i + 1} wrote no summary with state.testRunDurationMs (${summaryFile})`);
      stages.push({ name: `step-${i + 1}`, start: start.toISOString(), end: end.toISOString(), devices });
    }
    const endedAt = new Date();
    const maxDevices = Math.max(...o.steps);
    const manifest: RunManifest = {
      runId: o.runId,
      profile: 'capacity-test',
      seed,
      startedAt: startedAt.toISOString(),
      endedAt: endedAt.toISOString(),
      stages,
      devices: maxDevices,
      imeis: Array.from({ length: maxDevices }, (_, i) => imeiForIndex(seed, i)),
      target: { tcp: `127.0.0.1:${stack.platform.tcpPort}`, embedded: true },
      prometheus: { url: stack.prometheus.url },
      postgres: { url: stack.pg.url },
      versions: { fleetload: 'test', prometheus: stack.prometheus.version },
      k6: { exitCode, summaryFile: 'k6-summary.json' },
    };
    writeManifest(runDir, manifest);
    // the last scrape and remote-write push must land first (what run.ts does before verifying)
    await new Promise((r) => setTimeout(r, 3000));
    const report = await verifyRun({ slo: loadSloFile(undefined), manifest, runDir, prometheusUrl: stack.prometheus.url, pgUrl: stack.pg.url });
    writeReports(runDir, report, manifest);
    await captureSeries(runDir, { prometheusUrl: stack.prometheus.url, runId: o.runId, start: startedAt, end: endedAt, sourceLabel: stack.prometheus.url }, log);
    await captureDbStats(runDir, stack.pg.url, manifest.imeis, { start: startedAt, end: endedAt }, log);
    return { runDir, runId: o.runId, manifest, stack, stop: () => stack.stop() };
  } catch (e) {
    await stack.stop();
    throw e;
  }
}
