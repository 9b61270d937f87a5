// Deterministic randomness for the device model: everything a simulated device does depends only on the run seed,
// its index and time, so runs are reproducible and shards agree without talking to each other.
// No Node APIs (the k6 bundle uses this file too).

/** A 32-bit hash of (seed, a, b); stable across runtimes. */
export function hash32(seed: number, a: number, b: number): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  h = Math.imul(h ^ (a >>> 0), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13) ^ (b >>> 0), 0xc2b2ae35) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x27d4eb2d) >>> 0;
  h ^= h >>> 15;
  return h >>> 0;
}

/** hash32 scaled to [0, 1). */
export function unit(seed: number, a: number, b: number): number {
  return hash32(seed, a, b) / 0x1_0000_0000;
}

/** A value in [lo, hi) picked by (seed, a, b). */
export function between(seed: number, a: number, b: number, lo: number, hi: number): number {
  return lo + unit(seed, a, b) * (hi - lo);
}

/** mulberry32: a small, fast, seedable generator for per-device sequences (jitter, link drops). */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 0x1_0000_0000;
  }

  /** Exponentially distributed with the given mean (a Poisson process's gaps). */
  exponential(mean: number): number {
    return -Math.log(1 - this.next()) * mean;
  }
}
