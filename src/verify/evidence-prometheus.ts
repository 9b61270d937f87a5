// Prometheus HTTP API evidence: one instant query per value, evaluated at the window end.
// Unreachable server or a query error -> infraError (exit 3); a query that does not aggregate to one
// value -> badInput naming the objective (the SLO file must be fixed).
import { badInput, infraError } from '../core/errors.js';
import { authHint, endpointUrl, toEndpoint, type PrometheusEndpoint } from '../run/prometheus-endpoint.js';
import type { Measurement } from './evaluate.js';

export interface PrometheusClient {
  /** `who` names the objective and its file:line for messages. */
  query(expr: string, at: Date, who: string): Promise<Measurement>;
}

interface ApiResponse {
  status: 'success' | 'error';
  errorType?: string;
  error?: string;
  data?: { resultType: 'vector' | 'scalar' | 'matrix' | 'string'; result: unknown };
}

export function parseSampleValue(s: string): number {
  if (s === '+Inf' || s === 'Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  return Number(s); // "NaN" -> NaN
}

export function prometheusClient(base: string | PrometheusEndpoint, opts: { timeoutMs?: number } = {}): PrometheusClient {
  // credentials from the URL or PROMETHEUS_* variables travel as a header, never in the URL
  const ep = toEndpoint(base);
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', ...ep.headers };
  const endpoint = endpointUrl(ep, 'api/v1/query');
  const shown = ep.redacted;
  const timeoutMs = opts.timeoutMs ?? 30_000;

  return {
    async query(expr, at, who) {
      const body = new URLSearchParams({ query: expr, time: (at.getTime() / 1000).toFixed(3), timeout: `${Math.ceil(timeoutMs / 1000)}s` });
      let res: Response;
      try {
        res = await fetch(endpoint, { method: 'POST', headers, body, signal: AbortSignal.timeout(timeoutMs) });
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
        throw infraError(`Prometheus query for ${who} failed (HTTP ${res.status}${authHint(ep, res.status)}, ${json.errorType ?? 'error'}): ${json.error ?? text.slice(0, 200)}\n  query: ${expr}`);
      }
      const { resultType, result } = json.data;
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
    },
  };
}
