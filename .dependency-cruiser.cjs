// Import direction of src/, checked on every `npm test` (`npm run depcruise`).
//
//   cli ──► run ──► engine · platform · verify · report · stack · live ──► sim ──► protocol
//                                                                          core
//
// A folder may import folders below it (skipping layers is fine), never above or beside it, with two exceptions:
// report may import verify (the Report/verdict types and number formatting it renders); verify never imports report.
// live (the --web view of a running run) reads the engine's ticks, judges them with verify and reuses report's
// assets; nothing but run imports live.
// Type-only imports count too: a type in the wrong folder is a design smell just like a value.
/** @type {import('dependency-cruiser').IConfiguration} */
const MIDDLE = '(engine|platform|verify|report|stack|live)';

module.exports = {
  forbidden: [
    {
      name: 'nothing-imports-cli',
      comment: 'src/cli is wiring for the command line: nothing in src/ depends on it.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/cli/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'run-is-below-cli-only',
      comment: 'src/run orchestrates one run; only src/cli may call it.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(cli|run)/' },
      to: { path: '^src/run/' },
    },
    {
      name: 'middle-layer-not-sideways',
      comment:
        'engine, platform, verify, report and stack are siblings: each uses sim/protocol/core only, ' +
        'so any of them can change (or run against a user\'s own target) without the others. Exception: report → verify.',
      severity: 'error',
      from: { path: '^src/(engine|platform|verify|stack)/' },
      to: { path: `^src/${MIDDLE}/`, pathNot: ['^src/$1/'] },
    },
    {
      name: 'report-uses-verify-only',
      comment: 'report renders a verdict (verify/report-types, verify/format); it never drives the engine, platform or stack.',
      severity: 'error',
      from: { path: '^src/report/' },
      to: { path: '^src/(engine|platform|stack|live)/' },
    },
    {
      name: 'live-reads-engine-verify-report',
      comment: 'live shows what the engine measures, judged as verify judges it, in report\'s look; it never drives the platform or the stack.',
      severity: 'error',
      from: { path: '^src/live/' },
      to: { path: '^src/(platform|stack)/' },
    },
    {
      name: 'verify-never-imports-report',
      comment: 'report renders what verify decides; the reverse would make a folder cycle.',
      severity: 'error',
      from: { path: '^src/verify/' },
      to: { path: '^src/report/' },
    },
    {
      name: 'core-is-a-leaf',
      comment: 'src/core (exit codes, errors, secrets, manifest, clock, run folder) imports nothing else from src/.',
      severity: 'error',
      from: { path: '^src/core/' },
      to: { path: '^src/', pathNot: '^src/core/' },
    },
    {
      name: 'sim-uses-protocol-only',
      comment: 'src/sim runs in the engine and in the k6 bundle: deterministic device behaviour over protocol bytes.',
      severity: 'error',
      from: { path: '^src/sim/' },
      to: { path: '^src/', pathNot: '^src/(sim|protocol)/' },
    },
    {
      name: 'protocol-is-a-leaf',
      comment: 'src/protocol is bytes only; the engine, the platform, sim and k6 share it.',
      severity: 'error',
      from: { path: '^src/protocol/' },
      to: { path: '^src/', pathNot: '^src/protocol/' },
    },
    {
      name: 'protocol-and-sim-use-no-node',
      comment: 'They run inside k6 too (tsconfig.pure.json checks the types; this checks the imports).',
      severity: 'error',
      from: { path: '^src/(protocol|sim)/' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'no-folder-cycles',
      comment: 'Folders (any depth) form a tree of imports: a cycle between two folders means one job is split across both.',
      severity: 'error',
      scope: 'folder',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'no-module-cycles',
      comment: 'A module cycle hides an order of initialisation and makes either file hard to change alone.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
  },
};
