// The import rules of .dependency-cruiser.cjs bite: a copy of src/ with one upward import and one folder cycle
// added must fail the cruiser, naming each rule; the real src/ must pass.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../src/core/repo-root.js';

const CONFIG = '.dependency-cruiser.cjs';
const root = repoRoot();

interface Cruise {
  status: number | null;
  /** One entry per reported violation: the rule's name and the edge (folder rules name the first folder only). */
  violations: { rule: string; from: string; to: string }[];
}

// The `err` output is the one whose exit status counts the errors (the json output always exits 0); each
// violation starts with a line `error <rule-name>: <from> → <to>`.
function cruise(dir: string): Cruise {
  const bin = join(root, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');
  const r = spawnSync(process.execPath, [bin, 'src', '--config', CONFIG, '--output-type', 'err'], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
  const violations = [...r.stdout.matchAll(/^\s*error ([\w-]+): (\S+) → ?(\S*)$/gm)].map(([, rule, from, to]) => ({ rule, from, to }));
  return { status: r.status, violations };
}

function copyOfSrc(): string {
  const dir = mkdtempSync(join(tmpdir(), 'fleetload-arch-'));
  cpSync(join(root, 'src'), join(dir, 'src'), { recursive: true });
  cpSync(join(root, CONFIG), join(dir, CONFIG));
  return dir;
}

function write(dir: string, file: string, text: string): void {
  mkdirSync(join(dir, file, '..'), { recursive: true });
  writeFileSync(join(dir, file), text);
}

describe('import rules', () => {
  it('the real src/ keeps them', () => {
    const r = cruise(root);
    expect(r.violations).toEqual([]);
    expect(r.status).toBe(0);
  }, 60_000);

  it('an upward import and a folder cycle fail, each naming its rule', () => {
    const dir = copyOfSrc();
    // core is the leaf: importing the CLI from it breaks two rules at once (and closes folder cycles through cli)
    write(dir, 'src/core/upward.ts', "import { main } from '../cli/main.js';\nexport const m = main;\n");
    // two folders that need each other, with no module cycle: only the folder rule can see it
    write(dir, 'src/core/ring-a/one.ts', "import { two } from '../ring-b/two.js';\nexport const one = () => two;\n");
    write(dir, 'src/core/ring-b/two.ts', 'export const two = 2;\n');
    write(dir, 'src/core/ring-b/three.ts', "import { four } from '../ring-a/four.js';\nexport const three = () => four;\n");
    write(dir, 'src/core/ring-a/four.ts', 'export const four = 4;\n');

    const r = cruise(dir);
    expect(r.status).not.toBe(0);
    const rules = new Set(r.violations.map((v) => v.rule));
    expect(rules).toEqual(new Set(['nothing-imports-cli', 'core-is-a-leaf', 'no-folder-cycles']));
    expect(r.violations.find((v) => v.rule === 'core-is-a-leaf')).toMatchObject({ from: 'src/core/upward.ts', to: 'src/cli/main.ts' });
    const ring = r.violations.filter((v) => v.rule === 'no-folder-cycles' && v.from.startsWith('src/core/ring-'));
    expect(ring.map((v) => v.from).sort()).toEqual(['src/core/ring-a', 'src/core/ring-b']);
  }, 120_000);
});
