import { Command, CommanderError } from 'commander';
import { registerCapacity } from './capacity.js';
import { registerCodec } from './codec.js';
import { registerCompare } from './compare.js';
import { registerDoctor } from './doctor.js';
import { registerGenerate } from './generate.js';
import { registerK6 } from './k6.js';
import { registerMerge } from './merge.js';
import { registerK8s } from './k8s.js';
import { ExitCode, FleetloadError } from '../core/errors.js';
import { registerPlatform } from './platform.js';
import { registerReport } from './report.js';
import { registerRun } from './run.js';
import { registerSetup } from './setup.js';
import { registerVerify } from './verify.js';

const program = new Command('fleetload')
  .description('load harness and SLO verifier for fleet-telemetry platforms')
  // a flag error is one line and a hint, not the whole help
  .showHelpAfterError('(add --help for the options)')
  .exitOverride();
registerRun(program);
registerCapacity(program);
registerGenerate(program);
registerK6(program);
registerMerge(program);
registerK8s(program);
registerVerify(program);
registerReport(program);
registerCompare(program);
registerPlatform(program);
registerCodec(program);
registerSetup(program);
registerDoctor(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    // help and version end with code 0; a wrong flag or argument is bad input (2)
    process.exitCode = e.exitCode === 0 ? 0 : ExitCode.BadInput;
  } else if (e instanceof FleetloadError) {
    process.stderr.write(`fleetload: ${e.message}\n`);
    process.exitCode = e.exitCode;
  } else {
    process.stderr.write(`fleetload: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = ExitCode.Infrastructure;
  }
}
