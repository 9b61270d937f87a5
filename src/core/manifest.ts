// The run manifest (run.json in the run folder): everything needed to verify a run later, and to
// reproduce it. Never holds secrets: connection URLs are stored without passwords.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeJsonAtomic } from './atomic-write.js';
import { badInput, invalidRun } from './errors.js';
import { stripPassword } from './redact.js';

export interface FaultRecord {
  /** restart-postgres | kill-platform | drop-device-links | pause-platform */
  action: string;
  /** as written in the profile */
  at: string;
  /** planned ms after the load start */
  plannedAtMs: number;
  /** planned downtime / pause / refusal */
  durationMs: number;
  /** when the action really began and when the stack was whole again (ISO) */
  start?: string;
  /** when it really began, ms after the load start */
  startOffsetMs?: number;
  end?: string;
  detail?: string;
  /**
   * Prometheus jobs this fault kept from being scraped (a killed or paused platform): their scrape gaps inside
   * [start, end] are the fault itself, not missing evidence, and the verifier excuses them (and says so).
   */
  silencesJobs?: string[];
  error?: string;
  skipped?: string;
}

export const MANIFEST_FILE = 'run.json';
export const RUN_ID_PATTERN = /^[A-Za-z0-9_-]+$/;

export interface RunManifest {
  runId: string; // [A-Za-z0-9_-]+ ; equals the k6 `testid` tag
  profile: string;
  seed: number;
  startedAt: string; // ISO; the exact load window
  endedAt: string;
  stages: Array<{ name: string; start: string; end: string; devices: number }>;
  devices: number;
  imeis: string[]; // every IMEI the run used
  target: { tcp: string; http?: string; ws?: string; embedded: boolean };
  prometheus: { url: string }; // credentials never stored
  postgres?: { url: string }; // REDACTED form only (no password)
  versions: Record<string, string>; // fleetload, k6, tcp extension, node, prometheus, postgres
  /** the load engine's outputs, relative to the run dir (engine-summary.json, ledger/) */
  engine?: { summaryFile: string; ledgerDir?: string; exitCode: number };
  /** runs made by the k6 generator before the engine replaced it (read only, for old run folders) */
  k6?: { exitCode: number; summaryFile?: string };
  generator?: Record<string, number>; // health figures, may be absent
  /**
   * Every reason the run cannot be trusted, fixed when it ended (generator health, dropped requests, failed faults,
   * missing evidence). `fleetload verify` re-applies them: an invalid run stays invalid.
   */
  invalidReasons?: string[];
  faults?: FaultRecord[]; // fault runs: each fault's action, planned time and real start/end
}

/** Writes run.json atomically; URLs lose their passwords on the way. */
export function writeManifest(dir: string, m: RunManifest): void {
  const problems = manifestProblems(m);
  if (problems.length > 0) throw invalidRun(`refusing to write an incomplete run manifest: ${problems.join('; ')}`);
  const safe: RunManifest = {
    ...m,
    prometheus: { url: stripPassword(m.prometheus.url) },
    ...(m.postgres ? { postgres: { url: stripPassword(m.postgres.url) } } : {}),
  };
  writeJsonAtomic(join(dir, MANIFEST_FILE), safe);
}

/** Reads and checks run.json. Missing, malformed or incomplete -> badInput (exit 2), naming the file and the fault. */
export function readManifest(dir: string): RunManifest {
  const file = join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw badInput(`${dir} is not a run folder: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, e);
  }
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch (e) {
    // a damaged run.json is something to fix or replace, not a verdict on the run: bad input (exit 2)
    throw badInput(`${file} is not valid JSON: ${(e as Error).message}`, e);
  }
  const problems = manifestProblems(m);
  if (problems.length > 0) throw badInput(`${file} is not a complete run manifest: ${problems.join('; ')}`);
  return m as RunManifest;
}

/** What is wrong with a manifest, one phrase per problem (empty when it is usable). */
export function manifestProblems(m: unknown): string[] {
  const p: string[] = [];
  if (m === null || typeof m !== 'object') return ['expected a JSON object'];
  const o = m as Record<string, unknown>;
  const str = (k: string) => typeof o[k] === 'string' && (o[k] as string).length > 0;
  const date = (v: unknown) => typeof v === 'string' && !Number.isNaN(Date.parse(v));
  if (!str('runId') || !RUN_ID_PATTERN.test(o.runId as string)) p.push('runId must match [A-Za-z0-9_-]+');
  if (!str('profile')) p.push('profile must be a non-empty string');
  if (typeof o.seed !== 'number') p.push('seed must be a number');
  if (!date(o.startedAt)) p.push('startedAt must be an ISO date');
  if (!date(o.endedAt)) p.push('endedAt must be an ISO date');
  if (!Array.isArray(o.stages)) p.push('stages must be a list');
  else
    o.stages.forEach((s: unknown, i) => {
      const st = s as Record<string, unknown> | null;
      if (!st || typeof st.name !== 'string' || !date(st.start) || !date(st.end) || typeof st.devices !== 'number')
        p.push(`stages[${i}] needs name, start, end (ISO) and devices`);
    });
  if (typeof o.devices !== 'number') p.push('devices must be a number');
  if (!Array.isArray(o.imeis) || !o.imeis.every((x) => typeof x === 'string')) p.push('imeis must be a list of strings');
  const t = o.target as Record<string, unknown> | undefined;
  if (!t || typeof t.tcp !== 'string' || typeof t.embedded !== 'boolean') p.push('target needs tcp and embedded');
  const prom = o.prometheus as Record<string, unknown> | undefined;
  if (!prom || typeof prom.url !== 'string') p.push('prometheus.url must be a string');
  if (o.postgres !== undefined && typeof (o.postgres as Record<string, unknown> | null)?.url !== 'string') p.push('postgres.url must be a string');
  if (!o.versions || typeof o.versions !== 'object') p.push('versions must be an object');
  const engine = o.engine as Record<string, unknown> | undefined;
  const k6 = o.k6 as Record<string, unknown> | undefined;
  if (engine !== undefined && (typeof engine !== 'object' || engine === null || typeof engine.summaryFile !== 'string' || typeof engine.exitCode !== 'number'))
    p.push('engine needs summaryFile (string) and exitCode (number)');
  if (k6 !== undefined && (typeof k6 !== 'object' || k6 === null || typeof k6.exitCode !== 'number')) p.push('k6.exitCode must be a number');
  if (engine === undefined && k6 === undefined) p.push('engine (the load engine\'s outputs) is missing');
  if (o.invalidReasons !== undefined && (!Array.isArray(o.invalidReasons) || !o.invalidReasons.every((x) => typeof x === 'string'))) p.push('invalidReasons must be a list of strings');
  return p;
}
