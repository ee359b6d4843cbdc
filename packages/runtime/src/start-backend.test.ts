import { ConfigError, DifflabError } from '@difflab/core';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { describeBackend } from './describe.js';
import { formatAdapter } from './gpu-types.js';
import { startBackend } from './start-backend.js';
import { loadNativeBlas } from './wasm-kernels/native-blas.js';

const NATIVE = await loadNativeBlas();

// 3x4 times 4x2 with fractional entries; reference by the schoolbook triple loop in float64.
const A = [
  [0.5, -1.25, 2, 0.1],
  [3, 0.75, -0.5, 1.5],
  [-2, 1, 0.25, -0.75],
];
const B = [
  [1, -0.5],
  [0.25, 2],
  [-1.5, 0.125],
  [0.3, -0.2],
];
const REF = A.map((row) => [0, 1].map((j) => row.reduce((s, a, k) => s + a * B[k][j], 0)));

async function matmulOnActiveBackend(): Promise<number[][]> {
  const before = tf.memory().numTensors;
  const out = tf.tidy(() => tf.matMul(tf.tensor2d(A), tf.tensor2d(B)));
  const v = (await out.array()) as number[][];
  out.dispose();
  expect(tf.memory().numTensors).toBe(before);
  return v;
}

function expectClose(got: number[][], want: number[][], tol: number): void {
  expect(got.length).toBe(want.length);
  for (const [i, row] of got.entries()) {
    for (const [j, x] of row.entries()) expect(Math.abs(x - want[i][j])).toBeLessThan(tol);
  }
}

afterAll(async () => {
  // The setup file made wasm the backend of every test; leave it so.
  await startBackend('wasm');
  expect(tf.getBackend()).toBe('wasm');
});

describe('startBackend (Node)', () => {
  it('cpu: starts and computes a matmul', async () => {
    const r = await startBackend('cpu');
    expect(r.backend).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(r.adapter).toBeUndefined();
    expect(describeBackend()).toEqual({ name: 'cpu' });
    expectClose(await matmulOnActiveBackend(), REF, 1e-6);
  });

  it('wasm: starts from node_modules without setWasmPaths, SIMD on, single-threaded', async () => {
    await startBackend('cpu');
    const r = await startBackend('wasm');
    expect(r.backend).toBe('wasm');
    expect(r.notes).toContain('wasm: SIMD on, 1 thread(s)');
    expect(describeBackend()).toEqual({ name: 'wasm', simd: true, threads: 1, matmul: NATIVE.blas ? 'openblas' : 'wasm' });
    expectClose(await matmulOnActiveBackend(), REF, 1e-6);
  });

  it('wasm: matmuls on the native OpenBLAS addon when it was built, and nativeBlas: false turns it off', async () => {
    const on = await startBackend('wasm');
    expect(on.notes).toContain(`wasm: ${NATIVE.note}`);
    if (NATIVE.blas) expect(NATIVE.note).toMatch(/^native addon: matmuls, convolutions, group \/ layer norm, GELU, SiLU, sin, cos, add \/ mul \/ sub, sum, transpose, concat, slice, nearest resize, Adam, residual MLP, attention \(OpenBLAS \S+ kernels, \d+ thread\(s\)\)$/);
    const off = await startBackend('wasm', { nativeBlas: false });
    expect(describeBackend().matmul).toBe('wasm');
    if (NATIVE.blas) expect(off.notes).toContain('wasm: native addon off (nativeBlas: false); every kernel in WebAssembly');
    expectClose(await matmulOnActiveBackend(), REF, 1e-6);
    await startBackend('wasm');
    expect(describeBackend().matmul).toBe(NATIVE.blas ? 'openblas' : 'wasm');
    expectClose(await matmulOnActiveBackend(), REF, 1e-6);
  });

  it('auto is wasm in Node', async () => {
    await startBackend('cpu');
    const r = await startBackend('auto');
    expect(r.backend).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
  });

  it('wasm options that cannot apply any more are reported, not silently dropped', async () => {
    const r = await startBackend('wasm', { wasmPaths: '/static/wasm/', wasmThreads: 4 });
    expect(r.notes).toContain('wasm: already initialised in this process; wasmPaths ignored');
    expect(r.notes).toContain('wasm threads: the wasm backend is already initialised (1 thread(s)); unchanged');
  });

  it('an unknown choice is a ConfigError on the backend field', async () => {
    const err = await startBackend('x').catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toBe("backend: unknown backend 'x'; allowed: auto, wasm, cpu, webgpu");
    expect(err.exitCode).toBe(2);
  });

  it('bad options are ConfigErrors naming the option', async () => {
    await expect(startBackend('cpu', { powerPreference: 'fast' as any })).rejects.toThrow(/^backend\.powerPreference: /);
    await expect(startBackend('cpu', { bogus: 1 } as any)).rejects.toThrow("backend: unknown option(s) 'bogus'");
    await expect(startBackend('cpu', { wasmThreads: 0 })).rejects.toThrow(/^backend\.wasmThreads: /);
  });

  it('extraBackends is the hook for backends this package does not ship (webgl in a browser)', async () => {
    const loader = async () => {
      if (!tf.findBackendFactory('fakegl')) tf.registerBackend('fakegl', () => new MathBackendCPU());
    };
    const r = await startBackend('fakegl', { extraBackends: { fakegl: loader } });
    expect(r.backend).toBe('fakegl');
    const bad = await startBackend('nogl', { extraBackends: { nogl: async () => {} } }).catch((e) => e);
    expect(bad.message).toBe("nogl: its loader ran but registered no tfjs backend named 'nogl'");
    expect(tf.getBackend()).toBe('fakegl');
    await startBackend('wasm');
    tf.removeBackend('fakegl');
  });
});

