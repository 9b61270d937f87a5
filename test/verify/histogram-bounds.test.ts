// Percentiles read from histogram buckets are stated with their bucket, and the default thresholds sit on bucket
// bounds, so a verdict never hangs on where PromQL's interpolation lands inside a bucket.
import { describe, expect, it } from 'vitest';
import { LATENCY_BUCKETS_S } from '../../src/engine/stats.js';
import { DB_BATCH_BUCKETS, INGEST_LAG_BUCKETS } from '../../src/platform/metrics.js';
import type { PrometheusClient } from '../../src/verify/evidence-prometheus.js';
import { quantileBucketNote } from '../../src/verify/prometheus-exact.js';
import { loadSloFile } from '../../src/verify/slo-load.js';

/** A test double of the Prometheus client: it answers the bucket query with fixed cumulative counts. */
function bucketsDouble(counts: Array<[string, number]>): PrometheusClient {
  return { vector: async () => counts.map(([le, value]) => ({ metric: { le }, value })) } as unknown as PrometheusClient;
}

describe('histogram percentiles', () => {
  it('name the bucket that holds the percentile, and n', async () => {
    const prom = bucketsDouble([['0.1', 50], ['0.25', 94], ['0.5', 99], ['+Inf', 100]]);
    const q = 'histogram_quantile(0.95, sum by (le) (increase(x_bucket[60s])))';
    expect(await quantileBucketNote(prom, q, new Date(), 'x')).toBe('n = 100; the p95 lies in the bucket (0.25, 0.5] — the value is PromQL\'s interpolation inside it');
    expect(await quantileBucketNote(bucketsDouble([['1', 0], ['+Inf', 0]]), q, new Date(), 'x')).toBeUndefined();
    expect(await quantileBucketNote(prom, 'sum(x)', new Date(), 'x')).toBeUndefined();
  });

  it('every default threshold on a histogram sits on one of its bucket bounds', () => {
    const slo = loadSloFile();
    const bucketsOf: Record<string, readonly number[]> = {
      db_batch_insert_duration_seconds_bucket: DB_BATCH_BUCKETS,
      telemetry_ingest_lag_seconds_bucket: INGEST_LAG_BUCKETS,
    };
    let checked = 0;
    for (const o of slo.objectives) {
      const numbers = [o.pass, o.warning].flatMap((c) => (c ? JSON.stringify(c).match(/-?\d+(\.\d+)?/g) ?? [] : [])).map(Number);
      const metric = /(\w+_bucket)/.exec(o.query)?.[1];
      if (o.source === 'prometheus' && metric && o.query.includes('histogram_quantile')) {
        for (const n of numbers) expect(bucketsOf[metric], `${o.id}: ${n} s on a bucket bound of ${metric}`).toContain(n);
        checked++;
      }
      // the engine's latencies are exact (HdrHistogram), but /metrics and the live view bin them on LATENCY_BUCKETS_S
      if (o.source === 'engine' && o.unit === 'ms' && /LatencyMs\.p\d+|freshnessMs\.p\d+/.test(o.query)) {
        for (const n of numbers) expect(LATENCY_BUCKETS_S.map((b) => b * 1000), `${o.id}: ${n} ms on an engine bucket bound`).toContain(n);
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(6);
  });
});
