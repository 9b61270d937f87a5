// A tiny, safe arithmetic language for derived objectives ("${acked} - ${stored}") and engine summary
// expressions ("api.errors.5xx / api.requests"; the deprecated k6 summary paths too). Parsed once at load time; no eval, no
// property access beyond plain data paths, no functions beyond max/min/abs.
//
//   expr    := sum ('??' sum)*                      a ?? b: b when a has no data
//   sum     := product (('+' | '-') product)*
//   product := unary (('*' | '/') unary)*
//   unary   := '-' unary | primary
//   primary := number | '${' id '}' | path | fn '(' expr (',' expr)* ')' | '(' expr ')'
//   path    := name ('.' (name | 'p(' number ')'))+   e.g. ackLatencyMs.p95, api.errors.5xx (engine: also a bare name)

export type Formula =
  | { t: 'num'; v: number }
  | { t: 'ref'; name: string }
  | { t: 'path'; segments: string[]; text: string }
  | { t: 'neg'; a: Formula }
  | { t: 'bin'; op: '+' | '-' | '*' | '/' | '??'; a: Formula; b: Formula }
  | { t: 'fn'; name: 'max' | 'min' | 'abs'; args: Formula[] };

/** `engine` and `k6` allow data paths; `derived` allows ${id} references. */
export type FormulaMode = 'derived' | 'engine' | 'k6';

export class FormulaError extends Error {}

const FUNCTIONS = new Set(['max', 'min', 'abs']);

