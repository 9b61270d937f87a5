import { describe, expect, it } from 'vitest';
import { bytesPerRow, type DbStats } from '../../src/report/capacity/db-stats.js';
import { projectGrowth } from '../../src/report/capacity/growth.js';
import { analyzeCapacity } from '../../src/report/capacity/index.js';
import { kneedle, slopeKnee } from '../../src/report/capacity/knee.js';
import { counterIncrease, histogramQuantile, type Point } from '../../src/report/capacity/prommath.js';
import { isSteppedRun, parseCriteria } from '../../src/report/capacity/steps.js';
import { fitUsl, uslThroughput } from '../../src/report/capacity/usl.js';
import { renderCapacityMarkdown } from '../../src/report/capacity-markdown.js';
import { DEVICES, STEP_SEC, TRUTH, syntheticManifest, syntheticSeries } from './synthetic.js';

describe('USL fit (ml-levenberg-marquardt)', () => {
  it('recovers known σ, κ, λ from exact points, and N* = sqrt((1−σ)/κ)', () => {
    const truth = { sigma: 0.02, kappa: 0.0001, lambda: 90 };
    const fit = fitUsl([1, 5, 10, 20, 40, 60, 80, 100, 150, 200].map((n) => ({ n, x: uslThroughput(truth, n) })));
    expect(fit).toBeDefined();
    expect(fit!.sigma).toBeCloseTo(truth.sigma, 4);
    expect(fit!.kappa / truth.kappa).toBeCloseTo(1, 3);
    expect(fit!.lambda).toBeCloseTo(truth.lambda, 2);
    expect(fit!.r2).toBeGreaterThan(0.9999);
    expect(fit!.nStar).toBeCloseTo(Math.sqrt((1 - 0.02) / 0.0001), 0); // 98.99
    expect(fit!.constraint).toBe('contention');
  });

  it('recovers parameters within 10 % from points with ±1 % deterministic noise', () => {
    const truth = { sigma: 0.05, kappa: 0.0002, lambda: 12 };
    const pts = [1, 4, 8, 16, 24, 32, 48, 64, 96, 128].map((n, i) => ({ n, x: uslThroughput(truth, n) * (1 + (i % 2 ? 0.01 : -0.01)) }));
    const fit = fitUsl(pts)!;
    expect(Math.abs(fit.sigma - truth.sigma) / truth.sigma).toBeLessThan(0.1);
    expect(Math.abs(fit.kappa - truth.kappa) / truth.kappa).toBeLessThan(0.1);
    expect(Math.abs(fit.lambda - truth.lambda) / truth.lambda).toBeLessThan(0.05);
  });

  it('refuses fewer than 3 load levels and warns below 6', () => {
    expect(fitUsl([{ n: 1, x: 1 }, { n: 2, x: 2 }])).toBeUndefined();
    const fit = fitUsl([10, 20, 30, 40].map((n) => ({ n, x: n })))!;
    expect(fit.warnings.join(' ')).toMatch(/at least 6/);
    expect(fit.constraint).toBe('linear');
    expect(fit.nStar).toBeNull();
  });
});

describe('knee', () => {
  const xs = [100, 200, 300, 400, 500, 600, 700, 800, 900, 1000];
  const hockey = xs.map((x) => (x <= 500 ? 10 + x * 0.002 : 11 + 0.5 * (x - 500)));
  it('Kneedle finds the bend of a hockey stick', () => {
    expect(kneedle(xs, hockey)?.x).toBe(500);
  });
  it('the slope rule agrees', () => {
    expect(slopeKnee(xs, hockey)?.x).toBe(500);
  });
  it('a straight line has no knee', () => {
    expect(kneedle(xs, xs.map((x) => 3 * x + 7))).toBeUndefined();
    expect(slopeKnee(xs, xs.map((x) => 3 * x + 7))).toBeUndefined();
  });
});

