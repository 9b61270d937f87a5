// Every temporary folder the suite makes (run folders with their kept evidence, PostgreSQL and Prometheus data)
// goes under one folder per `vitest run`, removed at the end: a full run writes about 2 GB of them.
// FLEETLOAD_KEEP_TEST_TMP=1 keeps it for a post-mortem. Mode 0755: PostgreSQL runs as another user when we are root.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

export default function setup(): () => void {
  // vitest runs a global setup once for the root and once per project (unit, e2e): only the first makes the folder,
  // or the paths nest three deep — past the 108-byte limit of a Unix socket path (PostgreSQL's, Chromium's)
  if (basename(tmpdir()).startsWith('fleetload-tests-')) return () => {};
  const dir = mkdtempSync(join(tmpdir(), 'fleetload-tests-'));
  chmodSync(dir, 0o755);
  // test workers start after this and inherit it; os.tmpdir() reads TMPDIR
  process.env.TMPDIR = dir;
  return () => {
    if (process.env.FLEETLOAD_KEEP_TEST_TMP === '1') {
      console.log(`test temporary files kept in ${dir}`);
      return;
    }
    rmSync(dir, { recursive: true, force: true });
  };
}
