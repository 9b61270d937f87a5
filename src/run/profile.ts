import type { ErrorObject } from 'ajv';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { badInput } from '../core/errors.js';
import { repoRoot } from '../core/repo-root.js';
import type { ApiClientConfig, ApiEndpoint } from '../sim/fleet-config.js';
import type { RouteOptions } from '../sim/route.js';
import { MAX_DURATION_MS, parseDurationMs } from './duration.js';
import { parseFaultSpecs, type FaultSpec, type RawFault } from './faults.js';
import { DEFAULT_GENERATOR_THRESHOLDS, type GeneratorThresholds } from '../engine/health.js';
import { parseYamlSource, pointerToPath, schemaErrors, YamlSyntaxError, type YamlSource } from '../core/yaml-source.js';

/** A profile after validation, with durations in milliseconds and defaults filled in. */
export interface Profile {
  name: string;
  file: string;
  description: string;
  seed: number;
  durationMs: number;
  maxDurationMs: number;
  centre: { latitude: number; longitude: number };
  devices: {
    count: number;
    intervalMs: number;
    recordsPerPacket: number;
    codec: 8 | 142;
    ackTimeoutMs: number;
    reconnectBaseMs: number;
    reconnectMaxMs: number;
    parkedIntervalMs: number;
    /** share of devices on Codec 8E (0..1) */
    codec8eShare: number;
    replayOrder: 'oldest-first' | 'newest-first';
    keepAliveMs: number;
    bufferLimit: number;
    linkDrops?: { perDeviceHour: number; offlineMs: number };
    /** at: ms after the start, or a fraction of the duration (0..1) when given as a percentage */
    storm?: { atMs?: number; atFraction?: number; offlineMs: number };
    route?: Partial<RouteOptions>;
  };
  /** Stepped fleet: cumulative device counts and how long each is held (holds add up to durationMs). */
  steps?: Array<{ devices: number; holdMs: number }>;
  api?: ApiProfile;
  ws?: { clients: number; subscribe: 'all' | number; startAfterMs: number; graceMs: number };
  generator: GeneratorThresholds;
  /** faults injected into the embedded stack during the run (src/run/faults.ts) */
  faults?: FaultSpec[];
  /** the SLO file the profile names (absolute path), used unless --slo is given */
  sloFile?: string;
}

/**
 * A profile's API section once its config file is loaded: the scenario's request settings (ApiClientConfig)
 * plus where they came from and when they start; fleet-plan.ts turns it into the scenario's config.
 */
export type ApiProfile = Pick<ApiClientConfig, 'endpoints' | 'headers' | 'tokenEnv' | 'rate' | 'stages' | 'connections' | 'timeoutMs'> & {
  /** the API config file used */
  configFile: string;
  configName: string;
  startAfterMs: number;
};

type RawDurationRange = [string, string];

interface RawProfile {
  name: string;
  description?: string;
  seed?: number;
  duration: string;
  maxDuration?: string;
  centre?: { latitude: number; longitude: number };
  devices: {
    count: number;
    interval?: string;
    recordsPerPacket?: number;
    codec?: string | number;
    ackTimeout?: string;
    reconnectBase?: string;
    reconnectMax?: string;
    parkedInterval?: string;
    codec8eShare?: number;
    replayOrder?: 'oldest-first' | 'newest-first';
    keepAlive?: string;
    bufferLimit?: number;
    linkDrops?: { perDeviceHour: number; offline: string };
    storm?: { at: string; offline: string };
    route?: { cruiseKmh?: [number, number]; stopDwell?: RawDurationRange; layover?: RawDurationRange; stopSpacingM?: [number, number] };
  };
  steps?: Array<{ devices: number; hold?: string }>;
  api?: {
    config?: string;
    rate?: number;
    stages?: Array<{ target: number; duration: string }>;
    startAfter?: string;
    connections?: number;
    timeout?: string;
  };
  ws?: { clients: number; subscribe?: 'all' | number; startAfter?: string; grace?: string };
  slo?: string;
  faults?: RawFault[];
  generator?: { maxSendLagP95?: string; maxEventLoopDelayP99?: string; maxCpuPercent?: number; maxRssMb?: number; maxDroppedRequests?: number; maxGeneratorErrors?: number };
}

interface RawApiConfig {
  name: string;
  description?: string;
  headers?: Record<string, string>;
  auth?: { type: 'bearer' | 'none'; tokenEnv?: string };
  endpoints: Array<{ name: string; method?: ApiEndpoint['method']; path: string; weight?: number; body?: string; headers?: Record<string, string>; expect?: number[] }>;
}

