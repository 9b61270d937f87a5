// The pure parts of the adaptive capacity search: the noise-aware knee, the settle rule, the next step's size,
// the USL gate and its uncertainty, capacity.json of a search record, and the search's profile handling.
import { describe, expect, it } from 'vitest';
import { analyzeCapacity } from '../../src/report/capacity/index.js';
import { findKnee } from '../../src/report/capacity/knee.js';
import { noiseKnee, median } from '../../src/report/capacity/noise-knee.js';
import { findSteadyStart, risingLatency, type SettleSample } from '../../src/report/capacity/settle.js';
import { bracketOf, nextStep, SEARCH_FORMAT, type SearchPolicy, type SearchRecord, type SearchStep, type StepOutcome } from '../../src/report/capacity/search.js';
import { fitUsl, uslThroughput, uslUncertainty, uslUnconstrained } from '../../src/report/capacity/usl.js';
import { bucketQuantile, planSearch, steadyAckedRate, stepProfile } from '../../src/run/capacity-search.js';
import { limitingResources } from '../../src/report/capacity/search-analysis.js';

/** Deterministic noise in [-1, 1] (a fixed LCG: the same "random" samples every run). */
function noise(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32) * 2 - 1;
  };
}

/** per-second ACK p95 samples (s) around `level` with ± `spread` uniform noise */
function samples(level: number, spread: number, n: number, seed: number): number[] {
  const r = noise(seed);
  return Array.from({ length: n }, () => level + spread * r());
}

describe('knee only where latency rises beyond the noise', () => {
  // the run: per-step p95s 135, 130, 141, 133, 137, 138 ms at 100 … 2,000 devices, per-second spread ± 15 ms
  const devices = [100, 250, 500, 1000, 1500, 2000];
  const levels = [0.135, 0.13, 0.141, 0.133, 0.137, 0.138];
  const flat = devices.map((d, i) => ({ devices: d, samples: samples(levels[i], 0.015, 30, i + 1) }));

  it('flat latency with noise: no knee within the tested range (Kneedle on one p95 per step did declare one)', () => {
    const k = noiseKnee(flat);
    expect(k.found).toBe(false);
    expect(k.explanation).toMatch(/no knee within the tested range \(100–2000 devices\)/);
    // the old analysis: Kneedle on the six per-step figures names a knee in pure noise
    expect(findKnee(devices, levels)).toBeDefined();
  });

  it('a clear knee is found at the step where latency leaves the noise, with the flat part before it', () => {
    const xs = [100, 200, 300, 400, 500, 600, 700];
    const lv = [0.05, 0.052, 0.049, 0.051, 0.05, 0.12, 0.4];
    const k = noiseKnee(xs.map((d, i) => ({ devices: d, samples: samples(lv[i], 0.006, 20, 10 + i) })));
    expect(k.found).toBe(true);
    expect(k.x).toBe(600);
    expect(k.lastFlat?.devices).toBe(500);
    expect(k.baseline?.samples).toBe(100);
  });

  it('one high step followed by normal ones is noise, not a knee', () => {
    const lv = [0.05, 0.05, 0.2, 0.05, 0.05];
    const k = noiseKnee(lv.map((l, i) => ({ devices: (i + 1) * 100, samples: samples(l, 0.005, 20, 30 + i) })));
    expect(k.found).toBe(false);
  });

  it('needs samples: two steps with at least three each', () => {
    expect(noiseKnee([{ devices: 1, samples: [0.1, 0.1, 0.1] }, { devices: 2, samples: [1] }]).found).toBe(false);
    expect(median([3, 1, 2, 10])).toBe(2.5);
  });
});

