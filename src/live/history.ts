// The run so far, for a page opened (or reloaded) mid-run: at most `max` points, whatever the run's length. When
// full, neighbouring pairs merge into one point (latencies by max, so a spike survives; rates and gauges by mean) and
// from then on every stored point stands for twice as many ticks (the stride): the history always covers the whole
// run at one even resolution that halves as the run grows — an 8-hour soak at a tick a second keeps about 1,800
// points of 16 s each. Ticks not yet making up a whole stride wait in `pending` (sent to a new page too).
import { FIELDS, MAX_FIELDS, type Point } from './figures.js';

export const HISTORY_MAX_POINTS = 2000;

const MAX_COLUMNS = FIELDS.map((f) => MAX_FIELDS.has(f));

export class History {
  private points: Point[] = [];
  private waiting: Point[] = [];
  /** ticks per stored point: a power of two */
  stride = 1;

  readonly max: number;

  constructor(max = HISTORY_MAX_POINTS) {
    if (max < 2) throw new Error(`history needs room for at least 2 points, got ${max}`);
    this.max = max + (max % 2);
  }

  add(p: Point): void {
    this.waiting.push(p);
    if (this.waiting.length < this.stride) return;
    let merged = this.waiting;
    while (merged.length > 1) merged = decimate(merged);
    this.waiting = [];
    this.points.push(merged[0]);
    // halved when it reaches max (even): pairs only, no odd point left at a finer resolution
    if (this.points.length >= this.max) {
      this.points = decimate(this.points);
      this.stride *= 2;
    }
  }

  all(): readonly Point[] {
    return this.points;
  }

  pending(): readonly Point[] {
    return this.waiting;
  }

  get length(): number {
    return this.points.length;
  }
}

/** Pairs → one point each (an odd last point stays as it is, being the newest). The time is the later one's. */
export function decimate(points: readonly Point[]): Point[] {
  const out: Point[] = [];
  for (let i = 0; i + 1 < points.length; i += 2) out.push(mergePair(points[i], points[i + 1]));
  if (points.length % 2 === 1) out.push(points[points.length - 1]);
  return out;
}

function mergePair(a: Point, b: Point): Point {
  return b.map((vb, i) => {
    const va = a[i];
    if (i === 0) return vb; // t
    if (va === null) return vb;
    if (vb === null) return va;
    return MAX_COLUMNS[i] ? Math.max(va, vb) : Number(((va + vb) / 2).toPrecision(4));
  });
}
