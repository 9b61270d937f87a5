// SLO file (YAML) -> validated SloFile. Every problem is reported as "file:line: field: what was expected",
// all at once, before any load starts. Structure is checked by slo.schema.json (the same schema editors use),
// meaning (criteria, placeholders, formulas, references) by the code below.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve, relative } from 'node:path';
import Ajv, { type ErrorObject } from 'ajv';
import { LineCounter, parseDocument, isMap, isPair, isScalar, type Document, type Node } from 'yaml';
import { badInput } from '../core/errors.js';
import { repoRoot } from '../core/repo-root.js';
import schema from './slo.schema.json';
import { parseCriterion } from './criteria.js';
import { FormulaError, formulaRefs, parseFormula, type Formula, type FormulaMode } from './formula.js';
import { findPlaceholders, isPlaceholder, PLACEHOLDERS, quotedSqlPlaceholders } from './placeholders.js';
import { LEDGER_QUERIES, type Criterion, type NoDataPolicy, type Objective, type SloFile, type Source, type TimestampPrecision } from './slo-types.js';

export interface SloIssue {
  file: string;
  line: number;
  field: string;
  message: string;
}

export const formatIssue = (i: SloIssue) => `${i.file}:${i.line}: ${i.field}: ${i.message}`;

/** Placeholders a derived formula may use as numbers (seconds). */
const DERIVED_WINDOW_REFS = new Set(['start', 'end', 'duration']);

let validator: ReturnType<Ajv['compile']> | undefined;
const validate = () => (validator ??= new Ajv({ allErrors: true, strict: false, verbose: true }).compile(schema));

type Path = Array<string | number>;

/** Where a problem is reported: the file as displayed, the line of a YAML node, and its field name. */
interface Reporter {
  display: string;
  at(path: Path, keyOf?: string): number;
  add(path: Path, message: string, keyOf?: string): void;
}

/** Parses and validates SLO text. `file` is used in messages only. */
export function parseSlo(text: string, file: string): { slo?: SloFile; issues: SloIssue[] } {
  const display = displayPath(file);
  const yaml = readYaml(text, display);
  if (!yaml.ok) return { issues: yaml.issues };
  const { doc, lineCounter, data } = yaml;
  const issues: SloIssue[] = [];
  const at = (path: Path, keyOf?: string) => lineAt(doc, lineCounter, path, keyOf);
  const add = (path: Path, message: string, keyOf?: string) =>
    issues.push({ file: display, line: at(path, keyOf), field: fieldName(data, keyOf ? [...path, keyOf] : path), message });
  const r: Reporter = { display, at, add };

  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    add([], 'expected a mapping with version, total and objectives');
    return { issues };
  }

  const v = validate();
  if (!v(data)) for (const e of schemaIssues(v.errors ?? [])) add(e.path, e.message, e.keyOf);

  // Meaning. Checked on whatever is well-typed, so one run reports as much as possible.
  const root = data as Record<string, unknown>;
  const total = root.total as Record<string, unknown> | undefined;
  if (total && typeof total.pass === 'number' && typeof total.warning === 'number' && total.warning > total.pass)
    add(['total', 'warning'], `expected warning threshold (${total.warning}) <= pass threshold (${total.pass})`);

  const rawObjectives = Array.isArray(root.objectives) ? (root.objectives as unknown[]) : [];
  const objectives = parseObjectives(rawObjectives, r);
  checkFormulaCycles(objectives, r);
  if (rawObjectives.length > 0 && objectives.length === rawObjectives.length && objectives.every((o) => o.reportOnly))
    add(['objectives'], 'at least one objective must count towards the verdict (all are reportOnly)');

  if (issues.length > 0) return { issues: dedupe(issues).sort((a, b) => a.line - b.line) };
  return {
    issues,
    slo: {
      version: 1,
      path: resolve(file),
      total: { pass: Number(total!.pass), warning: Number(total!.warning) },
      platform: { timestampPrecision: ((root.platform as { timestampPrecision?: TimestampPrecision } | undefined)?.timestampPrecision ?? '1ms') },
      sha256: createHash('sha256').update(text).digest('hex'),
      objectives,
    },
  };
}

type YamlRead = { ok: true; doc: Document; lineCounter: LineCounter; data: unknown } | { ok: false; issues: SloIssue[] };

