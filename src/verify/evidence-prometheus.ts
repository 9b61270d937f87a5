// Prometheus HTTP API evidence: one instant query per value, evaluated at the window end.
// Unreachable server or a query error -> infraError (exit 3); a query that does not aggregate to one
// value -> badInput naming the objective (the SLO file must be fixed).
import { badInput, infraError } from '../core/errors.js';
import { authHint, endpointUrl, toEndpoint, type PrometheusEndpoint } from '../core/prometheus-endpoint.js';
import type { Measurement } from './evaluate.js';

export interface PrometheusClient {
  /** `who` names the objective and its file:line for messages. */
  query(expr: string, at: Date, who: string): Promise<Measurement>;
  /** Raw samples of a range selector evaluated at `at` (an instant query of `sel[range]`). */
  samples(expr: string, at: Date, who: string): Promise<Series[]>;
  /** Every series of an instant vector at `at`, with its labels. */
  vector(expr: string, at: Date, who: string): Promise<Array<{ metric: Record<string, string>; value: number }>>;
  /** The scrape interval of each active target's job, seconds (from /api/v1/targets). */
  scrapeIntervals(): Promise<Map<string, number>>;
  /** Sends the expression to Prometheus' parser (an instant query at `at`): Prometheus' error text, or undefined. */
  parseError(expr: string, at: Date): Promise<string | undefined>;
}

export interface Series {
  metric: Record<string, string>;
  /** [unix seconds, value] */
  values: Array<[number, number]>;
}

interface ApiResponse {
  status: 'success' | 'error';
  errorType?: string;
  error?: string;
  data?: { resultType: 'vector' | 'scalar' | 'matrix' | 'string'; result: unknown };
}

/** "15s", "1m30s", "500ms" -> seconds. */
export function promDurationSeconds(text: string): number | undefined {
  const units: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 };
  let total = 0;
  let rest = text;
  while (rest.length > 0) {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)/.exec(rest);
    if (!m) return undefined;
    total += Number(m[1]) * units[m[2]];
    rest = rest.slice(m[0].length);
  }
  return total > 0 ? total : undefined;
}

