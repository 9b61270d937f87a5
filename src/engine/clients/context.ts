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
  /**
   * When the run keeps an ACK ledger, WebSocket clients hand their counting windows and the records they received
   * here, and the engine counts expected / received / missed from the ledger once every device has finished: a
   * record is expected when the platform ACKed it early enough to reach the client. Without it, clients count
   * expected records from the device model (what devices acquired), which cannot know what link losses held back.
   */
  wsWindows?: WsWindow[];
}

export interface WsWindow {
  /** subscribed device indices, or every device of the fleet */
  devices: number[] | 'all';
  /** record timestamps counted: [from, to] */
  from: number;
  to: number;
  /** a record ACKed after this could not reach the client before it closed */
  deliverBy: number;
  /** record timestamps received in the window, by IMEI */
  received: Map<string, Set<number>>;
}