/** YAML text -> plain data, keeping the document for line numbers; syntax errors are all reported at once. */
function readYaml(text: string, display: string): YamlRead {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const issues: SloIssue[] = [];
  for (const e of doc.errors) {
    const line = e.linePos?.[0]?.line ?? lineCounter.linePos(e.pos[0]).line;
    issues.push({ file: display, line, field: '(yaml)', message: `YAML syntax error: ${e.message.split('\n')[0]}` });
  }
  if (issues.length > 0) return { ok: false, issues };
  try {
    // an SLO file needs few aliases, if any: more is an alias bomb, refused (yaml's own limit: 100)
    return { ok: true, doc, lineCounter, data: doc.toJS({ maxAliasCount: 100 }) };
  } catch (e) {
    return { ok: false, issues: [{ file: display, line: 1, field: '(yaml)', message: `YAML refused: ${(e as Error).message} (too many aliases: an alias bomb?)` }] };
  }
}

/** Every well-formed objective entry, in file order; entries that are not mappings were reported by the schema. */
function parseObjectives(rawObjectives: unknown[], r: Reporter): Objective[] {
  const objectives: Objective[] = [];
  const firstLine = new Map<string, number>();
  rawObjectives.forEach((raw, i) => {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return;
    objectives.push(parseObjective(raw as Record<string, unknown>, i, rawObjectives, firstLine, r));
  });
  return objectives;
}

function parseObjective(o: Record<string, unknown>, i: number, rawObjectives: unknown[], firstLine: Map<string, number>, r: Reporter): Objective {
  const p: Path = ['objectives', i];
  const id = typeof o.id === 'string' ? o.id : '';
  if (id) checkId(id, p, firstLine, r);
  const pass = criteriaOf(o, 'pass', p, r);
  const warning = criteriaOf(o, 'warning', p, r);
  const source = o.source as Source;
  const query = typeof o.query === 'string' ? o.query : '';
  const samplesQuery = typeof o.samplesQuery === 'string' ? o.samplesQuery : undefined;
  const stages = o.stages === true;
  const qc: QueryContext = { p, id, source, stages, rawObjectives };
  const formula = query ? checkQuery(query, 'query', qc, r) : undefined;
  const samplesFormula = samplesQuery ? checkQuery(samplesQuery, 'samplesQuery', qc, r) : undefined;
  const appliesIf = typeof o.appliesIf === 'string' ? o.appliesIf : undefined;
  checkObjectiveRules(o, qc, samplesQuery, pass, warning, appliesIf, r);

  return {
    id,
    description: typeof o.description === 'string' ? o.description : '',
    source,
    query,
    formula,
    unit: typeof o.unit === 'string' ? o.unit : '',
    pass,
    warning,
    weight: typeof o.weight === 'number' ? o.weight : 1,
    key: o.key === true,
    onNoData: (o.onNoData as NoDataPolicy | undefined) ?? 'fail',
    minSamples: typeof o.minSamples === 'number' ? o.minSamples : samplesQuery ? 1 : undefined,
    samplesQuery,
    samplesFormula,
    reportOnly: o.reportOnly === true,
    stages,
    ...(appliesIf !== undefined ? { appliesIf } : {}),
    at: `${r.display}:${r.at(p)}`,
  };
}

/** An id is unique, and not a placeholder name (a formula could not tell the two apart). */
function checkId(id: string, p: Path, firstLine: Map<string, number>, r: Reporter): void {
  if (firstLine.has(id)) r.add([...p, 'id'], `duplicate id "${id}" (first defined at line ${firstLine.get(id)})`);
  else firstLine.set(id, r.at([...p, 'id']));
  if ((PLACEHOLDERS as readonly string[]).includes(id)) r.add([...p, 'id'], `"${id}" is reserved for a placeholder; choose another id`);
}

/** The pass or warning criteria (one string or a list); each unparsable one is reported at its own line. */
function criteriaOf(o: Record<string, unknown>, name: 'pass' | 'warning', p: Path, r: Reporter): Criterion[] {
  const val = o[name];
  const list = typeof val === 'string' ? [val] : Array.isArray(val) ? val : [];
  const out: Criterion[] = [];
  list.forEach((s, j) => {
    if (typeof s !== 'string') return;
    const c = parseCriterion(s);
    if (typeof c === 'string') r.add(typeof val === 'string' ? [...p, name] : [...p, name, j], c);
    else out.push(c);
  });
  return out;
}

