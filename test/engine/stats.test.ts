// Exact figures: percentiles from the engine's HdrHistograms agree with the sorted samples within 1 %, and merging
// histograms of several threads (or shards) gives exactly the histogram of all samples together.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeHistogram, encodeHistogram, latencySummary, mergeExact, mergeSnapshots, Recorder, Stats } from '../../src/engine/stats.js';

/** The nearest-rank percentile of sorted samples (what HdrHistogram reports). */
const rank = (sorted: number[], p: number) => sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];

describe('engine statistics', () => {
  it('p50/p95/p99/max are within 1 % of the sorted-sample value, whatever the distribution', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0.05, max: 600_000, noNaN: true }), { minLength: 50, maxLength: 3000 }), (ms) => {
        const r = new Recorder();
        for (const v of ms) r.record(v);
        const s = latencySummary(r.hdr)!;
        const sorted = [...ms].sort((a, b) => a - b);
        for (const [p, got] of [[50, s.p50], [95, s.p95], [99, s.p99], [100, s.max]] as const) {
          const want = rank(sorted, p);
          // HdrHistogram with 3 significant digits: within 0.1 %, plus the 1 µs resolution
          expect(Math.abs(got - want)).toBeLessThanOrEqual(want * 0.01 + 0.002);
        }
        expect(s.count).toBe(ms.length);
      }),
      { numRuns: 60 },
    );
  });

  it('merging per-thread histograms is exact: the same counts as one histogram of every sample', () => {
    const parts = [new Stats(), new Stats(), new Stats()];
    const all = new Recorder();
    for (let i = 0; i < 30_000; i++) {
      const v = ((i * 7919) % 5000) + (i % 13) / 10;
      parts[i % 3].observe('ack_latency', v);
      all.record(v);
    }
    const merged = mergeExact(parts.map((p) => p.exact())).get('ack_latency')!;
    expect(merged.totalCount).toBe(30_000);
    for (const p of [1, 50, 90, 95, 99, 99.9, 100]) expect(merged.getValueAtPercentile(p)).toBe(all.hdr.getValueAtPercentile(p));
    // and it survives the trip through the summary's base64 form
    expect(decodeHistogram(encodeHistogram(merged)).getValueAtPercentile(95)).toBe(all.hdr.getValueAtPercentile(95));
    const counts = mergeSnapshots(parts.map((p) => p.snapshot())).histograms.ack_latency;
    expect(counts.count).toBe(30_000);
    expect(counts.buckets).toEqual(all.counts().buckets);
  });

  it('no sample is no summary, never zeros', () => {
    expect(latencySummary(new Recorder().hdr)).toBeUndefined();
  });
});
