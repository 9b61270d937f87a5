// A real short stepped run for the report tests: the embedded stack (PostgreSQL, reference platform, Prometheus)
// and the load engine running one stepped fleet (each step adds devices at its start), as `fleetload run` does:
// Prometheus scrapes the engine's /metrics as job fleetload-engine and the load starts after its first scrape.
// Writes a complete run folder (manifest, engine-summary.json, ledger/, report.json via the verifier, series.json,
// db-stats.json) and leaves the stack running so tests can query Prometheus; call stop() when done.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ENGINE_SUMMARY_FILE } from '../../src/core/engine-summary.js';
import { LEDGER_DIR } from '../../src/core/ledger.js';
import { writeManifest, type RunManifest } from '../../src/core/manifest.js';
import { repoRoot } from '../../src/core/repo-root.js';
import { runEngine, type EngineRun } from '../../src/engine/engine.js';
import { imeiForIndex } from '../../src/protocol/teltonika/index.js';
import { captureDbStats } from '../../src/report/capacity/db-stats.js';
import { writeReports } from '../../src/report/index.js';
import { captureSeries } from '../../src/report/series.js';
import { ENGINE_JOB } from '../../src/run/run.js';
import type { FleetConfig } from '../../src/sim/fleet-config.js';
import { startEmbeddedStack, type EmbeddedStack } from '../../src/stack/embedded-stack.js';
import { freePort } from '../../src/stack/ports.js';
import { waitForFirstScrape } from '../../src/stack/prometheus.js';
import { loadSloFile, verifyRun } from '../../src/verify/index.js';

export interface SteppedRun {
  runDir: string;
  runId: string;
  manifest: RunManifest;
  engine: EngineRun;
  stack: EmbeddedStack;
  stop(): Promise<void>;
}

const SEED = 7;

/** Cumulative device counts `steps`, each held `stepSec`, one record per device per second. */
function steppedConfig(runId: string, steps: number[], stepSec: number, tcpPort: number): FleetConfig {
  return {
    runId,
    seed: SEED,
    devices: Math.max(...steps),
    durationSec: steps.length * stepSec,
    intervalMs: 1000,
    recordsPerPacket: 1,
    codec: 8,
    ackTimeoutMs: 5000,
    reconnectBaseMs: 500,
    reconnectMaxMs: 5000,
    tcpHost: '127.0.0.1',
    tcpPort,
    centre: { latitude: 44.7722, longitude: 17.191 },
    steps: steps.map((devices, i) => ({ devices, startMs: i * stepSec * 1000 })),
  };
}

/** run.json as `fleetload run` writes it: the engine's stage windows, the last one closed at the window's end. */
function manifestOf(config: FleetConfig, engine: EngineRun, stack: EmbeddedStack, windowEnd: Date): RunManifest {
  const stages = engine.summary.stages.map((s) => ({ name: s.name, start: s.start, end: s.end, devices: s.devices }));
  stages[stages.length - 1].end = windowEnd.toISOString();
  return {
    runId: config.runId,
    profile: 'capacity-test',
    seed: SEED,
    startedAt: engine.loadStart.toISOString(),
    endedAt: windowEnd.toISOString(),
    stages,
    devices: config.devices,
    imeis: Array.from({ length: config.devices }, (_, i) => imeiForIndex(SEED, i)),
    target: { tcp: `127.0.0.1:${stack.platform.tcpPort}`, embedded: true },
    prometheus: { url: stack.prometheus.url },
    postgres: { url: stack.pg.url },
    versions: { fleetload: 'test', engine: 'test', prometheus: stack.prometheus.version },
    engine: { summaryFile: ENGINE_SUMMARY_FILE, ledgerDir: LEDGER_DIR, exitCode: engine.killedAtLimit ? 4 : 0 },
    generator: engine.generatorFigures,
    invalidReasons: engine.summary.generator.invalidReasons.map((r) => `load engine: ${r}`),
  };
}

export async function steppedRun(o: { runId: string; steps: number[]; stepSec: number; log?: (l: string) => void }): Promise<SteppedRun> {
  const log = o.log ?? (() => {});
  const runDir = join(repoRoot(), '.cache', 'test-runs', o.runId);
  rmSync(runDir, { recursive: true, force: true });
  mkdirSync(runDir, { recursive: true });
  const metricsPort = await freePort();
  const stack = await startEmbeddedStack({ log: (c, l) => log(`[${c}] ${l}`), label: o.runId, extraScrapeTargets: [{ job: ENGINE_JOB, address: `127.0.0.1:${metricsPort}` }] });
  let engine: EngineRun | undefined;
  try {
    const config = steppedConfig(o.runId, o.steps, o.stepSec, stack.platform.tcpPort);
    engine = await runEngine({
      runId: o.runId,
      config,
      workers: 1,
      outDir: runDir,
      metrics: { host: '127.0.0.1', port: metricsPort },
      hardLimitMs: (config.durationSec + 60) * 1000,
      fleetloadVersion: 'test',
      log,
      // every counter has a 0 sample before the load, or the first step's rates miss their first seconds
      beforeStart: () => waitForFirstScrape(stack.prometheus.url, ENGINE_JOB),
    });
    if (engine.killedAtLimit) throw new Error(`the engine was stopped at its hard limit: ${engine.summary.generator.invalidReasons.join('; ')}`);
    // two more scrapes, so the counters' final values are in Prometheus (what run.ts does before judging)
    const tailMs = stack.prometheus.scrapeIntervalSec * 2000 + 500;
    await new Promise((r) => setTimeout(r, tailMs));
    const windowEnd = new Date(engine.loadEnd.getTime() + tailMs);
    const manifest = manifestOf(config, engine, stack, windowEnd);
    writeManifest(runDir, manifest);
    const report = await verifyRun({ slo: loadSloFile(undefined), manifest, runDir, prometheusUrl: stack.prometheus.url, pgUrl: stack.pg.url, invalidReasons: manifest.invalidReasons ?? [] });
    writeReports(runDir, report, manifest);
    const window = { start: engine.loadStart, end: windowEnd };
    await captureSeries(runDir, { prometheusUrl: stack.prometheus.url, runId: o.runId, ...window, sourceLabel: stack.prometheus.url, generatorPoints: engine.samples?.points }, log);
    await captureDbStats(runDir, stack.pg.url, manifest.imeis, window, log);
    const metrics = engine.metrics;
    return {
      runDir,
      runId: o.runId,
      manifest,
      engine,
      stack,
      stop: async () => {
        await metrics?.close();
        await stack.stop();
      },
    };
  } catch (e) {
    await engine?.metrics?.close();
    await stack.stop();
    throw e;
  }
}
