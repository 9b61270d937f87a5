// TEST DOUBLE state shared by the k6 module doubles (bundled into each copy of the test script) and the test itself:
// one object on globalThis, so every bundled copy (one per simulated VU) records into the same place.
export interface DoubleSample {
  value: number;
  tags: Record<string, string>;
}

export interface DoubleMetric {
  type: 'counter' | 'gauge' | 'rate' | 'trend';
  isTime: boolean;
  samples: DoubleSample[];
}

export interface DoubleExecution {
  scenario: { name: string; iterationInTest: number; startTime: number };
  vu: { idInTest: number };
}

export interface K6DoubleState {
  metrics: Map<string, DoubleMetric>;
  /** sockets not yet destroyed (an open one would keep a real k6 iteration alive) */
  openSockets: Set<unknown>;
  socketsCreated: number;
  /** what the script passed to write(): 'arraybuffer' | 'string' | anything else it tried */
  writeKinds: Map<string, number>;
  exec: DoubleExecution;
}

const g = globalThis as { __fleetloadK6Double?: K6DoubleState };

export const k6Double: K6DoubleState = (g.__fleetloadK6Double ??= {
  metrics: new Map(),
  openSockets: new Set(),
  socketsCreated: 0,
  writeKinds: new Map(),
  exec: { scenario: { name: '', iterationInTest: 0, startTime: 0 }, vu: { idInTest: 0 } },
});

export function resetK6Double(): void {
  k6Double.metrics.clear();
  k6Double.openSockets.clear();
  k6Double.socketsCreated = 0;
  k6Double.writeKinds.clear();
}

/** Sum of a counter's samples (optionally only those with a tag value). */
export function counterSum(name: string, tag?: [string, string]): number {
  const m = k6Double.metrics.get(name);
  return (m?.samples ?? []).filter((s) => !tag || s.tags[tag[0]] === tag[1]).reduce((a, s) => a + s.value, 0);
}

export function sampleCount(name: string): number {
  return k6Double.metrics.get(name)?.samples.length ?? 0;
}
