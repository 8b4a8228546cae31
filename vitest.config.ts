import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts', 'test/parity/**/*.test.ts'],
    environment: 'node',
    globalSetup: ['test/setup/tmpdir.ts'],
    // model and import tests do real work on 2 shared cores
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