/** What a query is checked against: its objective's place, id, source and stage setting, and its siblings' ids. */
interface QueryContext {
  p: Path;
  id: string;
  source: Source;
  stages: boolean;
  rawObjectives: unknown[];
}

/** Checks a query or samplesQuery for its source; returns the parsed formula for formula sources. */
function checkQuery(q: string, field: 'query' | 'samplesQuery', qc: QueryContext, r: Reporter): Formula | undefined {
  const qp: Path = [...qc.p, field];
  const { source } = qc;
  if (source === 'prometheus' || source === 'postgres') {
    checkQueryPlaceholders(q, qp, qc, r);
    return undefined;
  }
  if (source === 'ledger') {
    if (field === 'samplesQuery') r.add(qp, 'a ledger objective counts records exactly; it has no samplesQuery');
    else if (!(LEDGER_QUERIES as readonly string[]).includes(q.trim())) r.add(qp, `expected one of ${LEDGER_QUERIES.join(' | ')}, got ${JSON.stringify(q)}`);
    return undefined;
  }
  if (source === 'engine' || source === 'k6' || source === 'derived') return checkFormulaQuery(q, source, qp, qc, r);
  return undefined;
}

/** PromQL and SQL: known placeholders only; in SQL they become bound parameters, so never quoted nor mixed with $1. */
function checkQueryPlaceholders(q: string, qp: Path, qc: QueryContext, r: Reporter): void {
  for (const ph of findPlaceholders(q)) {
    if (!isPlaceholder(ph.name)) r.add(qp, `unknown placeholder \${${ph.name}}; expected one of ${PLACEHOLDERS.map((n) => `\${${n}}`).join(' ')}`);
    else if (ph.name === 'stage' && !qc.stages) r.add(qp, '${stage} is only available with "stages: true"');
  }
  if (qc.source === 'postgres' && quotedSqlPlaceholders(q).length > 0)
    r.add(qp, "placeholders become bound parameters and must not be inside quotes (write ${runId}, not '${runId}')");
  if (qc.source === 'postgres' && /\$[0-9]/.test(q.replace(/\$\{[^}]*\}/g, ''))) r.add(qp, 'use placeholders like ${start}, not positional parameters $1');
}

/** Engine, k6 and derived queries are formulas; a derived one may refer only to other objectives and the window. */
function checkFormulaQuery(q: string, source: FormulaMode, qp: Path, qc: QueryContext, r: Reporter): Formula | undefined {
  const { id } = qc;
  try {
    const f = parseFormula(q, source);
    if (source === 'derived') {
      for (const ref of formulaRefs(f)) {
        if (DERIVED_WINDOW_REFS.has(ref)) continue;
        if (ref === 'stage') r.add(qp, '${stage} is text and cannot be used in a formula');
        else if (!qc.rawObjectives.some((x) => x && typeof x === 'object' && (x as Record<string, unknown>).id === ref))
          r.add(qp, `refers to unknown objective "\${${ref}}"`);
        else if (ref === id) r.add(qp, 'a formula cannot refer to its own objective');
      }
    }
    return f;
  } catch (e) {
    if (e instanceof FormulaError) r.add(qp, `invalid ${source === 'k6' ? 'k6 summary expression' : source === 'engine' ? 'engine summary expression' : 'formula'}: ${e.message}`);
    else throw e;
  }
  return undefined;
}

/** Fields that only make sense together, and contradictions that would make the file say one thing and the verdict do another. */
function checkObjectiveRules(
  o: Record<string, unknown>,
  qc: QueryContext,
  samplesQuery: string | undefined,
  pass: Criterion[],
  warning: Criterion[],
  appliesIf: string | undefined,
  r: Reporter,
): void {
  const { p, source, stages } = qc;
  if (o.minSamples !== undefined && samplesQuery === undefined) r.add([...p, 'minSamples'], 'minSamples needs a samplesQuery that counts the samples');
  if (stages && (source === 'k6' || source === 'engine' || source === 'ledger'))
    r.add([...p, 'stages'], `the ${source === 'ledger' ? 'ledger reconciliation' : `${source} summary`} covers the whole run; per-stage evaluation needs source prometheus, postgres or derived`);
  if (o.warning !== undefined && o.pass === undefined) r.add([...p, 'warning'], 'a warning band needs pass criteria');
  if (o.key === true && o.onNoData === 'pass') r.add([...p, 'onNoData'], 'a key objective cannot pass without data (onNoData: pass); use fail or warn');
  if (o.key === true && o.reportOnly === true) r.add([...p, 'key'], 'a reportOnly objective is never counted, so it cannot be key');
  if (source === 'ledger' && o.onNoData === 'pass') r.add([...p, 'onNoData'], 'record reconciliation without a ledger proves nothing; onNoData: pass is not allowed on a ledger objective');
  const stricter = stricterBand(pass, warning);
  if (stricter) r.add([...p, 'warning'], `the warning band ${stricter.w} is stricter than the pass criterion ${stricter.p}: a value failing pass could never be a warning`);
  if (appliesIf !== undefined && !/^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$/.test(appliesIf)) r.add([...p, 'appliesIf'], `expected an engine summary path like api.configured, got ${JSON.stringify(appliesIf)}`);
}

