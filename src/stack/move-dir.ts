import { cpSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';

/** How a server of the embedded stack stops: by default its data folder is deleted with it. */
export interface StopOptions {
  /** Move the data folder here (must not exist yet) instead of deleting it. */
  keepDataIn?: string;
}

/** Moves a folder: a rename on the same filesystem, else a copy and delete (EXDEV: /tmp on its own mount). */
export function moveDir(from: string, to: string): void {
  mkdirSync(dirname(to), { recursive: true });
  try {
    renameSync(from, to);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
    cpSync(from, to, { recursive: true });
    rmSync(from, { recursive: true, force: true });
  }
}
