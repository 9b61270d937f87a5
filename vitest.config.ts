import { defineConfig } from 'vitest/config';

// Two projects, split by what a test file starts:
//   e2e  — real PostgreSQL, Prometheus, the platform (which needs PostgreSQL), the fleetload CLI or a browser;
//   unit — everything else (pure code, in-process sockets on 127.0.0.1, the dependency cruiser): `npm run test:unit`,
//          the fast loop, well under 30 s on two cores. Both test the TypeScript sources, never dist/.
// A new test file is unit unless listed here: list it when it starts one of the above.
const E2E = [
  'test/e2e/**/*.test.ts',
  'test/cli/**/*.test.ts',
  'test/capacity/*.e2e.test.ts',
  'test/scenarios/*.e2e.test.ts',
  'test/platform/**/*.test.ts',
  'test/hardening/**/*.test.ts',
  'test/shards/shards-platform.test.ts',
  'test/faults/fault-runs.test.ts',
  'test/dashboards/promql.test.ts',
  'test/engine/api-clients.test.ts',
  'test/engine/engine.test.ts', // worker threads and real servers for seconds: an integration test
  'test/engine/generate-cli.test.ts',
  'test/engine/ws-clients.test.ts',
  'test/report/series-capture.test.ts',
  'test/report-html/report-html.test.ts',
  'test/live/live-browser.test.ts',
  'test/safety/resource-guard.test.ts',
  'test/safety/secret-scan.test.ts',
  'test/safety/target-safety.test.ts',
  'test/verify/postgres.test.ts',
  'test/verify/prometheus.test.ts',
  'test/verify/reconcile.test.ts',
];

// Measurements of the platform's own ceiling: they run last, alone, so no other test's load moves the ceiling.
const ALONE = ['test/capacity/capacity-search.e2e.test.ts'];

export default defineConfig({
  test: {
    globalSetup: ['test/global-tmp.ts'],
    // Integration tests start real PostgreSQL, Prometheus and the platform: two cores, two files at a time.
    maxWorkers: 2,
    reporters: ['default', ['json', { outputFile: '.cache/vitest-results.json' }]],
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['test/**/*.test.ts'], exclude: [...E2E, ...ALONE], testTimeout: 30_000, hookTimeout: 60_000 },
      },
      {
        extends: true,
        test: { name: 'e2e', include: E2E, exclude: ALONE, testTimeout: 30_000, hookTimeout: 180_000 },
      },
      {
        extends: true,
        test: { name: 'e2e-alone', include: ALONE, testTimeout: 30_000, hookTimeout: 180_000, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
