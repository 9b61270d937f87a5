// The fleetload version (package.json), stated in every run manifest, engine summary and report.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './repo-root.js';

let version: string | undefined;

export function fleetloadVersion(): string {
  if (version === undefined) {
    try {
      version = String((JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown');
    } catch {
      version = 'unknown';
    }
  }
  return version;
}
