import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('.', import.meta.url));

// Tests run on the TypeScript sources of every package (no build needed for unit tests);
// the CLI end-to-end tests run the built `difflab` binary.
export default defineConfig({
  resolve: {
    alias: [{ find: /^@difflab\/(core|schedulers|embeddings|datasets|models|samplers|training|metrics|viz|runtime|pipeline)$/, replacement: `${root}packages/$1/src/index.ts` }],
  },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'apps/*/src/**/*.test.ts', 'tools/*/src/**/*.test.ts', 'examples/*/src/**/*.test.ts'],
    // The browser end-to-end tests run on their own afterwards (vitest.web.config.ts): chromium
    // on SwiftShader takes both cores, which starved the CLI tests' synchronous child processes.
    exclude: ['**/node_modules/**', '**/dist/**', 'apps/web/**'],
    setupFiles: [`${root}tools/vitest/setup.ts`],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    reporters: ['default'],
  },
});
