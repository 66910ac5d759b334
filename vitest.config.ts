import { defineConfig } from 'vitest/config';

// Native addons and worker threads: run test files in forked processes.
export default defineConfig({
  test: {
    pool: 'forks',
    include: ['tests/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
