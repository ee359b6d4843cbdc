// vite-node configuration for tools/judges/train-judges.ts: @difflab/* resolve to the packages'
// TypeScript sources (as in vitest.config.ts), so the script needs no build.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('../..', import.meta.url));

export default defineConfig({
  resolve: {
    alias: [{ find: /^@difflab\/(core|schedulers|embeddings|datasets|models|samplers|training|metrics|viz|runtime|pipeline)$/, replacement: `${root}packages/$1/src/index.ts` }],
  },
});
