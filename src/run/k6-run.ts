import { createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { spawnTracked, stopChild } from '../stack/children.js';
import { k6Env } from '../stack/k6-binary.js';
import { endpointUrl, prometheusEndpoint, type PrometheusEndpoint } from './prometheus-endpoint.js';

export interface K6RunOptions {
  bin: string;
  script: string;
  runId: string;
  env: Record<string, string>;
  /**
   * Prometheus remote-write endpoint; k6 sends every metric there tagged testid=<runId>. Credentials in
   * the URL (or PROMETHEUS_* variables) are passed to k6 in its environment, never on its command line.
   */
  remoteWriteUrl?: string;
  /** Alternatively the resolved Prometheus endpoint; k6 writes to <url>/api/v1/write. */
  remoteWrite?: PrometheusEndpoint;
  extraArgs?: string[];
  logFile: string;
  /** Hard stop: k6 is killed after this long even if the script misbehaves. */
  hardLimitMs: number;
  onLine?: (line: string) => void;
  /** Called with k6's process id once it is spawned (generator health sampling, src/run/generator-health.ts). */
  onStart?: (pid: number) => void;
}

export interface K6RunResult {
  exitCode: number;
  signal: NodeJS.Signals | null;
  killedAtLimit: boolean;
}

/** Trend stats k6 writes to Prometheus; the default SLO file reads these names (e.g. k6_fleet_ack_latency_p95). */
export const K6_TREND_STATS = 'p(50),p(95),p(99),max,count';

export function k6Args(o: Pick<K6RunOptions, 'script' | 'runId' | 'env' | 'remoteWriteUrl' | 'remoteWrite' | 'extraArgs'>): string[] {
  const args = ['run', '--no-color', '--quiet', '--tag', `testid=${o.runId}`];
  if (o.remoteWriteUrl || o.remoteWrite) args.push('--out', 'experimental-prometheus-rw');
  for (const [k, v] of Object.entries(o.env)) args.push('--env', `${k}=${v}`);
  args.push(...(o.extraArgs ?? []), o.script);
  return args;
}

/** k6's environment for the remote-write output: the URL without credentials, the credentials apart. */
export function remoteWriteEnv(o: Pick<K6RunOptions, 'remoteWriteUrl' | 'remoteWrite'>): Record<string, string> {
  const rw = o.remoteWrite ? { ...o.remoteWrite, url: endpointUrl(o.remoteWrite, 'api/v1/write') } : o.remoteWriteUrl ? prometheusEndpoint(o.remoteWriteUrl) : undefined;
  if (!rw) return {};
  return { K6_PROMETHEUS_RW_SERVER_URL: rw.url, ...rw.k6Env };
}

export async function runK6(o: K6RunOptions): Promise<K6RunResult> {
  const rw = remoteWriteEnv(o);
  const env = k6Env({
    K6_NO_USAGE_REPORT: 'true',
    ...(rw.K6_PROMETHEUS_RW_SERVER_URL
      ? {
          ...rw,
          K6_PROMETHEUS_RW_TREND_STATS: K6_TREND_STATS,
          // a short push interval so the last seconds of a short run reach Prometheus before we judge it
          K6_PROMETHEUS_RW_PUSH_INTERVAL: '1s',
        }
      : {}),
  });
  const out = createWriteStream(o.logFile);
  const child = spawnTracked(o.bin, k6Args(o), { stdio: ['ignore', 'pipe', 'pipe'], env });
  if (child.pid !== undefined) o.onStart?.(child.pid);
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on('line', (line) => {
      out.write(`${line}\n`);
      o.onLine?.(line);
    });
  }
  let killedAtLimit = false;
  const limit = setTimeout(() => {
    killedAtLimit = true;
    void stopChild(child, 5000);
  }, o.hardLimitMs);
  const result = await new Promise<K6RunResult>((resolve) => {
    child.once('exit', (code, signal) => resolve({ exitCode: code ?? -1, signal, killedAtLimit }));
  });
  clearTimeout(limit);
  await new Promise<void>((r) => out.end(r));
  return { ...result, killedAtLimit };
}