export const profilesDir = () => join(repoRoot(), 'scenarios', 'profiles');

export function listProfiles(): string[] {
  return readdirSync(profilesDir())
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => f.replace(/\.yaml$/, ''))
    .sort();
}

export const apiConfigsDir = () => join(repoRoot(), 'scenarios', 'api');

function validateWith(schemaFile: string, data: unknown): ErrorObject[] {
  return schemaErrors(schemaFile, () => JSON.parse(readFileSync(schemaFile, 'utf8')) as object, data);
}
const validate = (data: unknown) => validateWith(join(profilesDir(), 'profile.schema.json'), data);

/** Profile fields that only meant something to k6, and what to do instead. */
const K6_ERA_FIELDS: Record<string, string> = {
  devicesPerVu: 'a k6 setting (device sockets per VU); the engine spreads devices over worker threads (--workers): remove it',
  preAllocatedVUs: 'a k6 setting; remove it (api.connections is the client pool size)',
  maxVUs: 'a k6 setting; use api.connections (the client pool size: requests in flight at most)',
  trendSampleEvery: 'a k6 setting; the engine\'s latency histograms have a fixed size: remove it',
  maxVuLoopLagP95: 'a k6 setting; use maxEventLoopDelayP99',
  maxDroppedIterations: 'a k6 setting; use maxDroppedRequests',
};

/** Where an error points: for an unknown field, the field itself (its own line), not the object holding it. */
function errorPath(e: ErrorObject): Array<string | number> {
  const path = pointerToPath(e.instancePath);
  return e.keyword === 'additionalProperties' ? [...path, String(e.params.additionalProperty)] : path;
}

