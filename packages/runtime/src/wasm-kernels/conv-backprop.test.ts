import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerWasmConvKernels, unregisterWasmConvKernels, WASM_CONV_KERNELS } from './conv-backprop.js';

type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];

interface Case {
  x: [number, number, number, number];
  k: [number, number];
  cout: number;
  strides: number | [number, number];
  pad: Pad;
}

const CASES: Case[] = [
  { x: [2, 8, 8, 3], k: [3, 3], cout: 4, strides: 1, pad: 'same' },
  { x: [2, 8, 8, 3], k: [3, 3], cout: 4, strides: 1, pad: 'valid' },
  { x: [2, 8, 8, 3], k: [3, 3], cout: 4, strides: 2, pad: 'same' },
  { x: [2, 8, 8, 3], k: [3, 3], cout: 4, strides: 2, pad: 'valid' },
  { x: [1, 7, 9, 2], k: [3, 3], cout: 3, strides: 2, pad: 'same' },
  { x: [1, 7, 9, 2], k: [3, 3], cout: 3, strides: 2, pad: 'valid' },
  { x: [3, 6, 5, 4], k: [1, 1], cout: 2, strides: 1, pad: 'valid' },
  { x: [2, 9, 8, 2], k: [5, 3], cout: 3, strides: [2, 1], pad: 'same' },
  { x: [2, 10, 10, 3], k: [4, 4], cout: 2, strides: 3, pad: 'valid' },
  { x: [2, 8, 8, 3], k: [3, 3], cout: 4, strides: 2, pad: 1 },
  {
    x: [1, 6, 6, 2],
    k: [3, 3],
    cout: 2,
    strides: 2,
    pad: [
      [0, 0],
      [2, 0],
      [1, 2],
      [0, 0],
    ],
  },
];

function randn(shape: number[], seed: number): tf.Tensor {
  return tf.randomNormal(shape, 0, 1, 'float32', seed);
}

/** Value and gradients of sum(conv2d(x, w) * up) wrt x and w, as arrays. */
function convGrads(c: Case, data: { x: Float32Array; w: Float32Array; up: Float32Array; upShape: number[] }): { y: Float32Array; dx: Float32Array; dw: Float32Array } {
  return tf.tidy(() => {
    const x = tf.tensor(data.x, c.x) as tf.Tensor4D;
    const w = tf.tensor(data.w, [...c.k, c.x[3], c.cout]) as tf.Tensor4D;
    const up = tf.tensor(data.up, data.upShape);
    const f = (a: tf.Tensor, b: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.strides, c.pad as never);
    const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(f(a, b), up)))([x, w]);
    return { y: f(x, w).dataSync() as Float32Array, dx: dx.dataSync() as Float32Array, dw: dw.dataSync() as Float32Array };
  });
}

function relErr(a: Float32Array, b: Float32Array): number {
  let e = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    e = Math.max(e, Math.abs((a[i] as number) - (b[i] as number)));
    m = Math.max(m, Math.abs(b[i] as number));
  }
  return e / Math.max(m, 1e-12);
}