describe('Prometheus arithmetic', () => {
  it('counterIncrease handles resets and anchors at the sample before the window', () => {
    const pts: Point[] = [[0, 5], [1, 7], [2, 10], [3, 2], [4, 6]];
    expect(counterIncrease(pts, 0, 4)).toBe(2 + 3 + 2 + 4);
    expect(counterIncrease(pts, 1.5, 2)).toBe(3);
  });
  it('histogramQuantile matches Prometheus interpolation', () => {
    const b = [{ le: 0.1, count: 50 }, { le: 0.2, count: 90 }, { le: Infinity, count: 100 }];
    expect(histogramQuantile(0.5, b)).toBeCloseTo(0.1, 9);
    expect(histogramQuantile(0.7, b)).toBeCloseTo(0.15, 9);
    expect(histogramQuantile(0.95, b)).toBe(0.2); // rank in +Inf → largest finite bound
  });
  it('parses report.json targets', () => {
    expect(parseCriteria('< 1000')).toEqual([{ op: '<', value: 1000 }]);
    expect(parseCriteria('>= 0.98 and <= 1.02')).toHaveLength(2);
    expect(parseCriteria('== 0')).toEqual([{ op: '==', value: 0 }]);
    expect(parseCriteria('around 5')).toBeUndefined();
  });
});

describe('capacity analysis of a synthetic stepped run with known answers', () => {
  const manifest = syntheticManifest();
  const series = syntheticSeries();
  const a = analyzeCapacity({ manifest, series }, { plannedDevices: 500 });

  it('is a stepped run with one step per stage', () => {
    expect(isSteppedRun(manifest)).toBe(true);
    expect(a.stepped).toBe(true);
    expect(a.steps.map((s) => s.metrics.devices)).toEqual(DEVICES);
  });

  it('drops the settling part of each step (the ramp garbage never reaches the figures)', () => {
    for (const s of a.steps) {
      expect(s.metrics.storedRate).toBeCloseTo(uslThroughput(TRUTH, s.metrics.devices), 6);
      expect(s.metrics.ackP95).toBeLessThan(5); // the settling observations were all in +Inf
    }
    expect(a.steps[0].metrics.ackP95).toBeCloseTo(0.04875, 9);
  });

  it('takes per-step ACK latency from the engine histogram, the platform\'s ACK duration beside it', () => {
    // engine buckets (LATENCY_BUCKETS_S): 700 devices all in (2, 3] → p95 = 2 + 0.95 × 1
    expect(a.steps[6].metrics.ackP95).toBeCloseTo(2.95, 9);
    expect(a.steps[6].metrics.ackSamples).toBeCloseTo(700 * TRUTH.lambda * (STEP_SEC * 0.7), 6);
    // the platform sees a flat 5–10 ms in every step: were it judged, every step would pass
    for (const s of a.steps) expect(s.metrics.platformAckP95).toBeCloseTo(0.00975, 9);
  });

  it('computes the device error ratio and connected devices from the engine series', () => {
    for (const s of a.steps) {
      expect(s.metrics.deviceErrorRatio).toBeCloseTo(1e-4, 12);
      // the steady window is closed at its end, where the next step's gauge sample already sits
      expect(Math.abs((s.metrics.connectedDevices as number) / s.metrics.devices - 1)).toBeLessThan(0.05);
      expect(s.metrics.sentRate).toBeCloseTo(s.metrics.devices * TRUTH.lambda, 9);
    }
  });

  it('a missing error series is no data, never a 0 error ratio', () => {
    const cut = { ...series, queries: series.queries.filter((q) => q.id !== 'engine_device_errors') };
    const b = analyzeCapacity({ manifest, series: cut });
    expect(b.steps[0].metrics.deviceErrorRatio).toBeUndefined();
    expect(b.steps[0].verdict.checks.find((c) => c.objective === 'device_error_ratio')?.status).toBe('no-data');
  });

  it('reads the device counters of an old run folder stored under the k6 ids', () => {
    const rename: Record<string, string> = { engine_records_sent: 'k6_records_sent', engine_records_acked: 'k6_records_acked' };
    const old = { ...series, queries: series.queries.map((q) => ({ ...q, id: rename[q.id] ?? q.id })) };
    const b = analyzeCapacity({ manifest, series: old });
    expect(b.steps[0].metrics.sentRate).toBeCloseTo(DEVICES[0] * TRUTH.lambda, 9);
  });

  it('judges each step and finds capacity = 600 devices (ACK p95 fails from 700)', () => {
    const status = a.steps.map((s) => s.verdict.status);
    expect(status).toEqual(['pass', 'pass', 'pass', 'pass', 'pass', 'pass', 'fail', 'fail']);
    expect(a.capacity.devices).toBe(600);
    expect(a.capacity.firstFailingDevices).toBe(700);
    expect(a.capacity.failedObjectives).toContain('ack_latency_p95');
  });

  it('uses a verifier per-stage result when report.json has one', () => {
    const objectives = [
      { id: 'ack_latency_p95', unit: 'ms', target: '< 1000', status: 'pass', stages: [{ name: 'step-3', value: 5000, status: 'fail', why: 'verifier says so' }] },
    ];
    const b = analyzeCapacity({ manifest, series, report: { objectives } as never });
    expect(b.capacity.devices).toBe(200);
    expect(b.steps[2].verdict.checks.find((c) => c.objective === 'ack_latency_p95')?.source).toBe('verifier');
  });

  it('finds the knee of the latency curve at 600 devices (beyond the noise of the steps below)', () => {
    expect(a.knee?.method).toBe('noise');
    expect(a.knee?.x).toBe(600);
    expect(a.kneeCheck.lastFlat?.devices).toBe(500);
  });

  it('recovers the USL parameters from the per-step throughput', () => {
    expect(a.usl).toBeDefined();
    expect(a.usl!.sigma).toBeCloseTo(TRUTH.sigma, 3);
    expect(a.usl!.kappa / TRUTH.kappa).toBeCloseTo(1, 2);
    expect(a.usl!.lambda).toBeCloseTo(TRUTH.lambda, 3);
    expect(a.usl!.nStar).toBeCloseTo(Math.sqrt((1 - TRUTH.sigma) / TRUTH.kappa), 0);
    expect(a.usl!.curve.length).toBeGreaterThan(10);
  });

  it('names the database as the first resource to saturate (batch p95 10× at 700)', () => {
    expect(a.saturation[0].resource).toBe('database');
    expect(a.saturation[0].devices).toBe(700);
  });

  it('computes headroom against the planned fleet', () => {
    expect(a.headroom?.ratio).toBeCloseTo((600 - 500) / 500, 9);
    const short = analyzeCapacity({ manifest, series }, { plannedDevices: 1000 });
    expect(short.headroom?.ratio).toBeCloseTo(-0.4, 9);
  });

  it('renders a Markdown capacity section', () => {
    const md = renderCapacityMarkdown(a);
    expect(md).toMatch(/capacity \(every SLO held\) \| \*\*600\*\* devices/);
    expect(md).toMatch(/knee of ACK p95 \| 600 devices \(noise\)/);
  });
});

