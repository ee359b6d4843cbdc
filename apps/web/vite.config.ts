import { defineConfig, type Plugin } from 'vite';

/**
 * The built site's Content Security Policy (a meta tag; the dev server, which injects inline
 * scripts for hot reload, goes without). No 'unsafe-eval': TensorFlow.js needs none. What it does
 * need: 'wasm-unsafe-eval' (compiling tfjs-backend-wasm's WebAssembly), blob: workers and
 * connections (tfjs-backend-wasm's threaded build and the downloads made from blobs), data: and
 * blob: images (canvas exports). WebGPU needs no CSP source.
 */
export const CSP = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "worker-src 'self' blob:",
  "connect-src 'self' data: blob:",
  "img-src 'self' data: blob:",
  "style-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

function contentSecurityPolicy(): Plugin {
  return {
    name: 'difflab-csp',
    apply: 'build',
    transformIndexHtml: (html) => html.replace('<head>', `<head>\n    <meta http-equiv="Content-Security-Policy" content="${CSP}" />`),
  };
}

// A static site: relative URLs (any static host, any sub-path), wasm files and workers bundled.
export default defineConfig({
  base: './',
  build: { outDir: 'dist', target: 'es2022', chunkSizeWarningLimit: 8000, emptyOutDir: true },
  worker: { format: 'es' },
  plugins: [contentSecurityPolicy()],
  server: { port: 5317 },
  preview: { port: 5318 },
});
