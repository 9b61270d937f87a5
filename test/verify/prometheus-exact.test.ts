// Pure parts of the exact Prometheus evidence: counter deltas with resets, and scrape coverage from `up` samples.
import { describe, expect, it } from 'vitest';
import { counterDelta, exactIncreaseSelector, jobCoverage, queriedJobs } from '../../src/verify/prometheus-exact.js';
import { loadSloFile } from '../../src/verify/slo-load.js';

const w = { start: new Date(100_000), end: new Date(160_000) }; // 100 s .. 160 s

describe('counterDelta', () => {
  it('starts from the last value before the window and never extrapolates', () => {
    expect(counterDelta([[90, 40], [99, 50], [110, 60], [150, 75], [170, 99]], 100, 160)).toBe(25);
  });
  it('a reset adds the value after it (a restart counts from 0)', () => {
    expect(counterDelta([[95, 100], [110, 130], [120, 5], [150, 20]], 100, 160)).toBe(30 + 5 + 15);
  });
  it('a series born in the window counts from 0', () => {
    expect(counterDelta([[120, 7], [150, 9]], 100, 160)).toBe(9);
  });
});

describe('exact_increase and jobs', () => {
  it('recognises the form and the jobs the default SLO file queries', () => {
    expect(exactIncreaseSelector('exact_increase(x_total{job="a"})')).toBe('x_total{job="a"}');
    expect(exactIncreaseSelector('sum(increase(x_total[1m]))')).toBeUndefined();
    expect(queriedJobs(loadSloFile())).toEqual(['fleet-platform']);
  });
});

describe('jobCoverage', () => {
  const every = (from: number, to: number, step: number, v = 1) => Array.from({ length: Math.floor((to - from) / step) + 1 }, (_, i) => [from + i * step, v] as [number, number]);
  it('a fully scraped window is covered', () => {
    expect(jobCoverage('p', [{ metric: { instance: 'i' }, values: every(100, 160, 5) }], 5, w)).toEqual([]);
  });
  it('a gap longer than 3 intervals is named', () => {
    const values = [...every(100, 120, 5), ...every(140, 160, 5)];
    const r = jobCoverage('p', [{ metric: { instance: 'i' }, values }], 5, w);
    expect(r[0]).toContain('job "p" (i): no successful scrape from 1970-01-01T00:02:00.000Z to 1970-01-01T00:02:20.000Z (20.0 s > 3 × the 5 s scrape interval)');
  });
  it('a gap of 3 intervals is tolerated, but coverage under 95 % is not', () => {
    const values = every(100, 160, 5).filter(([t]) => t !== 125 && t !== 130);
    const r = jobCoverage('p', [{ metric: {}, values }], 5, w);
    expect(r).toEqual([expect.stringContaining('11 successful scrapes of 12 expected')]);
  });
  it('a gap a recorded fault caused (a killed or paused platform) is excused; the same gap elsewhere is not', () => {
    const values = [...every(100, 120, 5), ...every(140, 160, 5)];
    const fault = { job: 'p', fromSec: 121, toSec: 136, why: 'fault kill-platform' };
    expect(jobCoverage('p', [{ metric: {}, values }], 5, w, [fault])).toEqual([]);
    // a fault of another job, or at another time, excuses nothing
    expect(jobCoverage('p', [{ metric: {}, values }], 5, w, [{ ...fault, job: 'q' }]).join()).toContain('no successful scrape');
    expect(jobCoverage('p', [{ metric: {}, values }], 5, w, [{ ...fault, fromSec: 141, toSec: 150 }]).join()).toContain('no successful scrape');
    // a gap longer than the fault by more than 3 intervals is still a gap
    const longer = [...every(100, 120, 5), [160, 1] as [number, number]];
    expect(jobCoverage('p', [{ metric: {}, values: longer }], 5, w, [fault]).join()).toContain('no successful scrape');
  });
  it('failed scrapes (up = 0) are not coverage; no series at all is named', () => {
    expect(jobCoverage('p', [{ metric: {}, values: every(100, 160, 5, 0) }], 5, w).join()).toContain('no successful scrape');
    expect(jobCoverage('p', [], 5, w)).toEqual([expect.stringContaining('no scrape of job "p"')]);
  });
});