describe('database growth', () => {
  const base: Pick<DbStats, 'rows' | 'partitions' | 'avgTupleBytes' | 'indexEstimates'> = {
    rows: 1_000_000,
    partitions: [{ name: 'p', bound: null, rows: 1_000_000, heapBytes: 150_000_000, tableBytes: 150_100_000, indexBytes: 60_016_384, indexes: 2 }],
    avgTupleBytes: 140,
    indexEstimates: [],
  };
  it('uses sizes/rows on a large table, minus index metapages', () => {
    const b = bytesPerRow(base)!;
    expect(b.value).toBeCloseTo((150_100_000 + 60_000_000) / 1_000_000, 6);
    expect(b.basis).toMatch(/measured/);
  });
  it('falls back to the tuple estimate on a small table', () => {
    const b = bytesPerRow({ ...base, rows: 100, partitions: [{ ...base.partitions[0], rows: 100, heapBytes: 16384, tableBytes: 40960, indexBytes: 32768 }], indexEstimates: [{ name: 'pk', columns: ['a', 'b'], bytesPerEntry: 30 }] })!;
    expect(b.basis).toMatch(/estimated/);
    expect(b.value).toBeGreaterThan(140);
    expect(b.value).toBeLessThan(200);
  });
  it('projects rows/day, GB/month and a monthly partition', () => {
    const stats = { ...base, bytesPerRow: { value: 200, basis: 'measured', measured: 200, estimated: null } } as DbStats;
    const g = projectGrowth(stats, { plannedDevices: 500, reportIntervalSec: 10, intervalSource: 'test' })!;
    expect(g.rowsPerDay).toBe(500 * 8640);
    expect(g.gbPerMonth).toBeCloseTo((500 * 8640 * 200 * 30) / 1e9, 9); // 25.92 GB
    expect(g.partitionGb).toBeCloseTo((500 * 8640 * 200 * 31) / 1e9, 9);
  });
});
