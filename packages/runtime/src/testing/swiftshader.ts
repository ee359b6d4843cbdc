/**
 * Shared by the WebGPU tests: whether Debian's SwiftShader Vulkan driver is installed (CI installs
 * chromium, which ships it; without it those tests are skipped with this reason), and
 * deterministic test values. Not part of the package's build.
 */
import { existsSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { SWIFTSHADER_ICD } from '../vulkan-paths.js';

export const SWIFTSHADER_SKIP_REASON = `no SwiftShader Vulkan driver at ${SWIFTSHADER_ICD} (install Debian's chromium package)`;
export const hasSwiftShader = existsSync(SWIFTSHADER_ICD);

/** Deterministic values in [-1, 1) from a 32-bit LCG (Numerical Recipes constants). */
export function lcgValues(n: number, seed: number): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

/**
 * fn() on the current (webgpu) backend, with the number of programs it recorded (tfjs-webgpu's
 * `recordAndSubmit`, which tfjs' programs and difflab's multi-output ones both go through).
 */
export function countPrograms<T>(fn: () => T): { result: T; programs: number } {
  const backend = tf.engine().registry.webgpu as unknown as { recordAndSubmit: (...a: unknown[]) => unknown };
  const own = Object.hasOwn(backend, 'recordAndSubmit');
  const original = backend.recordAndSubmit;
  let programs = 0;
  backend.recordAndSubmit = function (this: unknown, ...a: unknown[]) {
    programs++;
    return original.apply(this, a);
  };
  try {
    return { result: fn(), programs };
  } finally {
    if (own) backend.recordAndSubmit = original;
    else delete (backend as Partial<typeof backend>).recordAndSubmit;
  }
}
