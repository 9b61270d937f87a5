// What the API and WebSocket clients of the engine get from the run: the plan, its time base, where to count, the
// clock their timers use, the environment their tokens come from, and the run's stop signal.
import type { Clock } from '../../core/clock.js';
import type { FleetConfig } from '../../sim/fleet-config.js';
import type { Stats } from '../stats.js';

export interface ClientContext {
  config: FleetConfig;
  /** when the test started (the first device step), ms since the epoch; api/ws startMs count from here */
  testStartMs: number;
  stats: Stats;
  clock: Clock;
  /** process environment (bearer tokens are read from the variable the config names; never logged) */
  env: Record<string, string | undefined>;
  /** aborts the clients early: no new arrivals, in-flight requests cancelled, sockets closed */
  signal?: AbortSignal;
}
