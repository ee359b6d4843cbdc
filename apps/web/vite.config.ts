import { defineConfig } from 'vite';

// A static site: relative URLs (any static host, any sub-path), wasm files and workers bundled.
export default defineConfig({
  base: './',
  build: { outDir: 'dist', target: 'es2022', chunkSizeWarningLimit: 8000, emptyOutDir: true },
  worker: { format: 'es' },
  server: { port: 5317 },
  preview: { port: 5318 },
});
