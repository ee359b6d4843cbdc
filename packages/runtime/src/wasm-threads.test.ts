import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ConfigError } from '@difflab/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { enableWasmThreads } from './wasm-threads.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../../', import.meta.url));
const moduleUnderTest = fileURLToPath(new URL('./wasm-threads.ts', import.meta.url));

// The vitest setup file already started the single-threaded wasm backend in this process, and a
// backend's wasm module cannot be swapped under live tensors, so the threaded backend is started
// in a fresh Node process (vite-node with the repo's vitest config, which maps @difflab/* to the
// sources). It computes a matMul and a conv2d on threaded wasm, then the same inputs on the cpu
// backend, and prints what it saw as one JSON line.
const CHILD = `
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as wasm from '@tensorflow/tfjs-backend-wasm';
import { enableWasmThreads } from ${JSON.stringify(moduleUnderTest)};

// Inputs from a fixed LCG so both backends see identical bits.
let s = 12345;
const rand = (n: number) => Float32Array.from({ length: n }, () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1);
const A = rand(160 * 96), B = rand(96 * 120), X = rand(4 * 16 * 16 * 16), W = rand(3 * 3 * 16 * 24);
function compute() {
  const before = tf.memory().numTensors;
  const out = tf.tidy(() => [
    tf.matMul(tf.tensor2d(A, [160, 96]), tf.tensor2d(B, [96, 120])),
    tf.conv2d(tf.tensor4d(X, [4, 16, 16, 16]), tf.tensor4d(W, [3, 3, 16, 24]), 1, 'same'),
  ]);
  const values = out.map((t) => t.dataSync().slice());
  tf.dispose(out);
  return { values, leaked: tf.memory().numTensors - before };
}
const relErr = (x: Float32Array, ref: Float32Array) => {
  let d = 0, m = 0;
  for (let i = 0; i < x.length; i++) { d = Math.max(d, Math.abs(x[i] - ref[i])); m = Math.max(m, Math.abs(ref[i])); }
  return d / m;
};
const enabled = await enableWasmThreads(2);
await tf.setBackend('wasm');
const threaded = compute();
const again = await enableWasmThreads(3);
const report = { enabled, again, backend: tf.getBackend(), threads: wasm.getThreadsCount(), flag: tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT'), leaked: threaded.leaked };
await tf.setBackend('cpu');
const cpu = compute();
console.log('RESULT ' + JSON.stringify({ ...report, matMulRelErr: relErr(threaded.values[0], cpu.values[0]), conv2dRelErr: relErr(threaded.values[1], cpu.values[1]), cpuLen: cpu.values.map((v) => v.length) }));
`;

describe('enableWasmThreads', () => {
  it('rejects thread counts that are not integers >= 1', async () => {
    for (const bad of [0, -2, 1.5, Number.NaN]) {
      const err = await enableWasmThreads(bad).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toBe(`wasmThreads: must be an integer >= 1; got ${String(bad)}`);
    }
  });

  it('leaves an already initialised wasm backend alone and says so', async () => {
    expect(tf.getBackend()).toBe('wasm'); // started by the vitest setup file
    const instance = tf.backend();
    const r = await enableWasmThreads(2);
    expect(r.threads).toBe(1);
    expect(r.notes).toEqual(['wasm threads: the wasm backend is already initialised (1 thread(s)); unchanged']);
    expect(tf.backend()).toBe(instance);
  });

  it('runs the threaded SIMD build with 2 threads in a fresh Node process, matching the cpu backend', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'difflab-wasm-threads-test-'));
    try {
      const script = join(dir, 'child.ts');
      writeFileSync(script, CHILD);
      const viteNode = createRequire(import.meta.url).resolve('vite-node/vite-node.mjs');
      // A timeout here also catches a child that never exits (pthread workers keeping Node alive).
      const { stdout } = await run(process.execPath, [viteNode, '--config', join(root, 'vitest.config.ts'), script], {
        cwd: root,
        timeout: 90_000,
      });
      const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
      expect(line, stdout).toBeDefined();
      const r = JSON.parse((line as string).slice('RESULT '.length));
      expect(r.enabled.threads).toBe(2);
      expect(r.enabled.notes.at(-1)).toMatch(/^wasm threads: threaded SIMD build, 2 XNNPACK thread\(s\)/);
      expect(r.again).toEqual({ threads: 2, notes: ['wasm threads: already enabled (2 thread(s)); unchanged'] });
      expect(r.backend).toBe('wasm');
      expect(r.threads).toBe(2);
      expect(r.flag).toBe(true);
      expect(r.leaked).toBe(0);
      expect(r.cpuLen).toEqual([160 * 120, 4 * 16 * 16 * 24]);
      expect(r.matMulRelErr).toBeLessThan(1e-5);
      expect(r.conv2dRelErr).toBeLessThan(1e-5);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