describe('startBackend webgpu errors (fake navigator.gpu, no Dawn)', () => {
  const g = globalThis as any;
  const hadNavigator = 'navigator' in g;
  function setFakeGpu(gpu: unknown): void {
    if (g.navigator) Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
    else Object.defineProperty(g, 'navigator', { value: { gpu }, configurable: true, writable: true });
  }
  afterEach(() => {
    if (hadNavigator) delete g.navigator.gpu;
    else delete g.navigator;
  });

  it('no adapter: one-line DifflabError naming the backend and the fix, exit code 2, backend unchanged', async () => {
    await startBackend('wasm');
    setFakeGpu({ requestAdapter: async () => null });
    const err = await startBackend('webgpu').catch((e) => e);
    expect(err).toBeInstanceOf(DifflabError);
    expect(err.exitCode).toBe(2);
    expect(err.message).toBe(
      "webgpu: no GPU adapter (Dawn found no usable Vulkan driver); install Debian's chromium for the SwiftShader software adapter (/usr/lib/chromium/vk_swiftshader_icd.json) or use --backend wasm",
    );
    expect(err.message).not.toContain('\n');
    expect(tf.getBackend()).toBe('wasm');
  });

  it('a device that cannot be created leaves the previous backend active', async () => {
    await startBackend('cpu');
    // An adapter whose requestDevice rejects: tfjs' backend factory fails inside setBackend.
    const adapter = {
      info: { vendor: 'acme', architecture: 'toy', device: '', description: 'Toy GPU' },
      features: new Set<string>(),
      limits: {},
      requestDevice: async () => {
        throw new Error('device lost');
      },
    };
    setFakeGpu({ requestAdapter: async () => adapter });
    const warn = console.warn;
    console.warn = () => {}; // tfjs logs the failed initialisation
    const err = await startBackend('webgpu').catch((e) => e);
    console.warn = warn;
    expect(err).toBeInstanceOf(DifflabError);
    expect(err.message).toBe('webgpu: the WebGPU device could not be created on acme toy (Toy GPU); use --backend wasm');
    expect(tf.getBackend()).toBe('cpu');
    expectClose(await matmulOnActiveBackend(), REF, 1e-6);
    await startBackend('wasm');
  });
});

describe('formatAdapter', () => {
  it('puts vendor and architecture first, the driver description in brackets', () => {
    const a = { vendor: 'google', architecture: 'swiftshader', device: 'swiftshader-device-subzero-', description: 'SwiftShader driver 5.0.0', software: true };
    expect(formatAdapter(a)).toBe('google swiftshader (SwiftShader driver 5.0.0)');
    expect(formatAdapter({ ...a, vendor: '', architecture: '', description: '' })).toBe('swiftshader-device-subzero-');
    expect(formatAdapter({ ...a, vendor: '', architecture: '', device: '', description: '' })).toBe('unknown adapter');
  });
});
