// junit.xml: one testcase per objective so CI systems show SLOs like tests. fail/no-data counted as fail
// -> <failure>; skipped (onNoData: skip) -> <skipped>; warn -> passes with a note (a failure with failOnWarn);
// report-only -> passes with its value in <system-out>.
import { formatNumber } from '../verify/format.js';
import type { ObjectiveResult, Report } from '../verify/report-types.js';

/** Escapes text for XML content and attributes, dropping characters XML 1.0 cannot carry. */
export function xmlEscape(s: string): string {
  return s
    .replace(/[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

const valueText = (o: ObjectiveResult) => (o.value === null ? 'no data' : `${formatNumber(o.value)} ${o.unit}`);

export function renderJunit(report: Report): string {
  const cases = report.objectives.map((o) => testcase(o, report.failOnWarn === true));
  const failures = cases.filter((c) => c.kind === 'failure').length;
  const skipped = cases.filter((c) => c.kind === 'skipped').length;
  const errors = report.verdict === 'error' || report.verdict === 'invalid' ? 1 : 0;
  const suite = `fleetload.${report.runId}`;
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="fleetload" tests="${cases.length + errors}" failures="${failures}" errors="${errors}" skipped="${skipped}" time="${report.window.durationSeconds}">`,
    `  <testsuite name="${xmlEscape(suite)}" tests="${cases.length + errors}" failures="${failures}" errors="${errors}" skipped="${skipped}" time="${report.window.durationSeconds}" timestamp="${xmlEscape(report.generatedAt)}">`,
    '    <properties>',
    `      <property name="verdict" value="${xmlEscape(report.verdict)}"/>`,
    `      <property name="score" value="${report.score}"/>`,
    `      <property name="profile" value="${xmlEscape(report.profile)}"/>`,
    `      <property name="window" value="${xmlEscape(`${report.window.start}/${report.window.end}`)}"/>`,
    '    </properties>',
    ...cases.map((c) => c.xml),
  ];
  if (errors) {
    const kind = report.verdict === 'error' ? 'verification-error' : 'invalid-run';
    lines.push(`    <testcase classname="fleetload.run" name="run ${xmlEscape(report.verdict)}" time="0">`);
    lines.push(`      <error type="${kind}" message="${xmlEscape(report.reasons[0] ?? report.verdict)}">${xmlEscape(report.reasons.join('\n'))}</error>`);
    lines.push('    </testcase>');
  }
  lines.push('  </testsuite>', '</testsuites>', '');
  return lines.join('\n');
}

function testcase(o: ObjectiveResult, failOnWarn: boolean): { kind: 'ok' | 'failure' | 'skipped'; xml: string } {
  const open = `    <testcase classname="fleetload.slo.${xmlEscape(o.source)}" name="${xmlEscape(`${o.id}${o.key ? ' [key]' : ''}: ${o.description}`)}" time="0">`;
  const vs = `${valueText(o)} vs target ${o.target}${o.warning ? ` (warning ${o.warning})` : ''}`;
  const body = (inner: string) => [open, inner, '    </testcase>'].join('\n');
  if (o.effect === 'fail' || (failOnWarn && o.effect === 'warn')) {
    const type = o.status === 'no-data' ? 'slo-no-data' : o.effect === 'warn' ? 'slo-warning' : 'slo-breach';
    return { kind: 'failure', xml: body(`      <failure type="${type}" message="${xmlEscape(vs)}">${xmlEscape(`${vs}\n${o.why}`)}</failure>`) };
  }
  if (o.status === 'no-data' && o.effect === 'none') return { kind: 'skipped', xml: body(`      <skipped message="${xmlEscape(o.why)}"/>`) };
  return { kind: 'ok', xml: body(`      <system-out>${xmlEscape(`${o.status}: ${vs}\n${o.why}`)}</system-out>`) };
}