// One function on purpose: a recursive-descent parser whose grammar rules (closures) share one cursor, `i`.
export function parseFormula(text: string, mode: FormulaMode): Formula {
  let i = 0;
  const s = text;
  const ws = () => {
    while (i < s.length && /\s/.test(s[i])) i++;
  };
  const fail = (what: string): never => {
    throw new FormulaError(`${what} at column ${i + 1} of "${s}"`);
  };
  const peek = (tok: string) => {
    ws();
    return s.startsWith(tok, i);
  };
  const eat = (tok: string) => {
    if (peek(tok)) {
      i += tok.length;
      return true;
    }
    return false;
  };

  const expr = (): Formula => {
    let a = sum();
    while (eat('??')) a = { t: 'bin', op: '??', a, b: sum() };
    return a;
  };
  const sum = (): Formula => {
    let a = product();
    for (;;) {
      if (eat('+')) a = { t: 'bin', op: '+', a, b: product() };
      else if (peek('-')) {
        i++;
        a = { t: 'bin', op: '-', a, b: product() };
      } else return a;
    }
  };
  const product = (): Formula => {
    let a = unary();
    for (;;) {
      if (eat('*')) a = { t: 'bin', op: '*', a, b: unary() };
      else if (eat('/')) a = { t: 'bin', op: '/', a, b: unary() };
      else return a;
    }
  };
  const unary = (): Formula => (eat('-') ? { t: 'neg', a: unary() } : primary());
  const primary = (): Formula => {
    ws();
    if (i >= s.length) fail('unexpected end of expression');
    if (eat('(')) {
      const e = expr();
      if (!eat(')')) fail('expected ")"');
      return e;
    }
    const num = /^(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?/.exec(s.slice(i));
    if (num) {
      i += num[0].length;
      return { t: 'num', v: Number(num[0]) };
    }
    if (s.startsWith('${', i)) {
      const m = /^\$\{([a-z0-9_]+)\}/.exec(s.slice(i));
      if (!m) fail('expected ${objective_id}');
      if (mode !== 'derived') fail('${...} references are only allowed in derived formulas');
      i += m![0].length;
      return { t: 'ref', name: m![1] };
    }
    const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(s.slice(i));
    if (!name) fail(`unexpected "${s[i]}"`);
    const start = i;
    i += name![0].length;
    if (s[i] === '.') return pathFrom(name![0], start);
    if (FUNCTIONS.has(name![0]) && peek('(')) return call(name![0]);
    // a top-level figure of the engine summary (logins, reconnects) is a one-segment path
    if (mode === 'engine') return { t: 'path', segments: [name![0]], text: name![0] };
    i = start;
    return fail(
      mode === 'derived'
        ? `unknown name "${name![0]}" (write objective references as \${id})`
        : `"${name![0]}" is not a path (expected e.g. metrics.fleet_ack_latency.values.p(95))`,
    );
  };

  // a data path, its first name already read (engine and k6 summaries only)
  const pathFrom = (first: string, start: number): Formula => {
    if (mode === 'derived') fail('paths are only allowed in engine expressions (use ${id} in derived formulas)');
    const segments = [first];
    while (s[i] === '.') {
      i++;
      // names may start with a digit: api.errors.5xx
      const seg = /^(p\(\d+(\.\d+)?\)|[A-Za-z0-9_]+)/.exec(s.slice(i));
      if (!seg) fail('expected a path segment (name, index or p(95))');
      segments.push(seg![0]);
      i += seg![0].length;
    }
    return { t: 'path', segments, text: s.slice(start, i) };
  };
  // max/min/abs, the name already read and "(" next
  const call = (fn: string): Formula => {
    eat('(');
    const args = [expr()];
    while (eat(',')) args.push(expr());
    if (!eat(')')) fail('expected ")"');
    if (fn === 'abs' && args.length !== 1) fail('abs() takes one argument');
    return { t: 'fn', name: fn as 'max' | 'min' | 'abs', args };
  };

  const f = expr();
  ws();
  if (i < s.length) fail(`unexpected "${s[i]}"`);
  return f;
}

/** Objective ids a derived formula refers to. */
export function formulaRefs(f: Formula, out: Set<string> = new Set()): Set<string> {
  switch (f.t) {
    case 'ref':
      out.add(f.name);
      break;
    case 'neg':
      formulaRefs(f.a, out);
      break;
    case 'bin':
      formulaRefs(f.a, out);
      formulaRefs(f.b, out);
      break;
    case 'fn':
      f.args.forEach((a) => formulaRefs(a, out));
      break;
    default:
  }
  return out;
}

/** A value, or null with the reason it is missing. */
export interface Outcome {
  value: number | null;
  reason?: string;
}

/** Evaluates a formula. `lookup` returns the value of a ref or path, or null with a reason. */
export function evalFormula(f: Formula, lookup: (node: { t: 'ref'; name: string } | { t: 'path'; segments: string[]; text: string }) => Outcome): Outcome {
  const finite = (v: number, why: string): Outcome => (Number.isFinite(v) ? { value: v } : { value: null, reason: why });
  switch (f.t) {
    case 'num':
      return { value: f.v };
    case 'ref':
    case 'path': {
      const o = lookup(f);
      if (o.value === null || !Number.isFinite(o.value)) return { value: null, reason: o.reason ?? `${f.t === 'ref' ? f.name : f.text} is not a finite number` };
      return o;
    }
    case 'neg': {
      const a = evalFormula(f.a, lookup);
      return a.value === null ? a : { value: -a.value };
    }
    case 'fn': {
      const args = f.args.map((a) => evalFormula(a, lookup));
      const missing = args.find((a) => a.value === null);
      if (missing) return missing;
      const vs = args.map((a) => a.value as number);
      if (f.name === 'abs') return { value: Math.abs(vs[0]) };
      return { value: f.name === 'max' ? Math.max(...vs) : Math.min(...vs) };
    }
    case 'bin': {
      const a = evalFormula(f.a, lookup);
      if (f.op === '??') return a.value !== null ? a : evalFormula(f.b, lookup);
      if (a.value === null) return a;
      const b = evalFormula(f.b, lookup);
      if (b.value === null) return b;
      switch (f.op) {
        case '+':
          return finite(a.value + b.value, 'overflow');
        case '-':
          return finite(a.value - b.value, 'overflow');
        case '*':
          return finite(a.value * b.value, 'overflow');
        case '/':
          if (b.value === 0) return { value: null, reason: 'zero denominator' };
          return finite(a.value / b.value, 'overflow');
      }
    }
  }
}
