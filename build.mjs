// Bundles everything fleetload runs into dist/: the CLI, the engine's worker-thread entry (beside the CLI, where
// src/engine/threads.ts looks for it) and the benchmarks. Dependencies stay external (node_modules).
import { build } from 'esbuild';
import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('.', import.meta.url).pathname;
const list = (dir, re) => (existsSync(join(root, dir)) ? readdirSync(join(root, dir)).filter((f) => re.test(f)).map((f) => join(dir, f)) : []);

const entries = {
  cli: 'src/cli/main.ts',
  'engine-worker': 'src/engine/worker-main.ts',
  ...Object.fromEntries(list('bench', /\.ts$/).map((e) => [e.replace(/\.ts$/, ''), e])),
};
await build({
  entryPoints: Object.fromEntries(Object.entries(entries).map(([out, src]) => [out, join(root, src)])),
  outdir: join(root, 'dist'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  packages: 'external',
  sourcemap: true,
  logLevel: 'warning',
});
