import { spawnSync } from 'node:child_process';

/** First line of `<cmd> <args>` output, or undefined when the command is missing or fails. */
export function toolVersion(cmd: string, args: string[] = ['--version']): string | undefined {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 20_000 });
  if (r.error || r.status !== 0) return undefined;
  return `${r.stdout}${r.stderr}`.trim().split('\n')[0];
}

export const isRoot = (): boolean => typeof process.getuid === 'function' && process.getuid() === 0;
