// A knee only where there is one: latency of a step counts as risen only when it lies beyond the measurement
// noise of every step below it. The noise is the spread of the per-window samples inside those steps (ACK p95 of
// each second, or of each few seconds), never one p95 per step: six per-step p95s of 130–141 ms are one flat line.

export interface StepSamples {
  devices: number;
  name?: string;
  /** per-window figures inside the step's steady part (e.g. ACK p95 of each second), in one unit */
  samples: number[];
}

export interface NoiseKneeOptions {
  /** how many standard deviations of the lower steps' samples a rise must exceed (default 3) */
  z?: number;
  /** a rise must also exceed this share of the lower steps' mean (default 0.2): bucket quantisation can make sd 0 */
  minRelativeRise?: number;
  /** samples a step needs to count (default 3) */
  minSamples?: number;
}

export interface KneeCheck {
  found: boolean;
  method: 'noise';
  /** the first step whose latency lies beyond the noise of the steps below it (and every later step stays there) */
  index?: number;
  x?: number;
  /** that step's median sample */
  y?: number;
  /** the last step still within the noise (the flat part ends here) */
  lastFlat?: { devices: number; median: number };
  /** the lower steps' samples: mean, standard deviation, the threshold the rise crossed */
  baseline?: { mean: number; sd: number; threshold: number; steps: number; samples: number };
  /** (median − mean) / sd; Infinity when sd is 0 */
  strength?: number;
  explanation: string;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function meanSd(xs: number[]): { mean: number; sd: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const v = xs.length > 1 ? xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (xs.length - 1) : 0;
  return { mean, sd: Math.sqrt(v) };
}

const f = (v: number) => Number(v.toPrecision(3)).toString();

/**
 * Walks the steps from the smallest load. Step k has risen when its median sample exceeds
 * mean + max(z·sd, minRelativeRise·mean) of all samples of steps 0..k−1 — and every step above k does too (one
 * high step followed by normal ones is noise, not a knee). The knee is the first such step.
 */
export function noiseKnee(steps: StepSamples[], o: NoiseKneeOptions = {}, unit = 's'): KneeCheck {
  const z = o.z ?? 3;
  const minRel = o.minRelativeRise ?? 0.2;
  const minSamples = o.minSamples ?? 3;
  const usable = steps.filter((s) => s.samples.filter(Number.isFinite).length >= minSamples).sort((a, b) => a.devices - b.devices);
  if (usable.length < 2) {
    return { found: false, method: 'noise', explanation: `no knee can be judged: ${usable.length} step(s) with at least ${minSamples} latency samples (2 needed)` };
  }
  const levels = usable.map((s) => median(s.samples.filter(Number.isFinite)));
  const below: number[] = [];
  for (let k = 1; k < usable.length; k++) {
    below.push(...usable[k - 1].samples.filter(Number.isFinite));
    const { mean, sd } = meanSd(below);
    const threshold = mean + Math.max(z * sd, minRel * Math.abs(mean));
    const excess = levels[k] - threshold;
    if (excess <= 0) continue;
    // persistence: every higher load stays above this threshold
    if (!levels.slice(k + 1).every((l) => l > threshold)) continue;
    const prev = usable[k - 1];
    return {
      found: true,
      method: 'noise',
      index: k,
      x: usable[k].devices,
      y: levels[k],
      lastFlat: { devices: prev.devices, median: levels[k - 1] },
      baseline: { mean, sd, threshold, steps: k, samples: below.length },
      strength: sd > 0 ? (levels[k] - mean) / sd : Infinity,
      explanation:
        `latency rises beyond the noise at ${usable[k].devices} devices: median sample ${f(levels[k])} ${unit} against ` +
        `${f(mean)} ± ${f(sd)} ${unit} over the ${below.length} samples of the ${k} step(s) below (threshold ${f(threshold)} ${unit} = ` +
        `mean + max(${z} sd, ${minRel * 100} %)); flat up to ${prev.devices} devices`,
    };
  }
  const all = meanSd(usable.flatMap((s) => s.samples.filter(Number.isFinite)));
  return {
    found: false,
    method: 'noise',
    explanation:
      `no knee within the tested range (${usable[0].devices}–${usable[usable.length - 1].devices} devices): no step's median latency ` +
      `lies beyond mean + max(${z} sd, ${minRel * 100} %) of the samples of the steps below it and stays there ` +
      `(all samples ${f(all.mean)} ± ${f(all.sd)} ${unit})`,
  };
}
