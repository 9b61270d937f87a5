import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-tmp.ts'],
    // Integration tests start real PostgreSQL, Prometheus, the platform and k6: two cores, two files at a time.
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 180_000,
    reporters: ['default', ['json', { outputFile: '.cache/vitest-results.json' }]],
  },
});