describe('registerWasmConvKernels', () => {
  beforeAll(async () => {
    await tf.setBackend('wasm');
  });
  afterAll(async () => {
    await tf.setBackend('wasm');
  });

  it('supplies the Conv2DBackpropFilter kernel that tfjs-backend-wasm lacks, idempotently', () => {
    unregisterWasmConvKernels(); // in case a setup file registered them
    expect(tf.getKernel(tf.Conv2DBackpropFilter, 'wasm')).toBeUndefined();
    expect(() =>
      tf.tidy(() => {
        tf.grad((w: tf.Tensor) => tf.sum(tf.conv2d(tf.ones([1, 4, 4, 1]) as tf.Tensor4D, w as tf.Tensor4D, 1, 'same')))(tf.ones([3, 3, 1, 1]));
      }),
    ).toThrow(/Conv2DBackpropFilter/);
    expect(registerWasmConvKernels()).toEqual([...WASM_CONV_KERNELS]);
    expect(registerWasmConvKernels()).toEqual([]);
    expect(tf.getKernel(tf.Conv2DBackpropFilter, 'wasm')).toBeDefined();
  });

  for (const c of CASES) {
    it(`conv2d x [${c.x}] k ${c.k.join('x')} stride ${JSON.stringify(c.strides)} pad ${JSON.stringify(c.pad)}: gradients wrt input and filter equal the cpu backend's`, async () => {
      registerWasmConvKernels();
      const yShape = tf.tidy(() => tf.conv2d(tf.zeros(c.x) as tf.Tensor4D, tf.zeros([...c.k, c.x[3], c.cout]) as tf.Tensor4D, c.strides, c.pad as never).shape);
      const data = tf.tidy(() => ({
        x: randn(c.x, 1).dataSync() as Float32Array,
        w: randn([...c.k, c.x[3], c.cout], 2).dataSync() as Float32Array,
        up: randn(yShape, 3).dataSync() as Float32Array,
        upShape: yShape,
      }));
      const before = tf.memory().numTensors;
      const onWasm = convGrads(c, data);
      expect(tf.memory().numTensors).toBe(before);
      await tf.setBackend('cpu');
      let onCpu: ReturnType<typeof convGrads>;
      try {
        onCpu = convGrads(c, data);
      } finally {
        await tf.setBackend('wasm');
      }
      expect(relErr(onWasm.y, onCpu.y)).toBeLessThan(1e-5);
      expect(relErr(onWasm.dx, onCpu.dx)).toBeLessThan(1e-4);
      expect(relErr(onWasm.dw, onCpu.dw)).toBeLessThan(1e-4);
    });
  }

  it('trains a small conv net (fused conv + bias + relu, stride-2 down, transposed-conv up) with the same gradients as cpu', async () => {
    registerWasmConvKernels();
    const shapes: Record<string, number[]> = { w1: [3, 3, 2, 8], b1: [8], w2: [3, 3, 8, 8], w3: [3, 3, 8, 8], w4: [1, 1, 8, 2] };
    const init = tf.tidy(() => Object.fromEntries(Object.entries(shapes).map(([k, s], i) => [k, tf.mul(randn(s, 10 + i), 0.3).dataSync() as Float32Array])));
    const xData = tf.tidy(() => randn([2, 8, 8, 2], 20).dataSync() as Float32Array);
    const grads = () =>
      tf.tidy(() => {
        const p = Object.fromEntries(Object.entries(shapes).map(([k, s]) => [k, tf.tensor(init[k] as Float32Array, s)]));
        const x = tf.tensor(xData, [2, 8, 8, 2]) as tf.Tensor4D;
        const loss = (w1: tf.Tensor, b1: tf.Tensor, w2: tf.Tensor, w3: tf.Tensor, w4: tf.Tensor) => {
          const h = tf.fused.conv2d({ x, filter: w1 as tf.Tensor4D, strides: 1, pad: 'same', bias: b1, activation: 'relu' });
          const d = tf.relu(tf.conv2d(h, w2 as tf.Tensor4D, 2, 'same'));
          const u = tf.conv2dTranspose(d, w3 as tf.Tensor4D, [2, 8, 8, 8], 2, 'same');
          return tf.mean(tf.square(tf.conv2d(tf.add(u, h) as tf.Tensor4D, w4 as tf.Tensor4D, 1, 'valid')));
        };
        const g = tf.grads(loss as (...a: tf.Tensor[]) => tf.Tensor)(Object.keys(shapes).map((k) => p[k] as tf.Tensor));
        return g.map((t) => t.dataSync() as Float32Array);
      });
    const onWasm = grads();
    await tf.setBackend('cpu');
    let onCpu: Float32Array[];
    try {
      onCpu = grads();
    } finally {
      await tf.setBackend('wasm');
    }
    onWasm.forEach((g, i) => {
      expect(relErr(g, onCpu[i] as Float32Array), Object.keys(shapes)[i]).toBeLessThan(1e-4);
    });
  });

  it('restores the original kernels on unregister', () => {
    registerWasmConvKernels();
    unregisterWasmConvKernels();
    expect(tf.getKernel(tf.Conv2DBackpropFilter, 'wasm')).toBeUndefined();
    expect(tf.getKernel(tf.Conv2DBackpropInput, 'wasm')).toBeDefined();
    expect(registerWasmConvKernels()).toEqual([...WASM_CONV_KERNELS]);
  });
});
