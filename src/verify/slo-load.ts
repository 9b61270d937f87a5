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
import { FormulaError, formulaRefs, parseFormula, type Formula } from './formula.js';
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

/** Parses and validates SLO text. `file` is used in messages only. */
export function parseSlo(text: string, file: string): { slo?: SloFile; issues: SloIssue[] } {
  const display = displayPath(file);
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const issues: SloIssue[] = [];
  for (const e of doc.errors) {
    const line = e.linePos?.[0]?.line ?? lineCounter.linePos(e.pos[0]).line;
    issues.push({ file: display, line, field: '(yaml)', message: `YAML syntax error: ${e.message.split('\n')[0]}` });
  }
  if (issues.length > 0) return { issues };

  let data: unknown;
  try {
    // an SLO file needs few aliases, if any: more is an alias bomb, refused (yaml's own limit: 100)
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    return { issues: [{ file: display, line: 1, field: '(yaml)', message: `YAML refused: ${(e as Error).message} (too many aliases: an alias bomb?)` }] };
  }
  const at = (path: Path, keyOf?: string) => lineAt(doc, lineCounter, path, keyOf);
  const add = (path: Path, message: string, keyOf?: string) =>
    issues.push({ file: display, line: at(path, keyOf), field: fieldName(data, keyOf ? [...path, keyOf] : path), message });

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
  const objectives: Objective[] = [];
  const firstLine = new Map<string, number>();
  rawObjectives.forEach((raw, i) => {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return;
    const o = raw as Record<string, unknown>;
    const p: Path = ['objectives', i];
    const id = typeof o.id === 'string' ? o.id : '';
    if (id) {
      if (firstLine.has(id)) add([...p, 'id'], `duplicate id "${id}" (first defined at line ${firstLine.get(id)})`);
      else firstLine.set(id, at([...p, 'id']));
      if ((PLACEHOLDERS as readonly string[]).includes(id)) add([...p, 'id'], `"${id}" is reserved for a placeholder; choose another id`);
    }
    const criteria = (name: 'pass' | 'warning'): Criterion[] => {
      const val = o[name];
      const list = typeof val === 'string' ? [val] : Array.isArray(val) ? val : [];
      const out: Criterion[] = [];
      list.forEach((s, j) => {
        if (typeof s !== 'string') return;
        const c = parseCriterion(s);
        if (typeof c === 'string') add(typeof val === 'string' ? [...p, name] : [...p, name, j], c);
        else out.push(c);
      });
      return out;
    };
    const pass = criteria('pass');
    const warning = criteria('warning');
    const source = o.source as Source;
    const query = typeof o.query === 'string' ? o.query : '';
    const samplesQuery = typeof o.samplesQuery === 'string' ? o.samplesQuery : undefined;
    const stages = o.stages === true;

    const checkQuery = (q: string, field: 'query' | 'samplesQuery'): Formula | undefined => {
      const qp: Path = [...p, field];
      if (source === 'prometheus' || source === 'postgres') {
        for (const ph of findPlaceholders(q)) {
          if (!isPlaceholder(ph.name)) add(qp, `unknown placeholder \${${ph.name}}; expected one of ${PLACEHOLDERS.map((n) => `\${${n}}`).join(' ')}`);
          else if (ph.name === 'stage' && !stages) add(qp, '${stage} is only available with "stages: true"');
        }
        if (source === 'postgres' && quotedSqlPlaceholders(q).length > 0)
          add(qp, "placeholders become bound parameters and must not be inside quotes (write ${runId}, not '${runId}')");
        if (source === 'postgres' && /\$[0-9]/.test(q.replace(/\$\{[^}]*\}/g, ''))) add(qp, 'use placeholders like ${start}, not positional parameters $1');
        return undefined;
      }
      if (source === 'ledger') {
        if (field === 'samplesQuery') add(qp, 'a ledger objective counts records exactly; it has no samplesQuery');
        else if (!(LEDGER_QUERIES as readonly string[]).includes(q.trim())) add(qp, `expected one of ${LEDGER_QUERIES.join(' | ')}, got ${JSON.stringify(q)}`);
        return undefined;
      }
      if (source === 'engine' || source === 'k6' || source === 'derived') {
        try {
          const f = parseFormula(q, source);
          if (source === 'derived') {
            for (const ref of formulaRefs(f)) {
              if (DERIVED_WINDOW_REFS.has(ref)) continue;
              if (ref === 'stage') add(qp, '${stage} is text and cannot be used in a formula');
              else if (!rawObjectives.some((x) => x && typeof x === 'object' && (x as Record<string, unknown>).id === ref))
                add(qp, `refers to unknown objective "\${${ref}}"`);
              else if (ref === id) add(qp, 'a formula cannot refer to its own objective');
            }
          }
          return f;
        } catch (e) {
          if (e instanceof FormulaError) add(qp, `invalid ${source === 'k6' ? 'k6 summary expression' : source === 'engine' ? 'engine summary expression' : 'formula'}: ${e.message}`);
          else throw e;
        }
      }
      return undefined;
    };
    const formula = query ? checkQuery(query, 'query') : undefined;
    const samplesFormula = samplesQuery ? checkQuery(samplesQuery, 'samplesQuery') : undefined;
    if (o.minSamples !== undefined && samplesQuery === undefined) add([...p, 'minSamples'], 'minSamples needs a samplesQuery that counts the samples');
    if (stages && (source === 'k6' || source === 'engine' || source === 'ledger'))
      add([...p, 'stages'], `the ${source === 'ledger' ? 'ledger reconciliation' : `${source} summary`} covers the whole run; per-stage evaluation needs source prometheus, postgres or derived`);
    if (o.warning !== undefined && o.pass === undefined) add([...p, 'warning'], 'a warning band needs pass criteria');
    // Contradictions: each of these would make the file say one thing and the verdict do another.
    if (o.key === true && o.onNoData === 'pass') add([...p, 'onNoData'], 'a key objective cannot pass without data (onNoData: pass); use fail or warn');
    if (o.key === true && o.reportOnly === true) add([...p, 'key'], 'a reportOnly objective is never counted, so it cannot be key');
    if (source === 'ledger' && o.onNoData === 'pass') add([...p, 'onNoData'], 'record reconciliation without a ledger proves nothing; onNoData: pass is not allowed on a ledger objective');
    const stricter = stricterBand(pass, warning);
    if (stricter) add([...p, 'warning'], `the warning band ${stricter.w} is stricter than the pass criterion ${stricter.p}: a value failing pass could never be a warning`);
    const appliesIf = typeof o.appliesIf === 'string' ? o.appliesIf : undefined;
    if (appliesIf !== undefined && !/^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$/.test(appliesIf)) add([...p, 'appliesIf'], `expected an engine summary path like api.configured, got ${JSON.stringify(appliesIf)}`);

    objectives.push({
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
      at: `${display}:${at(p)}`,
    });
  });

  // Derived formulas must not form cycles.
  const byId = new Map(objectives.map((o, i) => [o.id, { o, i }]));
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (id: string, trail: string[]): void => {
    const entry = byId.get(id);
    if (!entry || entry.o.source !== 'derived' || !entry.o.formula) return;
    if (state.get(id) === 'done') return;
    if (state.get(id) === 'visiting') {
      const cycle = [...trail.slice(trail.indexOf(id)), id];
      add(['objectives', entry.i, 'query'], `formulas refer to each other in a cycle: ${cycle.join(' -> ')}`);
      return;
    }
    state.set(id, 'visiting');
    for (const ref of formulaRefs(entry.o.formula)) visit(ref, [...trail, id]);
    state.set(id, 'done');
  };
  for (const o of objectives) if (!state.has(o.id)) visit(o.id, []);

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

