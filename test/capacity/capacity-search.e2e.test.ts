// Calibrated capacity searches on the embedded stack. The reference platform is given a known writer ceiling:
// writer concurrency × batch rows ÷ per-batch delay (--fault-insert-delay-ms, plus the few ms the insert itself
// takes), e.g. 1 × 20 rows ÷ 100 ms = 200 records/s; the calibration profile's devices each send 1 record/s, so
// devices = records/s offered. The search must find the ceiling within ±15 %, stop by itself within its
// maxDuration, and say "generator-bound" when the generator's own limit ends it first.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCapacitySearch, type CapacitySearchOptions } from '../../src/run/capacity-search.js';
import type { CapacityAnalysis } from '../../src/report/capacity/index.js';

const SLO = join(import.meta.dirname, 'calibration-slo.yaml');
const lines: string[] = [];

function search(ceiling: { concurrency: number; rows: number; delayMs: number }, extra: Partial<CapacitySearchOptions> = {}) {
  return runCapacitySearch({
    profile: 'capacity-calibration',
    slo: SLO,
    reportsDir: mkdtempSync(join(tmpdir(), 'capacity-search-')),
    startDevices: 50,
    hold: '8s',
    maxDuration: '200s',
    resolution: 0.1,
    maxBisectSteps: 3,
    keepEvidence: false,
    platformArgs: [`--writer-concurrency=${ceiling.concurrency}`, `--batch-max-rows=${ceiling.rows}`, `--fault-insert-delay-ms=${ceiling.delayMs}`, '--pool-size=4'],
    log: (l) => lines.push(l),
    ...extra,
  });
}

const ceilingOf = (c: { concurrency: number; rows: number; delayMs: number }) => (c.concurrency * c.rows * 1000) / c.delayMs;

describe('capacity search against calibrated ceilings', () => {
  afterEach(() => {
    process.stderr.write(`${lines.join('\n')}\n`);
    lines.length = 0;
  });

  for (const c of [
    { concurrency: 1, rows: 20, delayMs: 100 },
    { concurrency: 2, rows: 20, delayMs: 100 },
  ]) {
    it(`finds a ${ceilingOf(c)} records/s writer ceiling within ±15 %, stopping by itself`, async () => {
      const t0 = Date.now();
      // room above the ceiling: at exactly the ceiling a step may still hold within its 8 s, so the search must be
      // able to go past it to find a failing load
      const out = await search(c, { maxDevices: 2 * ceilingOf(c) });
      const secs = (Date.now() - t0) / 1000;
      const cap = out.capacity.capacity;
      const ceiling = ceilingOf(c);
      process.stderr.write(`ceiling ${ceiling}: ${JSON.stringify({ cap, path: out.capacity.search?.path.map((p) => [p.devices, p.outcome, p.ackP95Ms, p.ackedRate]), secs })}\n`);
      expect(cap.generatorBound).toBe(false);
      expect(cap.bracket.fail).not.toBeNull();
      expect(cap.recordsPerSecond).not.toBeNull();
      expect(Math.abs((cap.recordsPerSecond as number) - ceiling) / ceiling).toBeLessThanOrEqual(0.15);
      expect(Math.abs((cap.devices as number) - ceiling) / ceiling).toBeLessThanOrEqual(0.15);
      expect(cap.limitedBy).toMatch(/ack_latency_p95|steady_state/);
      // the search stopped by itself, inside its budget
      expect(['resolved', 'bisect-limit']).toContain(out.record.stop.reason);
      expect(secs).toBeLessThan(200 + 60);
      const json = JSON.parse(readFileSync(join(out.runDir, 'capacity.json'), 'utf8')) as CapacityAnalysis;
      expect(json.capacity).toMatchObject({ devices: cap.devices, bracket: cap.bracket, generatorBound: false });
      expect(json.search?.path.length).toBe(out.record.steps.length);
      expect(readFileSync(join(out.runDir, 'report.html'), 'utf8')).toContain('Capacity');
    }, 300_000);
  }

  it('a generator limit below the platform\'s ceiling gives a generator-bound lower bound, never the platform\'s figure', async () => {
    const out = await search({ concurrency: 2, rows: 20, delayMs: 100 }, { generatorMaxDevices: 80 });
    const cap = out.capacity.capacity;
    expect(out.record.steps.map((s) => s.devices)).toEqual([50, 80]);
    expect(cap).toMatchObject({ devices: 80, generatorBound: true, bracket: { pass: 80, fail: null } });
    expect(cap.limitedBy).toMatch(/load generator: the load generator is limited to 80 devices/);
    expect(lines.join('\n')).toMatch(/GENERATOR-BOUND: a lower bound/);
    // report.html draws the search path and says generator-bound
    const html = readFileSync(join(out.runDir, 'report.html'), 'utf8');
    expect(html).toContain('Search path');
    expect(html).toContain('generator-bound: a lower bound');
  }, 180_000);
});
