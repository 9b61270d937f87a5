// The k6 `options` for a fleet config: one per-vu-iterations scenario per step of devices (each step ADDS devices,
// all of them run until the end), plus the API clients (open model: constant- or ramping-arrival-rate) and the
// WebSocket clients. Plain data, so Node tests can check it; scenarios/devices.ts exports it as k6 options.
import type { FleetConfig } from './fleet-config.js';
import { stepScenarios } from './fleet-config.js';

export const SUMMARY_TREND_STATS = ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)', 'count'];

/** How long devices may keep delivering their backlog after the deadline. */
export function drainMs(c: Pick<FleetConfig, 'drainMs' | 'ackTimeoutMs'>): number {
  return c.drainMs ?? Math.min(c.ackTimeoutMs, 10_000);
}

/** A rate in requests per second as k6's integer rate + timeUnit. */
export function arrivalRate(perSec: number): { rate: number; timeUnit: string } {
  if (Number.isInteger(perSec)) return { rate: perSec, timeUnit: '1s' };
  return { rate: Math.max(1, Math.round(perSec * 60)), timeUnit: '1m' };
}

export function k6Options(c: FleetConfig): { scenarios: Record<string, Record<string, unknown>>; summaryTrendStats: string[] } {
  const durationMs = c.durationSec * 1000;
  const scenarios: Record<string, Record<string, unknown>> = {};
  for (const s of stepScenarios(c)) {
    scenarios[s.name] = {
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
  if (c.api && c.httpUrl && c.api.endpoints.length > 0) {
    const a = c.api;
    const base = { exec: 'api', startTime: `${a.startMs}ms`, preAllocatedVUs: a.preAllocatedVUs, maxVUs: a.maxVUs, gracefulStop: '10s' };
    if (a.stages && a.stages.length > 0) {
      // ramping-arrival-rate takes integer targets per timeUnit; per minute keeps fractional rates
      scenarios.api = {
        ...base,
        executor: 'ramping-arrival-rate',
        startRate: 0,
        timeUnit: '1m',
        stages: a.stages.map((s) => ({ target: Math.round(s.target * 60), duration: `${s.durationMs}ms` })),
      };
    } else {
      scenarios.api = { ...base, executor: 'constant-arrival-rate', ...arrivalRate(a.rate ?? 1), duration: `${a.durationMs}ms` };
    }
  }
  if (c.ws && c.httpUrl && c.ws.clients > 0) {
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
  return { scenarios, summaryTrendStats: SUMMARY_TREND_STATS };
}
