import { ConfigError } from '@difflab/core';

/** The tfjs backends this package knows how to load and start. */
export const BACKENDS = ['wasm', 'cpu', 'webgpu'] as const;
export type BackendName = (typeof BACKENDS)[number];

/** What a user may ask for: a backend, or `auto` (wasm in Node; webgpu, else wasm, in a browser). */
export const BACKEND_CHOICES = ['auto', ...BACKENDS] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];

/**
 * Check a user's `--backend` / config value. `extra` are names added through
 * `StartBackendOptions.extraBackends` (e.g. `webgl` in a browser bundle that installs it).
 * @throws ConfigError('backend', "unknown backend 'x'; allowed: auto, wasm, cpu, webgpu")
 */
export function parseBackendChoice(value: unknown, extra: readonly string[] = []): string {
  const allowed = [...BACKEND_CHOICES, ...extra.filter((e) => !(BACKEND_CHOICES as readonly string[]).includes(e))];
  if (typeof value === 'string' && allowed.includes(value)) return value;
  const shown = typeof value === 'string' ? value : String(value);
  throw new ConfigError('backend', `unknown backend '${shown}'; allowed: ${allowed.join(', ')}`);
}

/**
 * The backends to try, in order, for a choice. `auto` prefers wasm in Node (SIMD, and the
 * numbers tests assert are wasm numbers); in a browser it prefers WebGPU when an adapter exists,
 * then any extra backends (the hook for webgl, which this project does not install), then wasm.
 * cpu closes every `auto` list as the last resort. An explicit choice is tried alone: a user who
 * asked for webgpu gets an error, not a silent fallback.
 */
export function planBackends(choice: string, platform: 'node' | 'browser', extra: readonly string[] = []): string[] {
  if (choice !== 'auto') return [choice];
  if (platform === 'node') return ['wasm', 'cpu'];
  return ['webgpu', ...extra, 'wasm', 'cpu'];
}
