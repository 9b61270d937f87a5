// Globals k6 provides that @types/k6 leaves to the DOM library, which this tsconfig does not load (so that a Node or
// browser API used by mistake in the bundle fails the type check).
declare const console: {
  log(...data: unknown[]): void;
  info(...data: unknown[]): void;
  warn(...data: unknown[]): void;
  error(...data: unknown[]): void;
  debug(...data: unknown[]): void;
};
