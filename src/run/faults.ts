// Fault runs: a profile's `faults:` list (restart PostgreSQL, SIGKILL + restart the platform, drop every device link,
// pause the platform) turned into a timed plan (pure), and a small executor that carries the plan out against the
// embedded stack while k6 runs, logging every action loudly and recording when it really started and ended.
// The verifier then proves nothing ACKed was lost or duplicated; devices measure their recovery (fleet_recovery_time).
import { systemClock, type Clock } from '../core/clock.js';
import type { FaultRecord } from '../core/manifest.js';
import type { EmbeddedStack } from '../stack/embedded-stack.js';
import { parseDurationMs } from './duration.js';

export const FAULT_ACTIONS = ['restart-postgres', 'kill-platform', 'drop-device-links', 'pause-platform'] as const;
export type FaultAction = (typeof FAULT_ACTIONS)[number];

/** Downtime / pause length / reconnect refusal when a fault gives no duration. */
export const DEFAULT_FAULT_DURATION_MS: Record<FaultAction, number> = {
  'restart-postgres': 2000,
  'kill-platform': 2000,
  'drop-device-links': 0,
  'pause-platform': 5000,
};

/** One validated `faults:` entry: `at` is ms after the load start, or a fraction of the duration when given as a %. */
export interface FaultSpec {
  action: FaultAction;
  /** as written in the profile (30s, 40%) */
  at: string;
  atMs?: number;
  atFraction?: number;
  durationMs: number;
}

export interface RawFault {
  action: string;
  at: string;
  duration?: string;
}

/**
 * Validates a profile's faults (the schema has checked the shapes) against its duration. `fail(path, msg)` builds
 * the bad-input error with the file and line of `path` (e.g. ['faults', 0, 'at']).
 */
export function parseFaultSpecs(raw: RawFault[], durationMs: number, fail: (path: Array<string | number>, msg: string) => Error): FaultSpec[] {
  return raw.map((f, i) => {
    if (!(FAULT_ACTIONS as readonly string[]).includes(f.action)) {
      throw fail(['faults', i, 'action'], `faults.${i}.action: expected one of ${FAULT_ACTIONS.join(', ')}`);
    }
    const action = f.action as FaultAction;
    const d = f.duration !== undefined ? parseDurationMs(f.duration) : DEFAULT_FAULT_DURATION_MS[action];
    if (d === undefined) throw fail(['faults', i, 'duration'], `faults.${i}.duration: expected a duration such as 500ms, 30s, 5m or 2h`);
    if (f.at.endsWith('%')) {
      const frac = Number(f.at.slice(0, -1)) / 100;
      if (!(frac >= 0 && frac < 1)) throw fail(['faults', i, 'at'], `faults.${i}.at: a percentage must be below 100%`);
      return { action, at: f.at, atFraction: frac, durationMs: d };
    }
    const atMs = parseDurationMs(f.at);
    if (atMs === undefined) throw fail(['faults', i, 'at'], `faults.${i}.at: expected a duration such as 30s or a percentage of the duration such as 40%`);
    if (atMs >= durationMs) throw fail(['faults', i, 'at'], `faults.${i}.at: ${f.at} is not before the end of the run (${durationMs / 1000}s)`);
    if (atMs + d >= durationMs) {
      throw fail(['faults', i, 'duration'], `faults.${i}.duration: the fault would last until ${(atMs + d) / 1000}s, past the end of the run (${durationMs / 1000}s)`);
    }
    return { action, at: f.at, atMs, durationMs: d };
  });
}

export interface PlannedFault {
  action: FaultAction;
  at: string;
  /** ms after the load start */
  atMs: number;
  durationMs: number;
}

/**
 * The timed plan for a run of `runDurationMs` (after a --duration override) of a profile written for
 * `profileDurationMs`, in time order. Percentages follow the run's duration; absolute times stay as written while they
 * fit and are scaled with the duration when they do not (so their order and spacing survive a short --duration); a
 * downtime is cut so the fault ends at least 1 s before the load does (as the reconnect storm's offline time is).
 */
export function planFaults(specs: FaultSpec[], profileDurationMs: number, runDurationMs: number): PlannedFault[] {
  return specs
    .map((s) => {
      let atMs = s.atFraction !== undefined ? Math.round(s.atFraction * runDurationMs) : (s.atMs ?? 0);
      if (s.atFraction === undefined && atMs >= runDurationMs) atMs = Math.round((atMs * runDurationMs) / profileDurationMs);
      const durationMs = s.durationMs === 0 ? 0 : Math.min(s.durationMs, Math.max(1000, runDurationMs - atMs - 1000));
      return { action: s.action, at: s.at, atMs, durationMs };
    })
    .sort((a, b) => a.atMs - b.atMs);
}

/** What a fault does to the stack; the embedded stack's implementation is embeddedFaultTarget. */
export interface FaultTarget {
  restartPostgres(downMs: number): Promise<void>;
  /** SIGKILL the platform and wait until it is gone */
  killPlatform(): Promise<void>;
  /** start the platform again on the same ports */
  startPlatform(): Promise<void>;
  pausePlatform(): void;
  resumePlatform(): void;
  /** resets every device link; returns how many */
  dropDeviceLinks(refuseMs: number): Promise<number>;
}

/** A fault as it happened, for run.json. */

export interface FaultRunnerOptions {
  log: (line: string) => void;
  /** resolves with the load start (ms since epoch) that `atMs` counts from */
  loadStart: Promise<number>;
  /** time is a parameter: tests drive a ManualClock instead of sleeping */
  clock?: Clock;
}

