import { randomBytes } from 'node:crypto';

/** Sortable, unique and safe in PromQL label values and folder names. */
export function newRunId(profile: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${profile}-${stamp}-${randomBytes(2).toString('hex')}`;
}
