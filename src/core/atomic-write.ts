// The one atomic file writer for everything fleetload leaves on disk (run folders, comparison folders).
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

// Worker threads share the process id: a sequence number keeps two writers of one file on separate temporary files.
let tmpSeq = 0;

/**
 * Writes `text` to `file` through a temporary file in the same folder and a rename, so a reader sees either the old
 * file or the new one, never a partial one. Creates the folder. Returns `file`.
 */
export function writeFileAtomic(file: string, text: string): string {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${++tmpSeq}.tmp`;
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  return file;
}

/** JSON with a final newline; `indent` 0 for the large machine-read files (series.json). */
export function writeJsonAtomic(file: string, value: unknown, indent = 2): string {
  return writeFileAtomic(file, `${JSON.stringify(value, null, indent || undefined)}\n`);
}