/** Derived formulas must not form cycles: each cycle is reported once, at the objective that closes it. */
function checkFormulaCycles(objectives: Objective[], r: Reporter): void {
  const byId = new Map(objectives.map((o, i) => [o.id, { o, i }]));
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (id: string, trail: string[]): void => {
    const entry = byId.get(id);
    if (!entry || entry.o.source !== 'derived' || !entry.o.formula) return;
    if (state.get(id) === 'done') return;
    if (state.get(id) === 'visiting') {
      const cycle = [...trail.slice(trail.indexOf(id)), id];
      r.add(['objectives', entry.i, 'query'], `formulas refer to each other in a cycle: ${cycle.join(' -> ')}`);
      return;
    }
    state.set(id, 'visiting');
    for (const ref of formulaRefs(entry.o.formula)) visit(ref, [...trail, id]);
    state.set(id, 'done');
  };
  for (const o of objectives) if (!state.has(o.id)) visit(o.id, []);
}

/** A pass/warning pair where the warning band can never hold when pass fails (same direction, tighter bound). */
function stricterBand(pass: Criterion[], warning: Criterion[]): { p: string; w: string } | undefined {
  for (const p of pass)
    for (const w of warning) {
      if (p.kind === 'absolute' && w.kind === 'absolute') {
        const up = (op: string) => op === '<' || op === '<=';
        const down = (op: string) => op === '>' || op === '>=';
        const tighter =
          (up(p.op) && up(w.op) && (w.value < p.value || (w.value === p.value && w.op === '<' && p.op === '<='))) ||
          (down(p.op) && down(w.op) && (w.value > p.value || (w.value === p.value && w.op === '>' && p.op === '>=')));
        if (tighter) return { p: p.text, w: w.text };
      }
      if (p.kind === 'range' && w.kind === 'range' && w.low >= p.low && w.high <= p.high) return { p: p.text, w: w.text };
    }
  return undefined;
}

/** Reads, validates and returns an SLO file; the shipped default when no path is given. Throws badInput. */
export function loadSloFile(path?: string): SloFile {
  const file = path ?? defaultSloPath();
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw badInput(`cannot read SLO file ${file}: ${(e as Error).message}`, e);
  }
  const { slo, issues } = parseSlo(text, file);
  if (!slo) {
    throw badInput(`invalid SLO file ${displayPath(file)} (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n${issues.map((i) => `  ${formatIssue(i)}`).join('\n')}`);
  }
  return slo;
}

export const defaultSloPath = () => join(repoRoot(), 'src/verify/default-slo.yaml');

function displayPath(file: string): string {
  const rel = relative(process.cwd(), resolve(file));
  return rel && !rel.startsWith('..') ? rel : file;
}

function dedupe(issues: SloIssue[]): SloIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const k = formatIssue(i);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** "objectives[2] (ack_latency_p95).pass[0]" */
function fieldName(data: unknown, path: Path): string {
  if (path.length === 0) return '(top level)';
  let out = '';
  let cur: unknown = data;
  for (const seg of path) {
    if (typeof seg === 'number') {
      out += `[${seg}]`;
      cur = Array.isArray(cur) ? cur[seg] : undefined;
      const id = cur && typeof cur === 'object' && typeof (cur as Record<string, unknown>).id === 'string' ? (cur as Record<string, unknown>).id : undefined;
      if (id && out.startsWith('objectives') && !out.includes('(')) out += ` (${id})`;
    } else {
      out += out ? `.${seg}` : seg;
      cur = cur && typeof cur === 'object' ? (cur as Record<string, unknown>)[seg] : undefined;
    }
  }
  return out;
}