describe('settle rule from the step\'s own measurements', () => {
  const series = (f: (t: number) => { p: number; r: number }, n = 30): SettleSample[] =>
    Array.from({ length: n }, (_, i) => ({ t: i + 1, ackP95: f(i + 1).p, ackedRate: f(i + 1).r }));
  const r = noise(99);

  it('a ramp then a plateau: steady from after the ramp', () => {
    const s = findSteadyStart(series((t) => ({ p: t < 10 ? 0.5 - t * 0.04 : 0.1 + 0.003 * r(), r: t < 10 ? t * 10 : 100 + 2 * r() })), { minSettleSec: 2, minSteadySec: 8 });
    expect(s.settled).toBe(true);
    expect(s.steadyStartSec).toBeGreaterThanOrEqual(8);
    expect(s.steadyStartSec).toBeLessThanOrEqual(10);
  });

  it('flat from the start: steady after the minimum settle', () => {
    const s = findSteadyStart(series(() => ({ p: 0.1 + 0.01 * r(), r: 100 + 3 * r() })), { minSettleSec: 2 });
    expect(s.settled).toBe(true);
    expect(s.steadyStartSec).toBe(2);
  });

  it('latency that keeps climbing never settles and counts as overload', () => {
    const s = findSteadyStart(series((t) => ({ p: 0.1 + 0.05 * t, r: 200 })), { minSettleSec: 2, minSteadySec: 5 });
    expect(s.settled).toBe(false);
    expect(risingLatency(s)).toBe(true);
    expect(s.explanation).toMatch(/ACK latency p95 rising 50\.0 ms\/s/);
  });
});

describe('next step of the search', () => {
  const policy: Pick<SearchPolicy, 'startDevices' | 'maxDevices' | 'growth' | 'resolution' | 'maxBisectSteps' | 'generatorMaxDevices'> = { startDevices: 50, maxDevices: 5000, growth: 2, resolution: 0.1, maxBisectSteps: 4 };
  /** drives nextStep against a platform that holds every SLO up to `limit` devices */
  function drive(limit: number, p = policy, generatorLimit = Infinity) {
    const h: Array<{ devices: number; outcome: StepOutcome }> = [];
    for (let i = 0; i < 30; i++) {
      const n = nextStep(h, p);
      if ('stop' in n) return { h, stop: n.stop };
      h.push({ devices: n.devices, outcome: n.devices > generatorLimit ? 'generator-bound' : n.devices <= limit ? 'pass' : 'fail' });
    }
    throw new Error('the search did not stop by itself');
  }

  it('grows geometrically to the first breach, then bisects to within the resolution', () => {
    const { h, stop } = drive(230);
    expect(h.slice(0, 4).map((s) => s.devices)).toEqual([50, 100, 200, 400]);
    expect(h.slice(4).map((s) => s.devices)).toEqual([300, 250, 225]);
    const b = bracketOf(h);
    expect(b).toEqual({ pass: 225, fail: 250 });
    expect(stop).toBe('resolved');
    expect((b.fail! - b.pass!) / b.fail!).toBeLessThanOrEqual(0.1);
  });

  it('spends at most maxBisectSteps after the first failure', () => {
    const { h, stop } = drive(230, { ...policy, resolution: 0.001, maxBisectSteps: 2 });
    expect(h.length).toBe(6);
    expect(stop).toBe('bisect-limit');
  });

  it('a failing first step steps down until something passes', () => {
    const { h } = drive(30);
    expect(h.map((s) => s.devices).slice(0, 2)).toEqual([50, 25]);
    expect(bracketOf(h).pass).toBeGreaterThanOrEqual(25);
  });

  it('stops at maxDevices (a lower bound) and at the generator\'s limit (generator-bound)', () => {
    expect(drive(1e9, { ...policy, maxDevices: 300 }).stop).toBe('max-devices');
    const g = drive(1e9, { ...policy, generatorMaxDevices: 120 });
    expect(g.h.map((s) => s.devices)).toEqual([50, 100, 120]);
    expect(g.stop).toBe('generator-bound');
    expect(drive(1e9, policy, 150).stop).toBe('generator-bound');
  });
});

