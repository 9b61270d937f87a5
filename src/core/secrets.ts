import { readFileSync } from 'node:fs';
import { badInput } from './errors.js';

/** NAME, or the contents of the file named by NAME_FILE (how CI systems and Kubernetes hand over secrets). */
export function secretFromEnv(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const direct = env[name];
  if (direct) return direct;
  const file = env[`${name}_FILE`];
  if (!file) return undefined;
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (e) {
    throw badInput(`${name}_FILE: cannot read ${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
}
