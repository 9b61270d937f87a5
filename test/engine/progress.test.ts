// The status line: rates between the lines it prints, CPU as a share of the machine since the load started.
import { describe, expect, it } from 'vitest';
import { formatProgress, ratesBetween, type ProgressFigures } from '../../src/engine/progress.js';

const at = (elapsedMs: number, sent: number, acked: number, cpuSeconds: number): ProgressFigures => ({
  elapsedMs,
  totalMs: 60_000,
  stage: 'steady',
  connected: 100,
  planned: 100,
  sent,
  acked,
  cpuSeconds,
  ackP95UpToMs: 250,
  errors: 0,
  cores: 2,
});

describe('progress line', () => {
  it('rates come from the difference to the previous printed line', () => {
    const r = ratesBetween(at(10_000, 1000, 990, 1), at(20_000, 3000, 2990, 3));
    expect(r).toEqual({ sentPerSec: 200, ackedPerSec: 200, cpuPercentOfMachine: 10 });
    expect(formatProgress(at(20_000, 3000, 2990, 3), r)).toBe('20s/60s steady | devices 100/100 | records/s sent 200 acked 200 | ACK p95 ≤250 ms | errors 0 | engine CPU 10%');
  });
  it('the first line is measured from the start, never over a near-zero interval', () => {
    const r = ratesBetween(undefined, at(100, 10, 10, 0.05));
    expect(r.cpuPercentOfMachine).toBeLessThanOrEqual(100);
    expect(r.sentPerSec).toBe(20);
  });
});
