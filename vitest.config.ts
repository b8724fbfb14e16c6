import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/fixtures/**', 'node_modules/**', 'dist/**'],
    testTimeout: 300_000,
    hookTimeout: 300_000,
    // Integration suites attach loop devices and mount filesystems; two cores, so keep
    // parallelism modest and give each file its own process.
    pool: 'forks',
    maxWorkers: 2,
  },
});