function describe(e: ErrorObject): string {
  const field = e.instancePath ? e.instancePath.slice(1).replace(/\//g, '.') : '(top level)';
  switch (e.keyword) {
    case 'required':
      return `${field}: missing required field "${String(e.params.missingProperty)}"`;
    case 'additionalProperties': {
      const key = String(e.params.additionalProperty);
      const full = e.instancePath ? `${field}.${key}` : key;
      return `${full}: unknown field${K6_ERA_FIELDS[key] ? ` — ${K6_ERA_FIELDS[key]}` : ''}`;
    }
    case 'pattern': {
      const pattern = String(e.params.pattern);
      if (pattern.includes('%')) return `${field}: expected a duration such as 30s or a percentage of the duration such as 40%`;
      if (pattern.includes('(ms|s|m|h)')) return `${field}: expected a duration such as 500ms, 30s, 5m or 2h`;
      if (pattern === '^/') return `${field}: expected a path starting with /`;
      if (pattern.includes('A-Z')) return `${field}: expected an environment variable name such as FLEET_API_TOKEN`;
      if (pattern.includes('_]+$')) return `${field}: expected lower-case letters, digits and underscores`;
      return `${field}: expected lower-case letters, digits and dashes`;
    }
    case 'const':
      return `${field}: expected ${JSON.stringify(e.params.allowedValue)}`;
    case 'enum':
      return `${field}: expected one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    default:
      return `${field}: ${e.message ?? 'invalid'}`;
  }
}

/** Reads and validates a YAML file against a schema; every error names file, line and field. */
function readValidated(file: string, what: string, schemaFile: string): YamlSource {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw badInput(code === 'EISDIR' ? `${file} is a folder, not a ${what} file (expected a .yaml file)` : `cannot read the ${what} ${file} (${code ?? (e as Error).message})`, e);
  }
  let src: YamlSource;
  try {
    src = parseYamlSource(file, text);
  } catch (e) {
    if (e instanceof YamlSyntaxError) throw badInput(e.message);
    throw e;
  }
  const errors = validateWith(schemaFile, src.data);
  if (errors.length > 0) {
    const lines = errors.slice(0, 8).map((e) => `${file}:${src.lineOf(errorPath(e)) ?? '?'}: ${describe(e)}`);
    throw badInput(`invalid ${what}:\n  ${lines.join('\n  ')}`);
  }
  return src;
}

/** The hard stop behind the duration: default duration + 2 min; never past a week and a day (Node timers overflow). */
function maxDurationOf(text: string | undefined, durationMs: number, at: (path: Array<string | number>, msg: string) => Error): number {
  const ms = text ? (parseDurationMs(text) as number) : durationMs + 120_000;
  if (ms > MAX_DURATION_MS + 86_400_000) throw at(['maxDuration'], 'maxDuration: at most 192h (the longest duration plus a day)');
  return ms;
}

/** Builds an error that points at a profile field: `file:line: msg`. */
type At = (path: Array<string | number>, msg: string) => Error;

const msOf = (text: string | undefined, fallback: string) => parseDurationMs(text ?? fallback) as number;

/** Loads a profile by name (scenarios/profiles/<name>.yaml) or by path; every error names file, line and field. */
export function loadProfile(nameOrPath: string): Profile {
  const file = profileFileOf(nameOrPath);
  const src = readValidated(file, 'profile', join(profilesDir(), 'profile.schema.json'));
  const raw = src.data as RawProfile;
  const at: At = (path, msg) => badInput(`${file}:${src.lineOf(path) ?? '?'}: ${msg}`);
  // The checks run in this order so that a profile with several faults always reports the same one first.
  checkProfileName(raw.name, file, at);
  const durationMs = durationOf(raw.duration, at);
  const steps = raw.steps ? stepsOf(raw.steps, durationMs, at) : undefined;
  const count = deviceCountOf(raw.devices, steps, at);
  const storm = raw.devices.storm ? stormOf(raw.devices.storm, raw.duration, durationMs, at) : undefined;
  const route = raw.devices.route ? routeOf(raw.devices.route) : undefined;
  const faults = raw.faults ? parseFaultSpecs(raw.faults, durationMs, (path, msg) => at(path, msg)) : undefined;
  const sloFile = raw.slo !== undefined ? sloFileOf(raw.slo, file, at) : undefined;
  return {
    name: raw.name,
    file,
    description: raw.description ?? '',
    seed: raw.seed ?? 1,
    durationMs,
    maxDurationMs: maxDurationOf(raw.maxDuration, durationMs, at),
    centre: raw.centre ?? { latitude: 44.7722, longitude: 17.191 },
    devices: devicesOf(raw.devices, count, storm, route),
    ...(steps ? { steps } : {}),
    ...(raw.api ? { api: apiProfile(raw.api, file, src) } : {}),
    ...(raw.ws && raw.ws.clients > 0 ? { ws: wsOf(raw.ws) } : {}),
    ...(faults ? { faults } : {}),
    ...(sloFile ? { sloFile } : {}),
    generator: generatorOf(raw.generator ?? {}),
  };
}

/** A bare name means scenarios/profiles/<name>.yaml; anything ending in .yaml or holding a slash is a path. */
function profileFileOf(nameOrPath: string): string {
  const file = nameOrPath.endsWith('.yaml') || nameOrPath.includes('/') ? nameOrPath : join(profilesDir(), `${nameOrPath}.yaml`);
  if (!existsSync(file)) {
    throw badInput(`profile "${nameOrPath}" not found (looked for ${file}); known profiles: ${listProfiles().join(', ')}`);
  }
  return file;
}

function checkProfileName(name: string, file: string, at: At): void {
  const expectedName = basename(file).replace(/\.yaml$/, '');
  if (name !== expectedName) throw at(['name'], `name: "${name}" must equal the file name "${expectedName}"`);
}

function durationOf(text: string, at: At): number {
  const durationMs = msOf(text, text);
  if (durationMs < 1000) throw at(['duration'], 'duration: must be at least 1s');
  if (durationMs > MAX_DURATION_MS) throw at(['duration'], 'duration: at most 168h (a week); split longer runs');
  return durationMs;
}

/** Stepped fleet: holds are all given or all left out (equal shares, the last step taking the remainder). */
function stepsOf(rawSteps: NonNullable<RawProfile['steps']>, durationMs: number, at: At): NonNullable<Profile['steps']> {
  const holds = rawSteps.map((s) => (s.hold !== undefined ? msOf(s.hold, s.hold) : undefined));
  const given = holds.filter((h) => h !== undefined).length;
  if (given !== 0 && given !== holds.length) throw at(['steps'], 'steps: give every step a hold, or none (equal shares of duration)');
  rawSteps.forEach((s, i) => {
    if (i > 0 && s.devices < rawSteps[i - 1].devices) throw at(['steps', i, 'devices'], `steps.${i}.devices: steps add devices; ${s.devices} is fewer than the previous step's ${rawSteps[i - 1].devices}`);
  });
  const equal = Math.floor(durationMs / rawSteps.length);
  const steps = rawSteps.map((s, i) => ({ devices: s.devices, holdMs: holds[i] ?? (i === rawSteps.length - 1 ? durationMs - equal * i : equal) }));
  const sum = steps.reduce((a, s) => a + s.holdMs, 0);
  if (sum !== durationMs) throw at(['steps'], `steps: the holds add up to ${sum / 1000}s but duration is ${durationMs / 1000}s`);
  return steps;
}

