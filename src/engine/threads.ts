// Starts the engine threads and relays their reports. Worker threads by default (one per core): devices are
// independent, so they spread over cores with nothing shared but the counts they report. `--workers 0` runs the
// devices in the main thread (one core; handy for debugging and for tests of the TypeScript sources).
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { systemClock, type Clock } from '../core/clock.js';
import { runThread, type ThreadInit, type ThreadReport } from './thread.js';

export type ThreadEvent = ThreadReport | { type: 'fatal'; thread: number; message: string };

export interface ThreadGroup {
  /** starts every thread's devices at the same instant */
  start(testStartMs: number): void;
  /** resolves when every thread has posted 'done' (or died: see the 'fatal' events) */
  finished: Promise<void>;
  /** ends worker threads at once (hard limit, interrupt): their last counts are lost, the run is invalid */
  terminate(): Promise<void>;
}

/** The worker entry: beside the bundled CLI in dist/, or bundled now from the sources when running TypeScript. */
async function workerScript(): Promise<URL> {
  const here = new URL(import.meta.url);
  if (!here.pathname.endsWith('.ts')) {
    // dist/cli.js and dist/bench/*.js both bundle this file; the worker entry sits at dist/engine-worker.js
    const beside = new URL('./engine-worker.js', here);
    return existsSync(beside) ? beside : new URL('../engine-worker.js', here);
  }
  // Tests run the TypeScript sources, never a stale dist/: bundle the worker entry from them.
  const { build } = await import('esbuild');
  const root = join(dirname(fileURLToPath(here)), '..', '..');
  const out = join(root, '.cache', 'engine-worker', `worker-${process.pid}.mjs`);
  mkdirSync(dirname(out), { recursive: true });
  await build({ entryPoints: [join(root, 'src', 'engine', 'worker-main.ts')], outfile: out, bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', logLevel: 'error' });
  return pathToFileURL(out);
}

/** Starts `inits.length` threads (workers, or in-process when `inProcess`); `onEvent` sees every report. */
export async function startThreads(inits: ThreadInit[], inProcess: boolean, onEvent: (e: ThreadEvent) => void, clock: Clock = systemClock): Promise<ThreadGroup> {
  if (inProcess) return inProcessThreads(inits, onEvent, clock);
  const script = await workerScript();
  // a small young generation: device state is long-lived, and every MB of semi-space is RSS the fleet pays for
  const workers = inits.map((init) => new Worker(script, { workerData: init, resourceLimits: { maxYoungGenerationSizeMb: 8 } }));
  const ready = workers.map(
    (w, i) =>
      new Promise<void>((resolve, reject) => {
        w.once('message', (m: ThreadEvent) => (m.type === 'ready' ? resolve() : reject(new Error(`engine thread ${i}: expected ready, got ${m.type}`))));
        w.once('error', reject);
      }),
  );
  await Promise.all(ready);
  const finished = workers.map(
    (w, i) =>
      new Promise<void>((resolve) => {
        w.on('message', (m: ThreadEvent) => {
          onEvent(m);
          if (m.type === 'done' || m.type === 'fatal') resolve();
        });
        w.on('error', (e) => {
          onEvent({ type: 'fatal', thread: i, message: e.stack ?? e.message });
          resolve();
        });
        w.on('exit', () => resolve());
      }),
  );
  return {
    start: (t) => workers.forEach((w) => w.postMessage({ type: 'start', testStartMs: t })),
    finished: Promise.all(finished).then(async () => {
      await Promise.all(workers.map((w) => w.terminate()));
    }),
    terminate: async () => {
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}

function inProcessThreads(inits: ThreadInit[], onEvent: (e: ThreadEvent) => void, clock: Clock): ThreadGroup {
  let begin: (t: number) => void = () => {};
  const started = new Promise<number>((r) => (begin = r));
  const finished = Promise.all(
    inits.map(async (init) => {
      const t = await started;
      await runThread(init, t, clock, onEvent).catch((e: unknown) =>
        onEvent({ type: 'fatal', thread: init.slice.thread, message: e instanceof Error ? (e.stack ?? e.message) : String(e) }),
      );
    }),
  ).then(() => undefined);
  return { start: (t) => begin(t), finished, terminate: async () => {} };
}
