// When API arrivals are due (the open model of k6's constant- and ramping-arrival-rate executors), and a sleep that
// a stopping run does not have to wait out.
// Boundary rule, both modes: N(t) = ∫₀ᵗ rate is the offered count; arrival k (k = 0, 1, 2 …) is due at the first t
// with N(t) = k, and only arrivals due strictly inside [0, window) happen. So a run offers exactly ⌈N(window)⌉
// arrivals: 20 req/s for 2 s → 40 (at 0, 50, …, 1950 ms); a ramp 0 → 10 req/s over 2 s → N = 10 → 10 (the first at 0).
// A stage whose rate stays 0 offers nothing.
import type { Clock } from '../../core/clock.js';
import type { ApiClientConfig } from '../../sim/fleet-config.js';

/** How long the API arrivals run (ms after api.startMs): durationMs, or the stages' total when shorter. */
export function arrivalWindowMs(api: Pick<ApiClientConfig, 'durationMs' | 'stages'>): number {
  if (!api.stages || api.stages.length === 0) return Math.max(0, api.durationMs);
  const stageSum = api.stages.reduce((s, x) => s + Math.max(0, x.durationMs), 0);
  return Math.max(0, Math.min(api.durationMs, stageSum));
}

/** Offsets (ms after the API start) at which arrivals are due, in order. */
export function* arrivalOffsets(api: Pick<ApiClientConfig, 'durationMs' | 'stages' | 'rate'>): Generator<number> {
  const window = arrivalWindowMs(api);
  if (api.stages && api.stages.length > 0) {
    yield* rampingOffsets(api.stages, window);
    return;
  }
  const rate = api.rate ?? 1;
  if (!(rate > 0)) return;
  for (let k = 0; ; k++) {
    const t = (k * 1000) / rate;
    if (t >= window) return;
    yield t;
  }
}

/**
 * Stages ramp linearly from the previous target (0 before the first, as k6's startRate: 0). Within a stage of d
 * seconds from r0 to r1, N(t) = r0·t + (r1 − r0)·t²/(2d); the arrival c into the stage is due at the root
 * t = 2c / (r0 + √(r0² + 2(r1 − r0)c/d)), the form that stays exact when r1 = r0 and never divides by zero.
 */
function* rampingOffsets(stages: Array<{ target: number; durationMs: number }>, window: number): Generator<number> {
  let r0 = 0;
  let stageStart = 0; // ms
  let before = 0; // arrivals offered before this stage (N at its start)
  let k = 0;
  for (const stage of stages) {
    const d = Math.max(0, stage.durationMs) / 1000;
    const r1 = Math.max(0, stage.target);
    // a stage at rate 0 throughout offers nothing (not even the arrival whose count was reached as it began)
    for (; r0 > 0 || r1 > 0; ) {
      const c = k - before;
      const disc = r0 * r0 + (2 * (r1 - r0) * c) / (d || 1);
      const t = c <= 0 ? 0 : disc < 0 || r0 + Math.sqrt(disc) <= 0 ? Infinity : (2 * c) / (r0 + Math.sqrt(disc));
      if (t >= d) break;
      const at = stageStart + t * 1000;
      if (at >= window) return;
      yield at;
      k++;
    }
    before += ((r0 + r1) / 2) * d;
    stageStart += d * 1000;
    r0 = r1;
  }
}

/** Longest single timer: a stopping run waits at most this long for a sleeper to notice. */
const SLEEP_SLICE_MS = 250;

/** Sleeps on `clock` until `at` (ms), in slices, returning early once `stopped()` is true. */
export async function sleepUntil(clock: Clock, at: number, stopped: () => boolean): Promise<void> {
  for (;;) {
    if (stopped()) return;
    const left = at - clock.now();
    if (left <= 0) return;
    await clock.sleep(Math.min(left, SLEEP_SLICE_MS));
  }
}
