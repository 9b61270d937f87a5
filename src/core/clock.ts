// Time as a parameter: the engine, the fault scheduler and their timers take a Clock, so a test whose subject is
// timing drives a manual clock instead of sleeping.

export interface Clock {
  /** milliseconds since the epoch */
  now(): number;
  /** resolves after `ms` of this clock's time (at once for ms <= 0) */
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms))),
};

/**
 * A clock that moves only when told to. Sleepers wake in due order as `advance` passes their time; each wake-up is
 * followed by a flush of pending promise callbacks, so code that sleeps again in a loop sees the new time.
 */
export class ManualClock implements Clock {
  private t: number;
  private sleepers: Array<{ at: number; seq: number; wake: () => void }> = [];
  private seq = 0;

  constructor(startMs = 0) {
    this.t = startMs;
  }

  now(): number {
    return this.t;
  }

  sleep(ms: number): Promise<void> {
    return new Promise((wake) => {
      this.sleepers.push({ at: this.t + Math.max(0, ms), seq: this.seq++, wake });
    });
  }

  /** Moves time forward by `ms`, waking every sleeper whose time has come, earliest first. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await flushMicrotasks();
      this.sleepers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.sleepers[0];
      if (!next || next.at > end) break;
      this.sleepers.shift();
      this.t = Math.max(this.t, next.at);
      next.wake();
    }
    this.t = end;
    await flushMicrotasks();
  }

  /** sleepers still waiting */
  get pending(): number {
    return this.sleepers.length;
  }
}

async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}
