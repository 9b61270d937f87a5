import { badInput } from '../core/errors.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "500ms" | "30s" | "5m" | "2h" → milliseconds; undefined when the text is not such a duration. */
export function parseDurationMs(text: string): number | undefined {
  const m = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)$/.exec(text.trim());
  return m ? Math.round(Number(m[1]) * UNIT_MS[m[2]]) : undefined;
}

/**
 * The longest run fleetload accepts: a week. Node timers overflow past 2^31 − 1 ms (24.8 days) and fire at once, so
 * without a cap a `--duration 600h` would end as soon as it began; a run longer than a week is better split.
 */
export const MAX_DURATION_MS = 7 * 24 * 3_600_000;

/** A --duration flag: at least 1 s, at most MAX_DURATION_MS; anything else is bad input naming the flag. */
export function parseDurationFlag(text: string, flag = '--duration'): number {
  const ms = parseDurationMs(text);
  if (ms === undefined || ms < 1000) throw badInput(`${flag}: expected a duration of at least 1s such as 30s, 5m or 1h, got "${text}"`);
  if (ms > MAX_DURATION_MS) throw badInput(`${flag}: ${text} is longer than the longest run fleetload takes (168h, a week); split the run`);
  return ms;
}
