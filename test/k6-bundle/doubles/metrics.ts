// TEST DOUBLE of k6/metrics: Counter, Gauge, Rate and Trend that record every sample in the shared double state.
import { k6Double, type DoubleMetric } from './state.js';

abstract class Metric {
  private readonly sink: DoubleMetric;

  constructor(
    readonly name: string,
    type: DoubleMetric['type'],
    isTime = false,
  ) {
    const existing = k6Double.metrics.get(name);
    if (existing && existing.type !== type) throw new Error(`k6/metrics double: ${name} declared as ${existing.type} and as ${type}`);
    this.sink = existing ?? { type, isTime, samples: [] };
    k6Double.metrics.set(name, this.sink);
  }

  add(value: number | boolean, tags: Record<string, string> = {}): void {
    const v = typeof value === 'boolean' ? (value ? 1 : 0) : value;
    if (!Number.isFinite(v)) throw new Error(`k6/metrics double: ${this.name} got a non-finite value ${String(value)}`);
    this.sink.samples.push({ value: v, tags: { ...tags } });
  }
}

export class Counter extends Metric {
  constructor(name: string) {
    super(name, 'counter');
  }
}
export class Gauge extends Metric {
  constructor(name: string) {
    super(name, 'gauge');
  }
}
export class Rate extends Metric {
  constructor(name: string) {
    super(name, 'rate');
  }
}
export class Trend extends Metric {
  constructor(name: string, isTime?: boolean) {
    super(name, 'trend', isTime);
  }
}
