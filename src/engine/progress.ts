// A status line while the engine runs: in place on a terminal, a plain line every 10 s otherwise (CI logs).
import type { StatsSnapshot } from './stats.js';
import { parseSeriesKey } from './stats.js';

export interface ProgressFigures {
  elapsedMs: number;
  totalMs: number;
  stage: string;
  connected: number;
  planned: number;
  sentPerSec: number;
  ackedPerSec: number;
  /** from the Prometheus buckets so far: the bucket bound at or above p95 */
  ackP95UpToMs: number | undefined;
  errors: number;
  cpuPercentOfMachine: number;
}

export interface ProgressSink {
  update(f: ProgressFigures): void;
  end(): void;
}

const sec = (ms: number) => `${Math.round(ms / 1000)}s`;

export function formatProgress(f: ProgressFigures): string {
  const p95 = f.ackP95UpToMs === undefined ? 'n/a' : `≤${f.ackP95UpToMs} ms`;
  return `${sec(f.elapsedMs)}/${sec(f.totalMs)} ${f.stage} | devices ${f.connected}/${f.planned} | records/s sent ${f.sentPerSec.toFixed(0)} acked ${f.ackedPerSec.toFixed(0)} | ACK p95 ${p95} | errors ${f.errors} | engine CPU ${f.cpuPercentOfMachine.toFixed(0)}%`;
}

/** TTY: rewrite one line every update; otherwise print a line at most every `plainEveryMs`. */
export function progressSink(stream: NodeJS.WriteStream, plainEveryMs = 10_000): ProgressSink {
  let last = -Infinity;
  let drawn = false;
  return {
    update(f) {
      if (stream.isTTY) {
        stream.write(`\r\x1b[2K${formatProgress(f)}`);
        drawn = true;
      } else if (f.elapsedMs - last >= plainEveryMs) {
        last = f.elapsedMs;
        stream.write(`${formatProgress(f)}\n`);
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
