// Verdict -> process exit code (a contract with CI): pass 0, warn 0 (1 with --fail-on-warn), fail 1,
// error 3, invalid 4.
import { ExitCode } from '../core/errors.js';
import type { Report } from './report-types.js';

export function exitCodeFor(report: Pick<Report, 'verdict'>, failOnWarn = false): number {
  switch (report.verdict) {
    case 'pass':
      return ExitCode.Pass;
    case 'warn':
      return failOnWarn ? ExitCode.SloBreach : ExitCode.Pass;
    case 'fail':
      return ExitCode.SloBreach;
    case 'error':
      return ExitCode.Infrastructure;
    case 'invalid':
      return ExitCode.InvalidRun;
  }
}