describe('USL only when the data constrain it, with its uncertainty', () => {
  it('refuses a linear region alone', () => {
    const linear = [100, 200, 400, 800].map((n) => ({ n, x: n * 0.1 }));
    expect(uslUnconstrained(linear)).toMatch(/only 0 load\(s\) past the linear region/);
  });

  it('fits past the linear region and its N* ± 2 SE contains the truth', () => {
    const truth = { sigma: 0.05, kappa: 0.0002, lambda: 1 };
    const r = noise(5);
    const pts = [1, 10, 20, 40, 60, 80, 100, 120].map((n) => ({ n, x: uslThroughput(truth, n) * (1 + 0.01 * r()) }));
    expect(uslUnconstrained(pts)).toBeUndefined();
    const fit = fitUsl(pts)!;
    const u = uslUncertainty(fit, pts)!;
    const nStar = Math.sqrt((1 - truth.sigma) / truth.kappa);
    expect(u.nStarRange![0]).toBeLessThan(nStar);
    expect(u.nStarRange![1]).toBeGreaterThan(nStar);
    expect(u.sigmaSe).toBeGreaterThan(0);
    expect(u.degreesOfFreedom).toBe(5);
  });
});

describe('capacity.json of a search', () => {
  const t0 = Date.parse('2026-01-01T00:00:00Z');
  function step(i: number, devices: number, outcome: StepOutcome, p95: number): SearchStep {
    const start = t0 + i * 20_000;
    return {
      index: i,
      name: `step-${i + 1}`,
      devices,
      phase: i < 3 ? 'grow' : 'bisect',
      start: new Date(start).toISOString(),
      end: new Date(start + 10_000).toISOString(),
      steadyStart: new Date(start + 2_000).toISOString(),
      settle: { settled: outcome !== 'fail', steadyStartSec: 2, explanation: 'test' },
      samples: samples(p95, p95 * 0.05, 10, i).map((p, k) => ({ t: k + 1, ackP95: p, ackedRate: devices })),
      offeredRate: devices,
      ackedRate: devices,
      ackP95Ms: p95 * 1000,
      outcome,
      verdict: outcome === 'pass' ? 'pass' : 'fail',
      failed: outcome === 'fail' ? [{ objective: 'ack_latency_p95', value: p95 * 1000, unit: 'ms', target: '< 500', why: 'slow' }] : [],
      passed: outcome === 'pass' ? ['ack_latency_p95'] : [],
      generatorReasons: outcome === 'generator-bound' ? ['CPU 95 % of the machine'] : [],
      dir: `steps/step-${i + 1}`,
    };
  }
  const record = (steps: SearchStep[], reason: SearchRecord['stop']['reason']): SearchRecord => ({
    format: SEARCH_FORMAT,
    runId: 'search-test',
    profile: 'capacity-calibration',
    shape: { intervalSec: 1, parkedIntervalSec: 1, recordsPerPacket: 1, codec8eShare: 0, apiRatePer1000: 0, wsClientsPer1000: 0, recordsPerDeviceSec: 1, recordsPerDeviceSource: 'test', parkedShare: null },
    policy: { startDevices: 50, maxDevices: 1000, growth: 2, resolution: 0.1, maxBisectSteps: 4, holdSec: 10, maxDurationSec: 300 },
    startedAt: steps[0].start,
    endedAt: steps[steps.length - 1].end,
    stop: { reason, explanation: `stopped: ${reason}` },
    steps,
  });
  const manifest = (r: SearchRecord) => ({ runId: r.runId, devices: 400, stages: r.steps.map((s) => ({ name: s.name, start: s.start, end: s.end, devices: s.devices })) });

  it('reports devices and records/s, the bracket, what failed first and the knee in the search path', () => {
    const r = record([step(0, 50, 'pass', 0.2), step(1, 100, 'pass', 0.21), step(2, 200, 'pass', 0.2), step(3, 400, 'fail', 3), step(4, 300, 'fail', 1.2), step(5, 250, 'fail', 0.8), step(6, 225, 'pass', 0.22)], 'resolved');
    const a = analyzeCapacity({ manifest: manifest(r), search: r }, { plannedDevices: 200 });
    expect(a.capacity).toMatchObject({ devices: 225, recordsPerSecond: 225, bracket: { pass: 225, fail: 250 }, generatorBound: false });
    expect(a.capacity.limitedBy).toMatch(/^ack_latency_p95/);
    expect(a.knee?.x).toBe(250);
    expect(a.search?.path.map((p) => p.devices)).toEqual([50, 100, 200, 400, 300, 250, 225]);
    expect(a.headroom?.ratio).toBeCloseTo(0.125, 9);
    expect(a.uslSkipped).toMatch(/linear region|distinct/);
  });

  it('a generator-bound search is a lower bound and says so', () => {
    const r = record([step(0, 50, 'pass', 0.2), step(1, 100, 'pass', 0.2), step(2, 200, 'generator-bound', 0.2)], 'generator-bound');
    const a = analyzeCapacity({ manifest: manifest(r), search: r });
    expect(a.capacity).toMatchObject({ devices: 100, generatorBound: true, bracket: { pass: 100, fail: null } });
    expect(a.capacity.limitedBy).toMatch(/^load generator: CPU 95 %/);
    expect(a.capacity.notes.join(' ')).toMatch(/lower bound of the platform's capacity, never the platform's own figure/);
    expect(a.kneeCheck.found).toBe(false);
  });
});

