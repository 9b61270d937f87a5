// The k6 `options` of the bundle: one per-vu-iterations scenario per step of devices (each step ADDS devices, all of
// them run until the end, a VU drives a block of devicesPerVu devices), the API clients (open model: constant- or
// ramping-arrival-rate, `connections` VUs at most, so an arrival finding all busy is dropped as in the engine), the
// WebSocket clients, the thresholds derived from the SLO file and the run's testid tag. Plain data from plain data,
// so it stays easy to check; typed against @types/k6's Options.
import type { Scenario } from 'k6/options';
import { drainMs, stepRanges, type FleetConfig } from '../../../src/sim/fleet-config';
import { clientsOf, type BundleSettings } from './settings';

export const SUMMARY_TREND_STATS = ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)', 'count'];

export interface StepScenario {
  name: string;
  step: number;
  /** first device index of the step, one past its last */
  from: number;
  to: number;
  startMs: number;
  vus: number;
}

/** The device step scenarios: step_1, step_2, … with one VU per block of devicesPerVu devices. */
export function stepScenarios(c: FleetConfig, devicesPerVu: number): StepScenario[] {
  const per = Math.max(1, Math.floor(devicesPerVu));
  return stepRanges(c).map((s) => ({ name: `step_${s.step}`, step: s.step, from: s.from, to: s.to, startMs: s.startMs, vus: Math.ceil((s.to - s.from) / per) }));
}

/**
 * The devices of one iteration of a step scenario. The block is picked by exec.scenario.iterationInTest, which k6
 * keeps disjoint across instances given the same --execution-segment-sequence (k6-operator passes it), so no IMEI is
 * simulated twice in a distributed run.
 */
export function devicesOfIteration(s: Pick<StepScenario, 'from' | 'to'>, devicesPerVu: number, iterationInTest: number): { from: number; to: number } {
  const per = Math.max(1, Math.floor(devicesPerVu));
  const from = Math.min(s.to, s.from + iterationInTest * per);
  return { from, to: Math.min(s.to, from + per) };
}

/** A rate in requests per second as k6's integer rate + timeUnit. */
export function arrivalRate(perSec: number): { rate: number; timeUnit: string } {
  if (Number.isInteger(perSec)) return { rate: perSec, timeUnit: '1s' };
  return { rate: Math.max(1, Math.round(perSec * 60)), timeUnit: '1m' };
}

export interface BundleOptions {
  scenarios: Record<string, Scenario>;
  thresholds: Record<string, string[]>;
  tags: Record<string, string>;
  summaryTrendStats: string[];
}

function deviceScenarios(c: FleetConfig, devicesPerVu: number): Record<string, Scenario> {
  const durationMs = c.durationSec * 1000;
  const out: Record<string, Scenario> = {};
  for (const s of stepScenarios(c, devicesPerVu)) {
    out[s.name] = {
      executor: 'per-vu-iterations',
      exec: 'devices',
      vus: s.vus,
      iterations: 1,
      startTime: `${s.startMs}ms`,
      // every device stops by itself at the deadline (plus the backlog drain); this is only the hard stop behind it
      maxDuration: `${Math.max(1000, durationMs - s.startMs) + drainMs(c) + c.ackTimeoutMs + 30_000}ms`,
      gracefulStop: '15s',
      tags: { step: String(s.step) },
    };
  }
  return out;
}

function apiScenario(c: FleetConfig): Scenario | undefined {
  const a = c.api;
  if (!a || !clientsOf(c).api) return undefined;
  const base = { exec: 'api' as const, startTime: `${a.startMs}ms`, preAllocatedVUs: a.connections, maxVUs: a.connections, gracefulStop: '10s' };
  if (a.stages && a.stages.length > 0) {
    // ramping-arrival-rate takes integer targets per timeUnit; per minute keeps fractional rates
    return {
      ...base,
      executor: 'ramping-arrival-rate',
      startRate: 0,
      timeUnit: '1m',
      stages: a.stages.map((s) => ({ target: Math.round(s.target * 60), duration: `${s.durationMs}ms` })),
    };
  }
  return { ...base, executor: 'constant-arrival-rate', ...arrivalRate(a.rate ?? 1), duration: `${a.durationMs}ms` };
}

/** Thresholds of the clients that run, merged per metric. */
export function thresholdsFor(s: Pick<BundleSettings, 'thresholds'>, c: FleetConfig): Record<string, string[]> {
  const clients = clientsOf(c);
  const out: Record<string, string[]> = {};
  for (const t of s.thresholds) {
    if (t.requires && !clients[t.requires]) continue;
    out[t.metric] = [...(out[t.metric] ?? []), ...t.expressions.filter((e) => !(out[t.metric] ?? []).includes(e))];
  }
  return out;
}

export function bundleOptions(s: BundleSettings, c: FleetConfig): BundleOptions {
  const scenarios = deviceScenarios(c, s.devicesPerVu);
  const api = apiScenario(c);
  if (api) scenarios.api = api;
  if (c.ws && clientsOf(c).ws) {
    scenarios.ws = {
      executor: 'per-vu-iterations',
      exec: 'ws',
      vus: c.ws.clients,
      iterations: 1,
      startTime: `${c.ws.startMs}ms`,
      maxDuration: `${c.ws.durationMs + 60_000}ms`,
      gracefulStop: '10s',
    };
  }
  // testid = run id on every sample, as fleetload's own runs label theirs (run_id): the verifier and dashboards select by it
  return { scenarios, thresholds: thresholdsFor(s, c), tags: { testid: c.runId }, summaryTrendStats: SUMMARY_TREND_STATS };
}
