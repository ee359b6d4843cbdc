/**
 * `@difflab/pipeline/browser`: the parts of the composition root that run in a browser (no
 * `node:` modules): config schema and presets, `createApp` / `Job`, reporters and statistics.
 * The jobs that write files and `loadConfig` (which reads them) stay in the Node entry.
 */
export * from './config.js';
export * from './presets.js';
export * from './compose.js';
export * from './reporter.js';
export * from './stats.js';
export * from './sampler-ref.js';