describe('the search\'s profile and per-second samples', () => {
  it('holds the fleet shape at every step and scales API and WebSocket load per 1,000 devices', () => {
    const plan = planSearch({ profile: 'capacity-search', hold: '20s', log: () => {} });
    expect(plan.policy).toMatchObject({ startDevices: 100, maxDevices: 4000, growth: 2, holdSec: 20, maxDurationSec: 1800 });
    expect(plan.apiPer1000).toBe(5);
    expect(plan.wsPer1000).toBe(2);
    const p = stepProfile(plan, 2000);
    expect(p.steps).toBeUndefined();
    expect(p.devices.count).toBe(2000);
    expect(p.durationMs).toBe(20_000);
    expect(p.api?.rate).toBe(10);
    expect(p.ws?.clients).toBe(4);
    expect(stepProfile(plan, 100).ws).toBeUndefined();
  });

  it('interpolates a quantile inside the engine\'s buckets like Prometheus', () => {
    // 100 observations: 50 in (0.01, 0.025], 50 in (0.025, 0.05]
    const cum = [0, 0, 50, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100];
    expect(bucketQuantile(0.95, cum, 100)).toBeCloseTo(0.025 + 0.025 * 0.9, 9);
    expect(bucketQuantile(0.95, cum, 0)).toBeUndefined();
  });
});

describe('what saturated between the last pass and the first fail', () => {
  const m = (devices: number, x: Record<string, number>) => ({ name: `n${devices}`, devices, start: '', end: '', steadyStart: '', steadySeconds: 5, ...x });
  it('names the database writer when its queue grows past one record per device', () => {
    const r = limitingResources(m(200, { writerQueueMax: 20, batchP95: 0.1 }), m(250, { writerQueueMax: 900, batchP95: 0.1, connectedDevices: 200 }));
    expect(limitingResources(m(200, { writerQueueMax: 20 }), m(250, { writerQueueMax: 30 }))).toEqual([]);
    expect(r[0]).toMatch(/^database writer: 900 records queued uncommitted at 250 devices \(20 at 200\)/);
    expect(r.join(' ')).not.toMatch(/connections/);
  });
  it('names the platform event loop and CPU from their own figures, nothing without evidence', () => {
    expect(limitingResources(m(1, {}), m(2, { eventLoopLagP99: 0.3, platformCpuCores: 0.97 }))).toEqual(['platform event loop: lag p99 300 ms', 'platform CPU: 0.97 cores']);
    expect(limitingResources(m(1, {}), m(2, {}))).toEqual([]);
  });
});

describe('steady ACKed rate from the cumulative count', () => {
  it('ignores the jitter of per-second rates and the drain after the devices stop', () => {
    const acked = [0, 100, 150, 350, 400, 600, 700, 700, 700];
    const s = acked.map((a, i) => ({ t: i + 1, ackedRate: i ? a - acked[i - 1] : 0, acked: a }));
    expect(steadyAckedRate(s, 2, 7)).toBeCloseTo((700 - 100) / 5, 9);
  });
});