export function parseSampleValue(s: string): number {
  if (s === '+Inf' || s === 'Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  return Number(s); // "NaN" -> NaN
}

/** Where and how to reach one Prometheus: credentials travel as a header, and `shown` is the URL without them. */
interface Connection {
  ep: PrometheusEndpoint;
  headers: Record<string, string>;
  shown: string;
  timeoutMs: number;
}

export function prometheusClient(base: string | PrometheusEndpoint, opts: { timeoutMs?: number } = {}): PrometheusClient {
  // credentials from the URL or PROMETHEUS_* variables travel as a header, never in the URL
  const ep = toEndpoint(base);
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', ...ep.headers };
  const c: Connection = { ep, headers, shown: ep.redacted, timeoutMs: opts.timeoutMs ?? 30_000 };

  return {
    async parseError(expr, at) {
      try {
        await instant(c, expr, at, 'a parse check');
        return undefined;
      } catch (e) {
        if ((e as { promErrorType?: string }).promErrorType === 'bad_data') return (e as Error).message;
        throw e;
      }
    },
    async samples(expr, at, who) {
      const json = await instant(c, expr, at, who);
      if (json.data!.resultType !== 'matrix') throw badInput(`${who}: expected a range selector (matrix), got a ${json.data!.resultType}\n  query: ${expr}`);
      return (json.data!.result as Array<{ metric: Record<string, string>; values: Array<[number, string]> }>).map((r) => ({
        metric: r.metric,
        values: r.values.map(([t, v]) => [t, parseSampleValue(v)] as [number, number]),
      }));
    },
    async scrapeIntervals() {
      return scrapeIntervalsOf(await call(c, 'api/v1/targets?state=active', undefined, 'the scrape targets'));
    },
    async vector(expr, at, who) {
      const json = await instant(c, expr, at, who);
      if (json.data!.resultType !== 'vector') throw badInput(`${who}: expected an instant vector, got a ${json.data!.resultType}\n  query: ${expr}`);
      return (json.data!.result as Array<{ metric: Record<string, string>; value: [number, string] }>).map((r) => ({ metric: r.metric, value: parseSampleValue(r.value[1]) }));
    },
    async query(expr, at, who) {
      return oneValue(await instant(c, expr, at, who), expr, who);
    },
  };
}

/** One API request (POST when it has parameters); every failure becomes an infraError naming Prometheus and `who`. */
async function call(c: Connection, path: string, params: Record<string, string> | undefined, who: string, expr?: string): Promise<ApiResponse> {
  const { ep, shown } = c;
  let res: Response;
  try {
    res = params
      ? await fetch(endpointUrl(ep, path), { method: 'POST', headers: c.headers, body: new URLSearchParams(params), signal: AbortSignal.timeout(c.timeoutMs) })
      : await fetch(endpointUrl(ep, path), { headers: ep.headers, signal: AbortSignal.timeout(c.timeoutMs) });
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    throw infraError(`Prometheus at ${shown} is unreachable (${cause?.code ?? cause?.message ?? (e as Error).message}) while querying ${who}`, e);
  }
  const text = await res.text();
  let json: ApiResponse;
  try {
    json = JSON.parse(text) as ApiResponse;
  } catch (e) {
    throw infraError(`Prometheus at ${shown} answered HTTP ${res.status}${authHint(ep, res.status)} with something that is not JSON for ${who}: ${text.slice(0, 200)}`, e);
  }
  if (!res.ok || json.status !== 'success' || !json.data) {
    const err = infraError(`Prometheus query for ${who} failed (HTTP ${res.status}${authHint(ep, res.status)}, ${json.errorType ?? 'error'}): ${json.error ?? text.slice(0, 200)}${expr ? `\n  query: ${expr}` : ''}`);
    // parseError tells a query Prometheus cannot parse (bad_data) from any other failure
    (err as { promErrorType?: string }).promErrorType = json.errorType;
    throw err;
  }
  return json;
}

/** An instant query at `at`, with Prometheus' own evaluation timeout matching ours. */
function instant(c: Connection, expr: string, at: Date, who: string): Promise<ApiResponse> {
  return call(c, 'api/v1/query', { query: expr, time: (at.getTime() / 1000).toFixed(3), timeout: `${Math.ceil(c.timeoutMs / 1000)}s` }, who, expr);
}

/** Scrape interval per job of the active targets, seconds; a target without a job or a readable interval is left out. */
function scrapeIntervalsOf(json: ApiResponse): Map<string, number> {
  const out = new Map<string, number>();
  const targets = (json.data as unknown as { activeTargets?: Array<{ labels?: Record<string, string>; scrapePool?: string; scrapeInterval?: string }> }).activeTargets ?? [];
  for (const t of targets) {
    const job = t.labels?.job ?? t.scrapePool;
    const sec = t.scrapeInterval ? promDurationSeconds(t.scrapeInterval) : undefined;
    if (job && sec) out.set(job, sec);
  }
  return out;
}

/** An objective's query must give one number: a scalar, or a vector of one series (none = no data). */
function oneValue(json: ApiResponse, expr: string, who: string): Measurement {
  const { resultType, result } = json.data!;
  if (resultType === 'scalar') {
    const [, v] = result as [number, string];
    return { value: parseSampleValue(v), query: expr };
  }
  if (resultType === 'vector') {
    const series = result as Array<{ metric: Record<string, string>; value: [number, string] }>;
    if (series.length === 0) return { value: null, reason: 'empty result (no series matched, or a zero denominator)', query: expr };
    if (series.length > 1) {
      const labels = series
        .slice(0, 3)
        .map((s) => `{${Object.entries(s.metric).map(([k, v]) => `${k}="${v}"`).join(',')}}`)
        .join(' ');
      throw badInput(`${who}: the query returned ${series.length} series (${labels}${series.length > 3 ? ' …' : ''}); aggregate it to one value, e.g. sum(...) or max(...)\n  query: ${expr}`);
    }
    return { value: parseSampleValue(series[0].value[1]), query: expr };
  }
  throw badInput(`${who}: the query returned a ${resultType}, expected one number (an instant vector with one series, or a scalar)\n  query: ${expr}`);
}
