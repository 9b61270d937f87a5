// Bundles everything fleetload runs: Node entry points into dist/, k6 scenarios into dist/scenarios/.
// k6 is not Node and cannot resolve node_modules, so each scenario becomes one self-contained ES module
// with only k6's own modules (k6, k6/*) left external.
import { build } from 'esbuild';
import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('.', import.meta.url).pathname;
const list = (dir, re) => (existsSync(join(root, dir)) ? readdirSync(join(root, dir)).filter((f) => re.test(f)).map((f) => join(dir, f)) : []);

const nodeEntries = ['src/cli/main.ts', ...list('bench', /\.ts$/)];
await build({
  entryPoints: Object.fromEntries(nodeEntries.map((e) => [e === 'src/cli/main.ts' ? 'cli' : e.replace(/\.ts$/, ''), join(root, e)])),
  outdir: join(root, 'dist'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  packages: 'external',
  sourcemap: true,
  logLevel: 'warning',
});

const scenarioEntries = list('scenarios', /\.ts$/).filter((f) => !f.endsWith('.d.ts'));
if (scenarioEntries.length > 0) {
  await build({
    entryPoints: scenarioEntries.map((e) => join(root, e)),
    outdir: join(root, 'dist/scenarios'),
    bundle: true,
    platform: 'neutral',
    target: 'es2020',
    format: 'esm',
    external: ['k6', 'k6/*'],
    logLevel: 'warning',
  });
}
