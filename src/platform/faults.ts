// Fault knobs: deliberate misbehaviour so that a run can prove the verifier catches it. All off by default,
// changeable at run time (POST /admin/faults), and logged at warn level whenever one is on.
import type { Logger } from 'pino';
import type { Metrics } from './metrics.js';

export interface FaultSettings {
  /** Extra latency added to every /v1/* HTTP request, in ms. */
  httpLatencyMs: number;
  /** Share (0..1) of /v1/* HTTP requests answered with 500 instead of being served. */
  httpErrorRatio: number;
  /** Share (0..1) of records that are acknowledged (TCP ACK / HTTP 200) but never stored: a data-loss bug. */
  ackedNotStoredRatio: number;
  /**
   * Share (0..1) of records stored twice, bypassing dedupe. The primary key (device_id, timestamp) makes a
   * true duplicate impossible, so the second copy is stored with timestamp + 1 ms and otherwise identical
   * columns: a reader sees two rows for one sent record (row count above distinct records sent, and two
   * rows of one device 1 ms apart with the same position), which is what a duplicate check must flag.
   */
  duplicateRatio: number;
  /** Extra delay inside each batch insert (counted in db_batch_insert_duration_seconds), in ms. */
  insertDelayMs: number;
  /** Device TCP connections reset (RST) per second, picked at random among logged-in connections. */
  tcpResetPerSec: number;
}

export const NO_FAULTS: Readonly<FaultSettings> = Object.freeze({
  httpLatencyMs: 0,
  httpErrorRatio: 0,
  ackedNotStoredRatio: 0,
  duplicateRatio: 0,
  insertDelayMs: 0,
  tcpResetPerSec: 0,
});

const RATIOS = new Set<keyof FaultSettings>(['httpErrorRatio', 'ackedNotStoredRatio', 'duplicateRatio']);
const LIMITS: Record<keyof FaultSettings, number> = {
  httpLatencyMs: 600_000,
  httpErrorRatio: 1,
  ackedNotStoredRatio: 1,
  duplicateRatio: 1,
  insertDelayMs: 600_000,
  tcpResetPerSec: 100_000,
};

/** Validates a partial fault object (from flags or JSON); throws an Error with a message meant for a person. */
export function parseFaults(input: unknown): Partial<FaultSettings> {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) throw new Error('faults must be a JSON object');
  const out: Partial<FaultSettings> = {};
  for (const [k, v] of Object.entries(input as Record<string, unknown>)) {
    if (!(k in NO_FAULTS)) throw new Error(`unknown fault knob "${k}" (known: ${Object.keys(NO_FAULTS).join(', ')})`);
    const key = k as keyof FaultSettings;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > LIMITS[key]) {
      throw new Error(`fault knob ${k} must be a number from 0 to ${LIMITS[key]}${RATIOS.has(key) ? ' (a ratio)' : ''}`);
    }
    out[key] = v;
  }
  return out;
}

export class Faults {
  private state: FaultSettings = { ...NO_FAULTS };
  private readonly listeners: Array<(f: Readonly<FaultSettings>) => void> = [];

  constructor(
    private readonly log: Logger,
    private readonly metrics: Metrics,
    initial: Partial<FaultSettings> = {},
    private readonly random: () => number = Math.random,
  ) {
    this.update(initial);
  }

  get current(): Readonly<FaultSettings> {
    return this.state;
  }

  update(patch: Partial<FaultSettings>): Readonly<FaultSettings> {
    this.state = { ...this.state, ...patch };
    for (const [k, v] of Object.entries(this.state)) this.metrics.faultActive.set({ knob: k }, v);
    const on = Object.fromEntries(Object.entries(this.state).filter(([, v]) => v !== 0));
    if (Object.keys(on).length > 0) this.log.warn({ faults: on }, 'FAULT INJECTION ACTIVE: the platform misbehaves on purpose');
    else if (Object.keys(patch).length > 0) this.log.info('fault injection off');
    for (const l of this.listeners) l(this.state);
    return this.state;
  }

  onChange(fn: (f: Readonly<FaultSettings>) => void): void {
    this.listeners.push(fn);
  }

  /** True with probability `ratio`. */
  roll(ratio: number): boolean {
    return ratio > 0 && (ratio >= 1 || this.random() < ratio);
  }
}
