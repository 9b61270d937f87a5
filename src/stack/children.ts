import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

// Every process the stack starts is listed here so that even an abrupt exit of fleetload
// (uncaught error, process.exit from a library's exit hook) takes them down with it:
// an 'exit' listener may only run synchronous code, and kill() is synchronous.
const live = new Set<ChildProcess>();
let hooked = false;

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const child of live) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

export function spawnTracked(command: string, args: readonly string[], options: SpawnOptions): ChildProcess {
  return adoptChild(spawn(command, args, options));
}

/** Tracks a process some library spawned, so that it too dies with fleetload. */
export function adoptChild(child: ChildProcess): ChildProcess {
  hookExit();
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

/** SIGTERM, then SIGKILL after graceMs; resolves once the process has exited. */
export function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
