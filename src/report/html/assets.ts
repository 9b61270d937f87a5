// The charting library inlined into every report: uPlot (MIT, npm `uplot`), read from node_modules at
// render time so the page needs no CDN and no network.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export interface InlineAssets {
  js: string;
  css: string;
  version: string;
  license: string;
}

let cached: InlineAssets | undefined;

export function uplotAssets(): InlineAssets {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  const dist = dirname(require.resolve('uplot'));
  const pkg = JSON.parse(readFileSync(join(dist, '..', 'package.json'), 'utf8')) as { version: string; license: string };
  cached = {
    js: readFileSync(join(dist, 'uPlot.iife.min.js'), 'utf8'),
    css: readFileSync(join(dist, 'uPlot.min.css'), 'utf8'),
    version: pkg.version,
    license: pkg.license,
  };
  return cached;
}
