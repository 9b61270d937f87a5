import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

/**
 * The fleetload checkout this code runs from. Code is bundled into dist/ and also run from src/ by
 * vitest, so a fixed relative path would be wrong in one of the two; walking up to our package.json is not.
 */
export function repoRoot(): string {
  if (cached) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'fleetload') return (cached = dir);
      } catch {
        // an unreadable package.json further down is not ours; keep walking
      }
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the fleetload checkout (no package.json named "fleetload" above this file)');
    dir = parent;
  }
}