function schemaIssues(errors: ErrorObject[]): SchemaIssue[] {
  const toPath = (p: string): Path =>
    p
      .split('/')
      .slice(1)
      .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
      .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
  const oneOfPaths = errors.filter((e) => e.keyword === 'oneOf').map((e) => e.instancePath);
  const out: SchemaIssue[] = [];
  for (const e of errors) {
    if (e.keyword === 'if') continue;
    // Errors under a failed oneOf (criteria) collapse into one message at the oneOf.
    if (oneOfPaths.some((p) => e.instancePath.startsWith(p)) && e.keyword !== 'oneOf') continue;
    const path = toPath(e.instancePath);
    const got = describe(e.data);
    const params = e.params as Record<string, unknown>;
    switch (e.keyword) {
      case 'oneOf':
        out.push({ path, message: `expected a criterion string (e.g. "<= 0.5") or a list of them, got ${got}` });
        break;
      case 'required': {
        const missing = String(params.missingProperty);
        const hint = missing === 'pass' ? ' (or set reportOnly: true)' : '';
        out.push({ path, message: `missing required field "${missing}"${hint}` });
        break;
      }
      case 'additionalProperties': {
        const extra = String(params.additionalProperty);
        const allowed = Object.keys(((e.parentSchema as { properties?: object } | undefined)?.properties ?? {}) as object);
        out.push({ path, keyOf: extra, message: `unknown field "${extra}"; expected one of: ${allowed.join(', ')}` });
        break;
      }
      case 'enum':
        out.push({ path, message: `expected one of ${(params.allowedValues as unknown[]).join(' | ')}, got ${got}` });
        break;
      case 'const':
        out.push({ path, message: `expected ${JSON.stringify(params.allowedValue)}, got ${got}` });
        break;
      case 'type':
        out.push({ path, message: `expected ${params.type === 'integer' ? 'a whole number' : `a ${params.type}`}, got ${got}` });
        break;
      case 'pattern':
        out.push({
          path,
          message: path[path.length - 1] === 'id' ? `expected lower-case letters, digits and _ only, got ${got}` : `expected text matching ${String(params.pattern)}, got ${got}`,
        });
        break;
      case 'minimum':
      case 'maximum':
      case 'exclusiveMinimum':
      case 'exclusiveMaximum':
        out.push({ path, message: `expected a number ${String(params.comparison)} ${String(params.limit)}, got ${got}` });
        break;
      case 'minItems':
        out.push({ path, message: `expected at least ${String(params.limit)} item(s)` });
        break;
      case 'minLength':
        out.push({ path, message: 'expected a non-empty string' });
        break;
      default:
        out.push({ path, message: e.message ?? 'invalid' });
    }
  }
  return out;
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return `${typeof v} ${String(v)}`;
  if (Array.isArray(v)) return 'a list';
  return 'a mapping';
}
