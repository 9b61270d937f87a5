// Placeholders in queries: ${start} ${end} ${duration} ${runId} ${imeis} ${stage}.
// PromQL gets text (numbers, a range, regex alternations); SQL gets bound parameters $1..$n with explicit
// casts — values are never spliced into SQL text.

export const PLACEHOLDERS = ['start', 'end', 'duration', 'runId', 'imeis', 'stage'] as const;
export type Placeholder = (typeof PLACEHOLDERS)[number];

const PATTERN = /\$\{([^}]*)\}/g;

export interface Window {
  start: Date;
  end: Date;
}

export interface PlaceholderContext extends Window {
  runId: string;
  imeis: string[];
  /** Set when evaluating one stage's window; absent for the whole run. */
  stage?: string;
}

/** Every ${...} in the text, with its offset. */
export function findPlaceholders(text: string): Array<{ name: string; index: number }> {
  return [...text.matchAll(PATTERN)].map((m) => ({ name: m[1], index: m.index ?? 0 }));
}

export const isPlaceholder = (name: string): name is Placeholder => (PLACEHOLDERS as readonly string[]).includes(name);

/** Window length in whole seconds, rounded up, at least 1: the `[${duration}]` of a PromQL range. */
export const durationSeconds = (w: Window) => Math.max(1, Math.ceil((w.end.getTime() - w.start.getTime()) / 1000));

export const unixSeconds = (d: Date) => String(Number((d.getTime() / 1000).toFixed(3)));

const regexEscape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** Escapes text for the inside of a PromQL double-quoted string. */
const promString = (s: string) => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"');

export function expandPromQL(query: string, ctx: PlaceholderContext): string {
  return query.replace(PATTERN, (whole, name: string) => {
    switch (name) {
      case 'start':
        return unixSeconds(ctx.start);
      case 'end':
        return unixSeconds(ctx.end);
      case 'duration':
        return `${durationSeconds(ctx)}s`;
      case 'runId':
        return promString(ctx.runId);
      case 'imeis':
        return ctx.imeis.length === 0 ? '__no_imeis__' : promString(ctx.imeis.map(regexEscape).join('|'));
      case 'stage':
        return ctx.stage === undefined ? '.*' : promString(regexEscape(ctx.stage));
      default:
        return whole; // rejected at load time
    }
  });
}

export interface BoundQuery {
  text: string;
  values: unknown[];
}

const SQL_CAST: Record<Placeholder, string> = {
  start: 'timestamptz',
  end: 'timestamptz',
  duration: 'float8',
  runId: 'text',
  imeis: 'text[]',
  stage: 'text',
};

/** Turns placeholders into $1..$n (one per distinct placeholder, with a cast) and collects their values. */
export function bindSql(query: string, ctx: PlaceholderContext): BoundQuery {
  const order: Placeholder[] = [];
  const text = query.replace(PATTERN, (whole, name: string) => {
    if (!isPlaceholder(name)) return whole;
    let n = order.indexOf(name);
    if (n < 0) n = order.push(name) - 1;
    return `$${n + 1}::${SQL_CAST[name]}`;
  });
  const values = order.map((name) => {
    switch (name) {
      case 'start':
        return ctx.start;
      case 'end':
        return ctx.end;
      case 'duration':
        return (ctx.end.getTime() - ctx.start.getTime()) / 1000;
      case 'runId':
        return ctx.runId;
      case 'imeis':
        return ctx.imeis;
      case 'stage':
        return ctx.stage ?? null;
    }
  });
  return { text, values };
}

/** Offsets of placeholders that sit inside SQL string literals ('...'), where a bound parameter cannot go. */
export function quotedSqlPlaceholders(sql: string): number[] {
  const quoted: Array<[number, number]> = [];
  let i = 0;
  while (i < sql.length) {
    if (sql.startsWith('--', i)) {
      const nl = sql.indexOf('\n', i);
      i = nl < 0 ? sql.length : nl + 1;
    } else if (sql.startsWith('/*', i)) {
      const e = sql.indexOf('*/', i + 2);
      i = e < 0 ? sql.length : e + 2;
    } else if (sql[i] === "'") {
      let j = i + 1;
      for (;;) {
        if (j >= sql.length) break;
        if (sql[j] === "'" && sql[j + 1] === "'") j += 2;
        else if (sql[j] === "'") break;
        else j++;
      }
      quoted.push([i, j]);
      i = j + 1;
    } else if (sql[i] === '"') {
      const e = sql.indexOf('"', i + 1);
      i = e < 0 ? sql.length : e + 1;
    } else i++;
  }
  return findPlaceholders(sql)
    .map((p) => p.index)
    .filter((at) => quoted.some(([a, b]) => at > a && at < b));
}
