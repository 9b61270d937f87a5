// A status line while the engine runs: in place on a terminal, a plain line every 10 s otherwise (CI logs).
import type { StatsSnapshot } from './stats.js';
import { parseSeriesKey } from './stats.js';

export interface ProgressFigures {
  elapsedMs: number;
  totalMs: number;
  stage: string;
  connected: number;
  planned: number;
  /** cumulative counts; the sink turns them into rates between the lines it prints */
  sent: number;
  acked: number;
  cpuSeconds: number;
  /** from the Prometheus buckets so far: the bucket bound at or above p95 */
  ackP95UpToMs: number | undefined;
  errors: number;
  cores: number;
}

interface Rates {
  sentPerSec: number;
  ackedPerSec: number;
  cpuPercentOfMachine: number;
}

export interface ProgressSink {
  update(f: ProgressFigures): void;
  end(): void;
}

const sec = (ms: number) => `${Math.round(ms / 1000)}s`;

export function formatProgress(f: ProgressFigures, r: Rates): string {
  const p95 = f.ackP95UpToMs === undefined ? 'n/a' : `≤${f.ackP95UpToMs} ms`;
  return `${sec(f.elapsedMs)}/${sec(f.totalMs)} ${f.stage} | devices ${f.connected}/${f.planned} | records/s sent ${r.sentPerSec.toFixed(0)} acked ${r.ackedPerSec.toFixed(0)} | ACK p95 ${p95} | errors ${f.errors} | engine CPU ${r.cpuPercentOfMachine.toFixed(0)}%`;
}

/** Rates between two progress figures (the previous printed line and this one). */
export function ratesBetween(prev: ProgressFigures | undefined, f: ProgressFigures): Rates {
  // at least half a second: the first line comes about a second after the start, not at it
  const dt = Math.max(0.5, (f.elapsedMs - (prev?.elapsedMs ?? 0)) / 1000);
  return {
    sentPerSec: (f.sent - (prev?.sent ?? 0)) / dt,
    ackedPerSec: (f.acked - (prev?.acked ?? 0)) / dt,
    cpuPercentOfMachine: ((f.cpuSeconds - (prev?.cpuSeconds ?? 0)) / dt / Math.max(1, f.cores)) * 100,
  };
}

/** TTY: rewrite one line every update; otherwise print a line at most every `plainEveryMs`. */
export function progressSink(stream: NodeJS.WriteStream, plainEveryMs = 10_000): ProgressSink {
  let last: ProgressFigures | undefined;
  let drawn = false;
  return {
    update(f) {
      if (stream.isTTY) {
        stream.write(`\r\x1b[2K${formatProgress(f, ratesBetween(last, f))}`);
        last = f;
        drawn = true;
      } else if (!last || f.elapsedMs - last.elapsedMs >= plainEveryMs) {
        stream.write(`${formatProgress(f, ratesBetween(last, f))}\n`);
        last = f;
      }
    },
    end() {
      if (drawn) stream.write('\n');
    },
  };
}

/** Sum of a counter over its label values in a snapshot. */
export function counterTotal(s: StatsSnapshot, id: string): number {
  let n = 0;
  for (const [k, v] of Object.entries(s.counters)) if (parseSeriesKey(k).name === id) n += v;
  return n;
}
