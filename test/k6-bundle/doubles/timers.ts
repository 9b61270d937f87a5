// TEST DOUBLE of k6/timers: Node's timers (k6's have the same signatures and event-loop semantics for this use).
export const setTimeout = (fn: () => void, ms: number): unknown => globalThis.setTimeout(fn, ms);
export const clearTimeout = (id: unknown): void => globalThis.clearTimeout(id as NodeJS.Timeout);
export const setInterval = (fn: () => void, ms: number): unknown => globalThis.setInterval(fn, ms);
export const clearInterval = (id: unknown): void => globalThis.clearInterval(id as NodeJS.Timeout);
