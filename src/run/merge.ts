// `fleetload merge <shard-dir>... --out <run-dir>`: the folders of one run's shards (shards.ts) become one run folder
// that `fleetload verify` judges as one run: engine-summary.json rebuilt by buildSummary from the shards' summed
// counters and exactly merged histograms, the ledgers side by side under ledger/ (their part names s<i>-w<k> never
// collide), and run.json with the window from the earliest start to the latest end and every shard's IMEIs.
// Phases: read the folders → check they are one run (else bad input, exit 2) → find what is missing or failed (each
// one a reason that makes the merged run invalid: never a pass) → merge → write.
import { copyFileSync, existsSync, linkSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { badInput, ExitCode } from '../core/errors.js';
import { ENGINE_SUMMARY_FILE, type EngineSummary } from '../core/engine-summary.js';
import { LEDGER_DIR } from '../core/ledger.js';
import { writeManifest, type RunManifest } from '../core/manifest.js';
import { redactUrl } from '../core/redact.js';
import { mergeExact, type StatsSnapshot } from '../engine/stats.js';
import { buildSummary } from '../engine/summary.js';
import { imeiForIndex } from '../protocol/teltonika/index.js';
import { readShardRecord, SHARD_FILE, type ShardRecord } from './shards.js';

export const SHARDS_INDEX_FILE = 'shards.json';

export interface MergeOptions {
  shardDirs: string[];
  out: string;
  /** where the run's Prometheus is (run.json needs it for `verify`); default: none recorded */
  prometheusUrl?: string;
  /** the platform's PostgreSQL (stored without its password) */
  pgUrl?: string;
  log: (line: string) => void;
}

export interface MergeOutcome {
  runDir: string;
  manifest: RunManifest;
  summary: EngineSummary;
  /** empty = every shard ran, on time, with a healthy generator */
  invalidReasons: string[];
  exitCode: number;
}

interface ShardInput {
  dir: string;
  record: ShardRecord;
  summary?: EngineSummary;
}

const who = (r: Pick<ShardRecord, 'shard'>) => `shard ${r.shard.index}/${r.shard.count}`;

export function mergeShards(o: MergeOptions): MergeOutcome {
  if (o.shardDirs.length === 0) throw badInput('merge: give the shard folders (the --out folders of `fleetload generate --shard i/n`)');
  // a shard that never started (a pod never scheduled) leaves no folder: its index is then reported missing
  const present = o.shardDirs.filter((d) => existsSync(d) || (o.log(`merge: ${d} does not exist: skipped (its shard is reported missing)`), false));
  if (present.length === 0) throw badInput(`merge: none of the shard folders exists (${o.shardDirs.join(', ')})`);
  const inputs = present.map(readInput);
  checkOneRun(inputs);
  const count = inputs[0].record.shard.count;
  const done = inputs.filter((x): x is Required<ShardInput> => x.record.status === 'done' && x.summary !== undefined && x.record.counters !== undefined).sort((a, b) => a.record.shard.index - b.record.shard.index);
  const reasons = [...missingOrFailed(inputs, count), ...shardReasons(done)];
  if (done.length === 0) throw badInput(`merge: none of the ${inputs.length} shard folder(s) holds a finished shard: ${reasons.join('; ')}`);
  const runDir = resolve(o.out);
  mkdirSync(runDir, { recursive: true });
  reasons.push(...gatherLedgers(done, runDir));
  const summary = mergedSummary(done, reasons);
  writeFileSync(join(runDir, ENGINE_SUMMARY_FILE), `${JSON.stringify(summary, null, 2)}\n`);
  const manifest = mergedManifest(o, done, summary, reasons);
  writeManifest(runDir, manifest);
  writeFileSync(join(runDir, SHARDS_INDEX_FILE), `${JSON.stringify(inputs.map((x) => ({ dir: x.dir, ...x.record, counters: undefined })), null, 2)}\n`);
  o.log(`merged ${done.length}/${count} shards of run ${manifest.runId} into ${runDir}: records sent ${summary.records.sent}, ACKed ${summary.records.acked}; ACK p95 ${summary.ackLatencyMs?.p95 ?? 'n/a'} ms`);
  for (const r of reasons) o.log(`invalid: ${r}`);
  return { runDir, manifest, summary, invalidReasons: reasons, exitCode: reasons.length > 0 ? ExitCode.InvalidRun : ExitCode.Pass };
}

function readInput(dir: string): ShardInput {
  if (!statSync(dir).isDirectory()) throw badInput(`merge: ${dir} is not a folder`);
  const record = readShardRecord(dir);
  if (!record) throw badInput(`merge: ${dir} is not a shard folder (no ${SHARD_FILE}; it is written by \`fleetload generate --out\` as soon as the shard starts)`);
  const file = join(dir, ENGINE_SUMMARY_FILE);
  if (!existsSync(file)) return { dir, record };
  let summary: EngineSummary;
  try {
    summary = JSON.parse(readFileSync(file, 'utf8')) as EngineSummary;
  } catch (e) {
    throw badInput(`merge: ${file} is not valid JSON: ${(e as Error).message}`);
  }
  if (summary.runId !== record.runId || summary.seed !== record.seed || summary.shard.index !== record.shard.index || summary.shard.count !== record.shard.count)
    throw badInput(`merge: ${file} (run ${summary.runId}, seed ${summary.seed}, shard ${summary.shard.index}/${summary.shard.count}) does not belong to ${join(dir, SHARD_FILE)} (run ${record.runId}, seed ${record.seed}, ${who(record)})`);
  return { dir, record, summary };
}

/** Every folder must be a shard of the same run: run id, seed, profile and fleet config, shard count; no index twice. */
function checkOneRun(inputs: ShardInput[]): void {
  const first = inputs[0].record;
  const fields: Array<[string, (r: ShardRecord) => unknown]> = [
    ['run id', (r) => r.runId],
    ['seed', (r) => r.seed],
    ['profile', (r) => r.profile],
    ['fleet config (profile contents, --devices, --duration)', (r) => r.configHash],
    ['shard count', (r) => r.shard.count],
    ['fleetload version', (r) => r.fleetload],
  ];
  for (const [name, get] of fields) {
    const odd = inputs.find((x) => get(x.record) !== get(first));
    if (odd) throw badInput(`merge: the folders are not shards of one run: ${name} differs — ${inputs[0].dir} has ${JSON.stringify(get(first))}, ${odd.dir} has ${JSON.stringify(get(odd.record))}`);
  }
  const seen = new Map<number, string>();
  for (const x of inputs) {
    const other = seen.get(x.record.shard.index);
    if (other) throw badInput(`merge: ${who(x.record)} appears twice: ${other} and ${x.dir}`);
    seen.set(x.record.shard.index, x.dir);
  }
}

function missingOrFailed(inputs: ShardInput[], count: number): string[] {
  const out: string[] = [];
  const byIndex = new Map(inputs.map((x) => [x.record.shard.index, x]));
  for (let i = 0; i < count; i++) {
    const x = byIndex.get(i);
    const w = `shard ${i}/${count}`;
    if (!x) out.push(`${w}: no output among the merged folders (it did not run, or its folder was not gathered): its devices are missing from the run`);
    else if (x.record.status === 'failed') out.push(`${w} failed: ${x.record.error ?? 'no message'} (exit ${x.record.exitCode ?? '?'})`);
    else if (x.record.status === 'running') out.push(`${w} never finished (${SHARD_FILE} still says running: the process died or was killed)`);
    else if (!x.summary) out.push(`${w}: ${ENGINE_SUMMARY_FILE} is missing from ${x.dir}`);
    else if (!x.record.counters) out.push(`${w}: ${SHARD_FILE} in ${x.dir} has no counters`);
  }
  return out;
}

/** The shards' own reasons (generator health, late start, clock skew), each named by its shard. */
function shardReasons(done: Array<Required<ShardInput>>): string[] {
  const out: string[] = [];
  for (const x of done) for (const r of x.summary.generator.invalidReasons) out.push(r.startsWith('shard ') ? r : `${who(x.record)}: load engine: ${r}`);
  return out;
}

/** Hard links where the file system allows (no copy of a large ledger), copies elsewhere. */
function gatherLedgers(done: Array<Required<ShardInput>>, runDir: string): string[] {
  const out: string[] = [];
  const dest = join(runDir, LEDGER_DIR);
  mkdirSync(dest, { recursive: true });
  for (const x of done) {
    for (const rel of x.summary.ledger.files) {
      const from = join(x.dir, rel);
      const to = join(dest, basename(rel));
      if (resolve(from) === resolve(to)) continue;
      if (!existsSync(from)) {
        out.push(`${who(x.record)}: ledger file ${rel} is missing from ${x.dir}: its ACKs cannot be reconciled`);
        continue;
      }
      rmSync(to, { force: true });
      try {
        linkSync(from, to);
      } catch {
        copyFileSync(from, to);
      }
    }
  }
  return out;
}

const sumBy = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

function mergedSummary(done: Array<Required<ShardInput>>, reasons: string[]): EngineSummary {
  const ss = done.map((x) => x.summary);
  const counters: Record<string, number> = {};
  for (const x of done) for (const [k, v] of Object.entries(x.record.counters ?? {})) counters[k] = (counters[k] ?? 0) + v;
  const counts: StatsSnapshot = { counters, gauges: {}, histograms: {} };
  const first = ss[0];
  const g = ss.map((s) => s.generator);
  return buildSummary({
    runId: first.runId,
    seed: first.seed,
    fleetloadVersion: first.fleetload,
    loadStart: new Date(Math.min(...ss.map((s) => Date.parse(s.loadStart)))),
    loadEnd: new Date(Math.max(...ss.map((s) => Date.parse(s.loadEnd)))),
    stages: mergedStages(ss),
    // the merged run is the whole fleet: one "shard" of one
    shard: { index: 0, count: 1 },
    plannedDevices: sumBy(ss.map((s) => s.devices.planned)),
    // shards peak at about the same moment; the sum of their peaks bounds the fleet's peak from above
    connectedPeak: sumBy(ss.map((s) => s.devices.connectedPeak)),
    apiConfigured: ss.some((s) => s.api.configured),
    wsConfigured: ss.some((s) => s.ws.configured),
    wsClients: Math.max(...ss.map((s) => s.ws.clients)),
    counts,
    exact: mergeExact(ss.map((s) => s.histograms)),
    generator: {
      workers: sumBy(g.map((x) => x.workers)),
      rssPeakBytes: Math.max(...g.map((x) => x.rssPeakBytes)),
      cpuSeconds: sumBy(g.map((x) => x.cpuSeconds)),
      cpuShareOfMachine: Math.max(...g.map((x) => x.cpuShareOfMachine)),
      cores: Math.max(...g.map((x) => x.cores)),
      eventLoopDelayP99MaxMs: Math.max(...g.map((x) => x.eventLoopDelayP99MaxMs)),
      generatorErrors: sumBy(g.map((x) => x.generatorErrors)),
      invalidReasons: reasons,
    },
    ledger: { files: ss.flatMap((s) => s.ledger.files.map((f) => `${LEDGER_DIR}/${basename(f)}`)).sort(), entries: sumBy(ss.map((s) => s.ledger.entries)), records: sumBy(ss.map((s) => s.ledger.records)) },
  });
}

/** A stage spans from the earliest shard's start of it to the latest shard's end. */
function mergedStages(ss: EngineSummary[]): EngineSummary['stages'] {
  return ss[0].stages.map((st) => {
    const same = ss.map((s) => s.stages.find((x) => x.name === st.name) ?? st);
    return { name: st.name, devices: st.devices, start: new Date(Math.min(...same.map((x) => Date.parse(x.start)))).toISOString(), end: new Date(Math.max(...same.map((x) => Date.parse(x.end)))).toISOString() };
  });
}

function mergedManifest(o: MergeOptions, done: Array<Required<ShardInput>>, s: EngineSummary, reasons: string[]): RunManifest {
  const r = done[0].record;
  // the IMEIs of the shards that ran, in device order: for all n shards, exactly the single-process list
  const devices = done.flatMap((x) => Array.from({ length: r.fleetDevices }, (_, j) => j).filter((j) => j % r.shard.count === x.record.shard.index)).sort((a, b) => a - b);
  const figures: Record<string, number> = {};
  for (const x of done) for (const [k, v] of Object.entries(x.record.generatorFigures ?? {})) figures[k] = Math.max(figures[k] ?? -Infinity, v);
  return {
    runId: r.runId,
    profile: r.profile,
    seed: r.seed,
    startedAt: s.loadStart,
    endedAt: s.loadEnd,
    stages: s.stages.map((st) => ({ name: st.name, start: st.start, end: st.end, devices: st.devices })),
    devices: r.fleetDevices,
    imeis: devices.map((j) => imeiForIndex(r.seed, j)),
    target: { tcp: r.target.tcp, ...(r.target.http ? { http: r.target.http } : {}), embedded: false },
    prometheus: { url: o.prometheusUrl ? redactUrl(o.prometheusUrl) : '' },
    ...(o.pgUrl ? { postgres: { url: redactUrl(o.pgUrl) } } : {}),
    versions: { fleetload: r.fleetload, engine: r.fleetload, node: process.version },
    engine: { summaryFile: ENGINE_SUMMARY_FILE, ledgerDir: LEDGER_DIR, exitCode: done.length === r.shard.count ? 0 : ExitCode.InvalidRun },
    generator: figures,
    invalidReasons: reasons,
  };
}