/** Line of the node at `path` (or of the key `keyOf` inside it); falls back to the nearest existing parent. */
function lineAt(doc: Document, lc: LineCounter, path: Path, keyOf?: string): number {
  if (keyOf !== undefined) {
    const parent = doc.getIn(path, true) as Node | undefined;
    if (isMap(parent)) {
      const pair = parent.items.find((it) => isPair(it) && isScalar(it.key) && it.key.value === keyOf);
      const r = (pair?.key as Node | undefined)?.range;
      if (r) return lc.linePos(r[0]).line;
    }
  }
  for (let n = path.length; n >= 0; n--) {
    const node = (n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true)) as Node | undefined;
    if (node?.range) {
      // For a value, point at its key's line when the value starts on a later line (block sequences/maps).
      if (n > 0) {
        const parent = (n === 1 ? doc.contents : doc.getIn(path.slice(0, n - 1), true)) as Node | undefined;
        if (isMap(parent)) {
          const pair = parent.items.find((it) => isPair(it) && isScalar(it.key) && it.key.value === path[n - 1]);
          const kr = (pair?.key as Node | undefined)?.range;
          if (kr && !isScalar(node)) return lc.linePos(kr[0]).line;
        }
      }
      return lc.linePos(node.range[0]).line;
    }
  }
  return 1;
}

interface SchemaIssue {
  path: Path;
  keyOf?: string;
  message: string;
}

/** Ajv's errors -> one message each, in the file's own terms (field names, expected values, what was found). */
function schemaIssues(errors: ErrorObject[]): SchemaIssue[] {
  const oneOfPaths = errors.filter((e) => e.keyword === 'oneOf').map((e) => e.instancePath);
  const out: SchemaIssue[] = [];
  for (const e of errors) {
    if (e.keyword === 'if') continue;
    // Errors under a failed oneOf (criteria) collapse into one message at the oneOf.
    if (oneOfPaths.some((p) => e.instancePath.startsWith(p)) && e.keyword !== 'oneOf') continue;
    out.push(schemaIssue(e, jsonPointerPath(e.instancePath)));
  }
  return out;
}

/** "/objectives/2/pass" -> ['objectives', 2, 'pass'] (JSON Pointer escapes undone). */
function jsonPointerPath(p: string): Path {
  return p
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

function schemaIssue(e: ErrorObject, path: Path): SchemaIssue {
  const got = describe(e.data);
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'oneOf':
      return { path, message: `expected a criterion string (e.g. "<= 0.5") or a list of them, got ${got}` };
    case 'required': {
      const missing = String(params.missingProperty);
      const hint = missing === 'pass' ? ' (or set reportOnly: true)' : '';
      return { path, message: `missing required field "${missing}"${hint}` };
    }
    case 'additionalProperties': {
      const extra = String(params.additionalProperty);
      const allowed = Object.keys(((e.parentSchema as { properties?: object } | undefined)?.properties ?? {}) as object);
      return { path, keyOf: extra, message: `unknown field "${extra}"; expected one of: ${allowed.join(', ')}` };
    }
    case 'enum':
      return { path, message: `expected one of ${(params.allowedValues as unknown[]).join(' | ')}, got ${got}` };
    case 'const':
      return { path, message: `expected ${JSON.stringify(params.allowedValue)}, got ${got}` };
    case 'type':
      return { path, message: `expected ${params.type === 'integer' ? 'a whole number' : `a ${params.type}`}, got ${got}` };
    case 'pattern':
      return {
        path,
        message: path[path.length - 1] === 'id' ? `expected lower-case letters, digits and _ only, got ${got}` : `expected text matching ${String(params.pattern)}, got ${got}`,
      };
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return { path, message: `expected a number ${String(params.comparison)} ${String(params.limit)}, got ${got}` };
    case 'minItems':
      return { path, message: `expected at least ${String(params.limit)} item(s)` };
    case 'minLength':
      return { path, message: 'expected a non-empty string' };
    default:
      return { path, message: e.message ?? 'invalid' };
  }
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return `${typeof v} ${String(v)}`;
  if (Array.isArray(v)) return 'a list';
  return 'a mapping';
}