/** devices.count, or the last step's devices; when both are given they must agree. */
function deviceCountOf(d: RawProfile['devices'], steps: Profile['steps'], at: At): number {
  const count = d.count ?? steps?.[steps.length - 1].devices;
  if (count === undefined) throw at(['devices'], 'devices: missing required field "count" (or give steps)');
  if (steps && d.count !== undefined && d.count !== steps[steps.length - 1].devices) {
    throw at(['devices', 'count'], `devices.count: ${d.count} must equal the last step's devices (${steps[steps.length - 1].devices}), or be left out`);
  }
  return count;
}

/** storm.at is a duration (must fall inside the run) or a percentage of the duration (below 100%). */
function stormOf(s: NonNullable<RawProfile['devices']['storm']>, durationText: string, durationMs: number, at: At): NonNullable<Profile['devices']['storm']> {
  const offlineMs = msOf(s.offline, s.offline);
  if (s.at.endsWith('%')) {
    const f = Number(s.at.slice(0, -1)) / 100;
    if (!(f >= 0 && f < 1)) throw at(['devices', 'storm', 'at'], 'devices.storm.at: a percentage must be below 100%');
    return { atFraction: f, offlineMs };
  }
  const atMs = msOf(s.at, s.at);
  if (atMs >= durationMs) throw at(['devices', 'storm', 'at'], `devices.storm.at: ${s.at} is not before the end of the run (${durationText})`);
  return { atMs, offlineMs };
}

/** Only the route options the profile gives; the rest keep src/sim/route.ts's defaults. */
function routeOf(r: NonNullable<RawProfile['devices']['route']>): Partial<RouteOptions> {
  return {
    ...(r.cruiseKmh ? { cruiseKmh: r.cruiseKmh } : {}),
    ...(r.stopSpacingM ? { stopSpacingM: r.stopSpacingM } : {}),
    ...(r.stopDwell ? { stopDwellMs: [msOf(r.stopDwell[0], '0s'), msOf(r.stopDwell[1], '0s')] as [number, number] } : {}),
    ...(r.layover ? { layoverMs: [msOf(r.layover[0], '0s'), msOf(r.layover[1], '0s')] as [number, number] } : {}),
  };
}

/** The SLO path is relative to the profile file, and must exist now rather than at the end of the run. */
function sloFileOf(slo: string, file: string, at: At): string {
  const sloFile = resolve(dirname(file), slo);
  if (!existsSync(sloFile)) throw at(['slo'], `slo: no SLO file at ${sloFile} (the path is relative to the profile file)`);
  return sloFile;
}

/** The devices section with defaults filled in; count, storm and route are checked beforehand. */
function devicesOf(d: RawProfile['devices'], count: number, storm: Profile['devices']['storm'], route: Partial<RouteOptions> | undefined): Profile['devices'] {
  const intervalMs = msOf(d.interval, '10s');
  const codec: 8 | 142 = String(d.codec ?? '8') === '8e' ? 142 : 8;
  return {
    count,
    intervalMs,
    recordsPerPacket: d.recordsPerPacket ?? 1,
    codec,
    ackTimeoutMs: msOf(d.ackTimeout, '30s'),
    reconnectBaseMs: msOf(d.reconnectBase, '1s'),
    reconnectMaxMs: msOf(d.reconnectMax, '60s'),
    parkedIntervalMs: Math.max(intervalMs, d.parkedInterval ? msOf(d.parkedInterval, '0s') : intervalMs),
    codec8eShare: d.codec8eShare ?? (codec === 142 ? 1 : 0),
    replayOrder: d.replayOrder ?? 'oldest-first',
    keepAliveMs: msOf(d.keepAlive, '0s'),
    bufferLimit: d.bufferLimit ?? 100_000,
    ...(d.linkDrops ? { linkDrops: { perDeviceHour: d.linkDrops.perDeviceHour, offlineMs: msOf(d.linkDrops.offline, '0s') } } : {}),
    ...(storm ? { storm } : {}),
    ...(route ? { route } : {}),
  };
}

function wsOf(ws: NonNullable<RawProfile['ws']>): NonNullable<Profile['ws']> {
  return { clients: ws.clients, subscribe: ws.subscribe ?? 'all', startAfterMs: msOf(ws.startAfter, '3s'), graceMs: msOf(ws.grace, '5s') };
}

