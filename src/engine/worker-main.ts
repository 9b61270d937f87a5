// Entry point of an engine worker thread (bundled to dist/engine-worker.js): says it is ready, waits for the common
// start instant from the main thread, runs its devices and reports through the message port.
import { parentPort, workerData } from 'node:worker_threads';
import { systemClock } from '../core/clock.js';
import { runThread, type ThreadInit } from './thread.js';

const port = parentPort;
if (!port) throw new Error('engine-worker runs only as a worker thread');
const init = workerData as ThreadInit;
port.once('message', (m: { type: 'start'; testStartMs: number }) => {
  runThread(init, m.testStartMs, systemClock, (r) => port.postMessage(r)).catch((e: unknown) => {
    // a bug in the engine, not a platform failure: the main thread makes the run invalid
    port.postMessage({ type: 'fatal', thread: init.slice.thread, message: e instanceof Error ? (e.stack ?? e.message) : String(e) });
  });
});
port.postMessage({ type: 'ready', thread: init.slice.thread });
