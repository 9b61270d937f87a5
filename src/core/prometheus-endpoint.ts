// One place that turns "a Prometheus URL + the environment" into what an HTTP client needs: the URL
// without credentials, the Authorization header, and a form that may be logged or stored.
//
// Credentials, in this order:
//   - user name: the URL's (`http://user:pass@host:9090`), else PROMETHEUS_USERNAME
//   - password:  the URL's, else PROMETHEUS_PASSWORD or the file named by PROMETHEUS_PASSWORD_FILE
//   - bearer token: PROMETHEUS_BEARER_TOKEN or the file named by PROMETHEUS_BEARER_TOKEN_FILE
// A password and a bearer token together are refused (bad input). A bearer token with only a user name
// (as in a run manifest, which keeps the user but never the password) uses the token.
// Node's fetch refuses URLs with credentials in them, so they always travel as a header.
import { badInput } from '../core/errors.js';
import { secretFromEnv } from '../core/secrets.js';

export type PrometheusAuth = 'none' | 'basic' | 'bearer';

export interface PrometheusEndpoint {
  /** Base URL without credentials and without a trailing slash (path prefix kept, e.g. /prometheus). */
  url: string;
  /** Authorization header when credentials were given; never log these. */
  headers: Record<string, string>;
  auth: PrometheusAuth;
  /** For logs, messages and files: the user name stays, passwords and tokens never appear. */
  redacted: string;
}

const PROMETHEUS_ENV = {
  username: 'PROMETHEUS_USERNAME',
  password: 'PROMETHEUS_PASSWORD',
  bearer: 'PROMETHEUS_BEARER_TOKEN',
} as const;

/** NAME or the file named by NAME_FILE; an empty file counts as unset. */
const secretIn = (env: NodeJS.ProcessEnv, name: string): string | undefined => secretFromEnv(name, env) || undefined;

function decode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

/**
 * Parses a Prometheus base URL (credentials allowed in it) and the PROMETHEUS_* variables of `env`.
 * Throws badInput for a URL that is not http(s) or for contradictory credentials; the message never
 * contains a secret.
 */
export function prometheusEndpoint(urlText: string, env: NodeJS.ProcessEnv = process.env): PrometheusEndpoint {
  let u: URL;
  try {
    u = new URL(urlText);
  } catch {
    // the text may hold a password: show only what cannot be one
    throw badInput(`--prometheus-url: not a URL (expected e.g. http://127.0.0.1:9090): "${urlText.replace(/\/\/[^@/]*@/, '//***@')}"`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw badInput(`--prometheus-url: expected an http:// or https:// URL, got ${u.protocol}`);
  const username = u.username ? decode(u.username) : (env[PROMETHEUS_ENV.username] ?? '');
  const password = u.password ? decode(u.password) : (secretIn(env, PROMETHEUS_ENV.password) ?? '');
  const bearer = secretIn(env, PROMETHEUS_ENV.bearer);
  if (bearer && password) {
    throw badInput(
      `Prometheus credentials: both a password (${u.password ? 'in --prometheus-url' : `${PROMETHEUS_ENV.password}`}) and a bearer token ` +
        `(${PROMETHEUS_ENV.bearer}) are set; use one of them`,
    );
  }

  const clean = new URL(u.toString());
  clean.username = '';
  clean.password = '';
  clean.hash = '';
  const url = clean.toString().replace(/\/+$/, '');
  const shown = new URL(clean.toString());
  if (username) shown.username = encodeURIComponent(username);
  const redacted = shown.toString().replace(/\/+$/, '');

  if (bearer) {
    return { url, headers: { authorization: `Bearer ${bearer}` }, auth: 'bearer', redacted };
  }
  if (username || password) {
    return {
      url,
      headers: { authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` },
      auth: 'basic',
      redacted,
    };
  }
  return { url, headers: {}, auth: 'none', redacted };
}

/** Absolute URL of an API path under the endpoint (keeps a path prefix such as /prometheus). */
export function endpointUrl(ep: Pick<PrometheusEndpoint, 'url'>, path: string): string {
  return `${ep.url}/${path.replace(/^\/+/, '')}`;
}

/** Accepts a URL (credentials resolved with the environment) or an already resolved endpoint. */
export function toEndpoint(urlOrEndpoint: string | PrometheusEndpoint, env: NodeJS.ProcessEnv = process.env): PrometheusEndpoint {
  return typeof urlOrEndpoint === 'string' ? prometheusEndpoint(urlOrEndpoint, env) : urlOrEndpoint;
}

/** A hint for HTTP 401/403 answers, naming the variables (never their values). */
export function authHint(ep: PrometheusEndpoint, status: number): string {
  if (status !== 401 && status !== 403) return '';
  return ep.auth === 'none'
    ? ` (Prometheus wants credentials: put them in the URL or set ${PROMETHEUS_ENV.username}/${PROMETHEUS_ENV.password}[_FILE] or ${PROMETHEUS_ENV.bearer}[_FILE])`
    : ` (the ${ep.auth} credentials were refused)`;
}