/** Generator health thresholds: each one the profile leaves out keeps src/engine/health.ts's default. */
function generatorOf(g: NonNullable<RawProfile['generator']>): GeneratorThresholds {
  return {
    maxSendLagP95Ms: g.maxSendLagP95 ? msOf(g.maxSendLagP95, '0s') : DEFAULT_GENERATOR_THRESHOLDS.maxSendLagP95Ms,
    maxEventLoopDelayP99Ms: g.maxEventLoopDelayP99 ? msOf(g.maxEventLoopDelayP99, '0s') : DEFAULT_GENERATOR_THRESHOLDS.maxEventLoopDelayP99Ms,
    maxCpuPercent: g.maxCpuPercent ?? DEFAULT_GENERATOR_THRESHOLDS.maxCpuPercent,
    ...(g.maxRssMb !== undefined ? { maxRssMb: g.maxRssMb } : {}),
    maxDroppedRequests: g.maxDroppedRequests ?? DEFAULT_GENERATOR_THRESHOLDS.maxDroppedRequests,
    maxGeneratorErrors: g.maxGeneratorErrors ?? DEFAULT_GENERATOR_THRESHOLDS.maxGeneratorErrors,
  };
}

function apiProfile(a: NonNullable<RawProfile['api']>, profileFile: string, src: YamlSource): ApiProfile {
  const ms = (text: string | undefined, fallback: string) => parseDurationMs(text ?? fallback) as number;
  if (a.rate !== undefined && a.stages !== undefined) {
    throw badInput(`${profileFile}:${src.lineOf(['api', 'stages']) ?? '?'}: api: give either rate (constant) or stages (ramping), not both`);
  }
  const cfg = loadApiConfig(a.config ?? 'default', `${profileFile}:${src.lineOf(['api', 'config']) ?? '?'}: api.config`);
  return {
    ...cfg,
    ...(a.stages ? { stages: a.stages.map((s) => ({ target: s.target, durationMs: ms(s.duration, s.duration) })) } : { rate: a.rate ?? 1 }),
    startAfterMs: ms(a.startAfter, '5s'),
    connections: a.connections ?? 50,
    timeoutMs: ms(a.timeout, '10s'),
  };
}

/** Loads an API client config (scenarios/api/<name>.yaml or a path), validated like profiles. */
export function loadApiConfig(nameOrPath: string, referencedFrom = 'api config'): Pick<ApiProfile, 'configFile' | 'configName' | 'endpoints' | 'headers' | 'tokenEnv'> {
  const file = nameOrPath.endsWith('.yaml') || nameOrPath.includes('/') ? nameOrPath : join(apiConfigsDir(), `${nameOrPath}.yaml`);
  if (!existsSync(file)) {
    const known = readdirSync(apiConfigsDir()).filter((f) => f.endsWith('.yaml')).map((f) => f.replace(/\.yaml$/, ''));
    throw badInput(`${referencedFrom}: API config "${nameOrPath}" not found (looked for ${file}); known: ${known.join(', ')}`);
  }
  const src = readValidated(file, 'API config', join(apiConfigsDir(), 'api.schema.json'));
  const raw = src.data as RawApiConfig;
  const expectedName = basename(file).replace(/\.yaml$/, '');
  if (raw.name !== expectedName) throw badInput(`${file}:${src.lineOf(['name']) ?? '?'}: name: "${raw.name}" must equal the file name "${expectedName}"`);
  const seen = new Set<string>();
  raw.endpoints.forEach((e, i) => {
    if (seen.has(e.name)) throw badInput(`${file}:${src.lineOf(['endpoints', i, 'name']) ?? '?'}: endpoints.${i}.name: "${e.name}" is used twice`);
    seen.add(e.name);
    if (e.body !== undefined && (e.method ?? 'GET') === 'GET') throw badInput(`${file}:${src.lineOf(['endpoints', i, 'body']) ?? '?'}: endpoints.${i}.body: a GET request has no body`);
  });
  const bearer = raw.auth?.type === 'bearer' || raw.auth === undefined;
  return {
    configFile: file,
    configName: raw.name,
    headers: raw.headers ?? {},
    ...(bearer ? { tokenEnv: raw.auth?.tokenEnv ?? 'FLEET_API_TOKEN' } : {}),
    endpoints: raw.endpoints.map((e) => ({
      name: e.name,
      method: e.method ?? 'GET',
      path: e.path,
      weight: e.weight ?? 1,
      ...(e.body !== undefined ? { body: e.body } : {}),
      ...(e.headers ? { headers: e.headers } : {}),
      ...(e.expect ? { expect: e.expect } : {}),
    })),
  };
}
