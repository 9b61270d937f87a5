// The record an adaptive capacity search leaves in its folder (capacity-search.json, written by
// src/run/capacity-search.ts) and the pure parts of judging it: the next step's size, the bracket, what limited it.
import type { SettleResult } from './settle.js';

export const SEARCH_FILE = 'capacity-search.json';
export const SEARCH_FORMAT = 'fleetload-capacity-search/1';

/** The fleet as a planner states it; every step runs this shape at a different device count. */
export interface FleetShape {
  intervalSec: number;
  parkedIntervalSec: number;
  recordsPerPacket: number;
  codec8eShare: number;
  /** REST API requests/s per 1,000 devices, and WebSocket clients per 1,000 devices (each step scales them) */
  apiRatePer1000: number;
  wsClientsPer1000: number;
  /** records/s one device sends: measured at the first step (parked buses send less), else from the interval */
  recordsPerDeviceSec: number;
  recordsPerDeviceSource: string;
  /** share of the time a device is parked, implied by the measured rate (null when interval = parked interval) */
  parkedShare: number | null;
}

export interface SearchPolicy {
  startDevices: number;
  maxDevices: number;
  /** factor between steps until the first failure (default 2) */
  growth: number;
  /** stop narrowing when (fail − pass) ≤ this share of fail (default 0.1) */
  resolution: number;
  /** at most this many steps after the first failure (default 4) */
  maxBisectSteps: number;
  /** engine run time of one step, s */
  holdSec: number;
  /** the whole search stops by itself before this, s */
  maxDurationSec: number;
  /** the most devices this generator may run (a user's cap on the engine); reaching it ends the search generator-bound */
  generatorMaxDevices?: number;
}

export type StepOutcome = 'pass' | 'fail' | 'generator-bound';

export interface SearchStep {
  index: number;
  name: string;
  devices: number;
  phase: 'grow' | 'bisect';
  /** ISO: the engine's load start, the end of its hold (devices stop sending) and the start of its steady part */
  start: string;
  end: string;
  steadyStart: string;
  settle: SettleResult;
  /** per-second engine figures: seconds since start, ACK p95 of that second (s), ACKed records/s, ACKed so far */
  samples: Array<{ t: number; ackP95?: number; ackedRate: number; acked?: number }>;
  /** records/s the shape offers at this count */
  offeredRate: number;
  /** records/s ACKed over the steady part (engine: ACKed count at its end − at its start, over the time between) */
  ackedRate?: number;
  /** exact ACK latency p95 of the whole step (engine summary), ms */
  ackP95Ms?: number;
  outcome: StepOutcome;
  /** the step verifier's verdict (report.json in the step folder) */
  verdict: string;
  /** objectives that missed their target (fail or warn), and the settle rule when latency still climbed */
  failed: Array<{ objective: string; value: number | null; unit: string; target: string; why: string }>;
  passed: string[];
  generatorReasons: string[];
  /** relative to the search folder */
  dir: string;
}

export interface SearchRecord {
  format: typeof SEARCH_FORMAT;
  runId: string;
  profile: string;
  shape: FleetShape;
  policy: SearchPolicy;
  startedAt: string;
  endedAt: string;
  stop: { reason: StopReason; explanation: string };
  /** how the generator was limited, when the user limited it (e.g. --max-devices, generator thresholds) */
  generatorLimit?: string;
  steps: SearchStep[];
}

/** The search as capacity.json shows it: its policy, shape, path and why it stopped. */
export type SearchSummary = Pick<SearchRecord, 'shape' | 'policy' | 'stop' | 'generatorLimit' | 'startedAt' | 'endedAt'> & {
  path: Array<{ step: string; devices: number; phase: string; outcome: string; settled: boolean; ackP95Ms?: number; ackedRate?: number; failed: string[] }>;
};

export type StopReason = 'resolved' | 'bisect-limit' | 'generator-bound' | 'max-devices' | 'time-budget' | 'no-pass';

export type NextStep = { devices: number; phase: 'grow' | 'bisect' } | { stop: StopReason; explanation: string };

/** The bracket so far: the largest passing count below the smallest failing one. */
export function bracketOf(steps: Array<{ devices: number; outcome: StepOutcome }>): { pass: number | null; fail: number | null } {
  const fails = steps.filter((s) => s.outcome === 'fail').map((s) => s.devices);
  const fail = fails.length ? Math.min(...fails) : null;
  const passes = steps.filter((s) => s.outcome === 'pass' && (fail === null || s.devices < fail)).map((s) => s.devices);
  return { pass: passes.length ? Math.max(...passes) : null, fail };
}

/**
 * The next step of the search, from the outcomes so far: geometric growth until the first failure (or the
 * generator's limit, or maxDevices), then bisection of [last pass, first fail] until it is narrower than
 * `resolution` of the failing count or maxBisectSteps steps were spent on it.
 */
export function nextStep(
  history: Array<{ devices: number; outcome: StepOutcome }>,
  p: Pick<SearchPolicy, 'startDevices' | 'maxDevices' | 'growth' | 'resolution' | 'maxBisectSteps' | 'generatorMaxDevices'>,
): NextStep {
  const cap = Math.min(p.maxDevices, p.generatorMaxDevices ?? Infinity);
  if (history.length === 0) return { devices: Math.min(p.startDevices, cap), phase: 'grow' };
  const last = history[history.length - 1];
  if (last.outcome === 'generator-bound') {
    return { stop: 'generator-bound', explanation: `the load generator reached its own limit at ${last.devices} devices: what passed below it is a lower bound of the platform's capacity` };
  }
  const { pass, fail } = bracketOf(history);
  if (fail === null) {
    const top = Math.max(...history.map((s) => s.devices));
    if (p.generatorMaxDevices !== undefined && top >= p.generatorMaxDevices && p.generatorMaxDevices < p.maxDevices) {
      return { stop: 'generator-bound', explanation: `the load generator is limited to ${p.generatorMaxDevices} devices and every step held up to it: a lower bound of the platform's capacity` };
    }
    if (top >= p.maxDevices) return { stop: 'max-devices', explanation: `every step held up to the search's maximum of ${p.maxDevices} devices: capacity is at least that` };
    return { devices: Math.min(cap, Math.max(top + 1, Math.ceil(top * p.growth))), phase: 'grow' };
  }
  const firstFailAt = history.findIndex((s) => s.outcome === 'fail');
  const spent = history.length - 1 - firstFailAt;
  const lo = pass ?? 0;
  if (fail - lo <= Math.max(1, p.resolution * fail)) {
    return { stop: 'resolved', explanation: `bracket [${pass ?? 'none'}, ${fail}] is within ${p.resolution * 100} % of ${fail} devices` };
  }
  if (spent >= p.maxBisectSteps) return { stop: 'bisect-limit', explanation: `${p.maxBisectSteps} narrowing steps spent; bracket [${pass ?? 'none'}, ${fail}]` };
  if (pass === null) {
    const smallest = Math.min(...history.map((s) => s.devices));
    if (smallest <= 1) return { stop: 'no-pass', explanation: 'even 1 device missed an SLO' };
    // nothing held yet: step down geometrically before bisecting
    return { devices: Math.max(1, Math.floor(smallest / p.growth)), phase: 'bisect' };
  }
  return { devices: Math.round((lo + fail) / 2), phase: 'bisect' };
}
