import { defineConfig } from 'vitest/config';

// The web lab's end-to-end tests (chromium driven by playwright-core), run after the main suite
// with the machine to themselves: `npm test` runs both.
export default defineConfig({
  test: {
    include: ['apps/web/src/**/*.test.ts'],
    testTimeout: 900_000,
    hookTimeout: 300_000,
    pool: 'forks',
    poolOptions: { forks: { maxForks: 1, minForks: 1 } },
    reporters: ['default'],
  },
});