export interface FaultRunner {
  /** Cancels faults not yet started, waits for the running one to restore the stack, returns every record. */
  stop(): Promise<FaultRecord[]>;
}

/** Runs the plan one fault after the other (a fault starts at its time or when the previous one has ended). */
export function startFaultRunner(plan: PlannedFault[], target: FaultTarget, o: FaultRunnerOptions): FaultRunner {
  const clock = o.clock ?? systemClock;
  const now = () => clock.now();
  const records: FaultRecord[] = plan.map((p) => ({ action: p.action, at: p.at, plannedAtMs: p.atMs, durationMs: p.durationMs }));
  let stopped = false;
  let stopNow: () => void = () => {};
  const stopSignal = new Promise<void>((r) => (stopNow = r));
  // waiting for a fault's time is cancelled by stop(); a fault's own downtime is not: a fault always restores
  const sleep = (ms: number) => Promise.race([clock.sleep(ms), stopSignal]);
  const hold = (ms: number) => clock.sleep(ms);
  const done = (async () => {
    const t0 = await Promise.race([o.loadStart, stopSignal.then(now)]);
    for (let i = 0; i < plan.length; i++) {
      const p = plan[i];
      const rec = records[i];
      // Node timers may fire a millisecond before Date.now() reaches the due time: never start a fault early
      while (!stopped && now() < t0 + p.atMs) await sleep(t0 + p.atMs - now());
      if (stopped) {
        rec.skipped = 'the load ended before this fault was due';
        continue;
      }
      const started = now();
      rec.start = new Date(started).toISOString();
      rec.startOffsetMs = started - t0;
      const tag = `FAULT ${i + 1}/${plan.length} ${p.action}`;
      o.log(`>>> ${tag} at +${((started - t0) / 1000).toFixed(1)}s (planned ${p.at} → +${(p.atMs / 1000).toFixed(1)}s)${p.durationMs ? `, ${p.durationMs / 1000}s` : ''}`);
      try {
        switch (p.action) {
          case 'restart-postgres':
            await target.restartPostgres(p.durationMs);
            rec.detail = `PostgreSQL stopped, down ${p.durationMs / 1000}s, started again`;
            break;
          case 'kill-platform':
            await target.killPlatform();
            o.log(`>>> ${tag}: platform SIGKILLed at +${((now() - t0) / 1000).toFixed(1)}s`);
            await hold(p.durationMs);
            await target.startPlatform();
            rec.detail = `platform SIGKILLed, down ${p.durationMs / 1000}s, restarted on the same ports`;
            break;
          case 'drop-device-links': {
            const n = await target.dropDeviceLinks(p.durationMs);
            rec.detail = `${n} device links reset${p.durationMs ? `, reconnects refused for ${p.durationMs / 1000}s` : ''}`;
            await hold(p.durationMs);
            break;
          }
          case 'pause-platform':
            target.pausePlatform();
            try {
              await hold(p.durationMs);
            } finally {
              target.resumePlatform();
            }
            rec.detail = `platform SIGSTOPped for ${p.durationMs / 1000}s, then SIGCONT`;
            break;
        }
      } catch (e) {
        rec.error = e instanceof Error ? e.message : String(e);
      }
      rec.end = new Date(now()).toISOString();
      o.log(`>>> ${tag} ${rec.error ? `FAILED: ${rec.error}` : `done at +${((now() - t0) / 1000).toFixed(1)}s: ${rec.detail}`}`);
    }
  })();
  return {
    async stop() {
      stopped = true;
      stopNow();
      await done;
      return records;
    },
  };
}

/** The faults carried out on the embedded stack: PostgreSQL restart, platform SIGKILL/SIGSTOP, the admin link drop. */
export function embeddedFaultTarget(stack: EmbeddedStack, apiToken = process.env.FLEET_API_TOKEN): FaultTarget {
  return {
    restartPostgres: (downMs) => stack.pg.restart(downMs),
    async killPlatform() {
      const child = stack.platform.child;
      if (child.exitCode !== null || child.signalCode !== null) return;
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      });
    },
    async startPlatform() {
      await stack.restartPlatform();
    },
    pausePlatform: () => void stack.platform.child.kill('SIGSTOP'),
    resumePlatform: () => void stack.platform.child.kill('SIGCONT'),
    async dropDeviceLinks(refuseMs) {
      const res = await fetch(`http://127.0.0.1:${stack.platform.httpPort}/admin/disconnect-devices`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(apiToken ? { authorization: `Bearer ${apiToken}` } : {}) },
        body: JSON.stringify({ refuseMs }),
        signal: AbortSignal.timeout(10_000),
      });
      if (!res.ok) throw new Error(`POST /admin/disconnect-devices answered ${res.status}: ${await res.text()}`);
      return ((await res.json()) as { dropped: number }).dropped;
    },
  };
}

/**
 * When the load really started: the platform's first accepted device connection (tcp_connections_total > 0 on its
 * /metrics), polled from k6's start; falls back to `fallbackMs` (k6's start) when that does not show within 15 s.
 */
export async function firstDeviceConnection(httpPort: number, fallbackMs: number, timeoutMs = 15_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`, { signal: AbortSignal.timeout(2000) })).text();
      const m = /^tcp_connections_total(?:\{[^}]*\})? ([0-9.e+]+)$/m.exec(text);
      if (m && Number(m[1]) > 0) return Date.now();
    } catch {
      // not answering yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return fallbackMs;
}
