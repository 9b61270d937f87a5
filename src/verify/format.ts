// Number formatting shared by "why" lines and the report writers.

/** 4 significant digits for fractions, integers as they are, no exponent for everyday magnitudes. */
export function formatNumber(v: number | null | undefined): string {
  if (v === null || v === undefined) return '—';
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  const abs = Math.abs(v);
  if (abs >= 1000) return v.toFixed(1).replace(/\.0$/, '');
  if (abs >= 1e-4) return String(Number(v.toPrecision(4)));
  return v.toExponential(2);
}

export const formatValue = (v: number | null | undefined, unit: string) => (v === null || v === undefined ? 'no data' : `${formatNumber(v)} ${unit}`.trim());

/** One line per verdict, as the HTML report and the live view show it on the banner. */
export const VERDICT_TEXT: Record<string, string> = {
  pass: 'PASS — every key objective held',
  warn: 'WARN — objectives in their warning band',
  fail: 'FAIL — an SLO was breached',
  invalid: 'INVALID — the load generator failed; the numbers cannot be trusted',
  error: 'ERROR — the run could not be verified',
};
