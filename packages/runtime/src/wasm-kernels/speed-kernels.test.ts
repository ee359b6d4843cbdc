import * as tf from '@tensorflow/tfjs-core';
import { DIFFLAB_KERNELS, erf64 } from '@difflab/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerWasmSpeedKernels, unregisterWasmSpeedKernels, WASM_SPEED_KERNELS } from './speed-kernels.js';
import { blockSwap, sumPlan } from './speed-reduce.js';

// Every op below runs on wasm with the speed kernels and is compared with the same op on the
// tfjs-backend-cpu reference backend (exact for copies; float32 tolerances for arithmetic).

type Arr = number[] | Float32Array | Int32Array | Uint8Array;

let previous = '';
beforeAll(async () => {
  previous = tf.getBackend();
  await tf.setBackend('wasm');
  registerWasmSpeedKernels();
});

afterAll(async () => {
  unregisterWasmSpeedKernels();
  await tf.setBackend(previous);
});

/** Values of `f(...)` on the cpu backend, inputs re-created there. */
async function onCpu(f: () => tf.Tensor | tf.Tensor[]): Promise<{ shape: number[]; dtype: string; values: number[] }[]> {
  await tf.setBackend('cpu');
  try {
    return tf.tidy(() => {
      const r = f();
      return (Array.isArray(r) ? r : [r]).map((t) => ({ shape: t.shape, dtype: t.dtype, values: Array.from(t.dataSync() as Arr) }));
    });
  } finally {
    await tf.setBackend('wasm');
  }
}

function onWasm(f: () => tf.Tensor | tf.Tensor[]): { shape: number[]; dtype: string; values: number[] }[] {
  expect(tf.getBackend()).toBe('wasm');
  const before = tf.memory().numTensors;
  const ids = tf.engine().backend.numDataIds();
  const out = tf.tidy(() => {
    const r = f();
    return (Array.isArray(r) ? r : [r]).map((t) => ({ shape: t.shape, dtype: t.dtype, values: Array.from(t.dataSync() as Arr) }));
  });
  expect(tf.memory().numTensors).toBe(before);
  expect(tf.engine().backend.numDataIds()).toBe(ids);
  return out;
}

async function expectSame(f: () => tf.Tensor | tf.Tensor[], tol = 0): Promise<void> {
  const want = await onCpu(f);
  const got = onWasm(f);
  expect(got.length).toBe(want.length);
  got.forEach((g, i) => {
    expect(g.shape).toEqual(want[i].shape);
    expect(g.dtype).toBe(want[i].dtype);
    if (tol === 0) {
      // a plain loop finds the first difference; expect's deep equality over millions of entries
      // blocks the worker for many seconds
      const w = want[i].values;
      const j = g.values.findIndex((v, k) => v !== w[k] && !(Number.isNaN(v) && Number.isNaN(w[k])));
      expect(j === -1 ? 'equal' : `entry ${j}: ${g.values[j]} != ${w[j]}`).toBe('equal');
    } else {
      g.values.forEach((v, j) => {
        const w = want[i].values[j];
        if (Number.isNaN(w)) expect(v).toBeNaN();
        else expect(Math.abs(v - w)).toBeLessThanOrEqual(tol * (1 + Math.abs(w)));
      });
    }
  });
}

/** 0, 1, 2, ... as float32 with a fractional part, so misplaced values show. */
const iota = (shape: number[], dtype: 'float32' | 'int32' | 'bool' = 'float32') => {
  const n = shape.reduce((a, b) => a * b, 1);
  // typed arrays: tf.tensor flattens a plain array of millions of numbers slowly
  if (dtype === 'float32') return tf.tensor(Float32Array.from({ length: n }, (_, i) => i + 0.25), shape, dtype);
  if (dtype === 'int32') return tf.tensor(Int32Array.from({ length: n }, (_, i) => i - 7), shape, dtype);
  return tf.tensor(Uint8Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 1 : 0)), shape, dtype);
};

/** Deterministic pseudo-random values in [-1, 1). */
const noise = (shape: number[], seed: number) => {
  const n = shape.reduce((a, b) => a * b, 1);
  let s = seed >>> 0 || 1;
  const v = Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
  return tf.tensor(v, shape, 'float32');
};

describe('registration', () => {
  it('replaces the listed wasm kernels once', () => {
    expect(registerWasmSpeedKernels()).toEqual([]);
    for (const name of WASM_SPEED_KERNELS) expect(tf.getKernel(name, 'wasm')).toBeDefined();
  });
});

describe('Slice', () => {
  const cases: [number[], number[], number[]][] = [
    [[100000], [5], [2]],
    [[10], [0], [-1]],
    [[7, 9], [2, 3], [4, 5]], // non-contiguous rows
    [[7, 9], [2, 0], [3, 9]], // contiguous block of rows
    [[7, 9], [0, 8], [7, 1]], // one column
    [[4, 5, 6], [1, 2, 3], [2, 3, 2]],
    [[4, 5, 6], [1, 0, 0], [2, 5, 6]],
    [[3, 4, 5, 6], [1, 1, 0, 2], [2, 2, 5, 3]],
    [[2, 3, 4, 5, 6], [1, 0, 1, 2, 3], [1, 3, 2, 2, 3]], // rank 5
    [[5, 6], [2, 3], [0, 2]], // empty
    [[300, 40], [10, 5], [200, 30]], // long runs
  ];
  for (const [shape, begin, size] of cases) {
    it(`slices [${shape}] at [${begin}] size [${size}]`, async () => {
      await expectSame(() => tf.slice(iota(shape), begin, size));
    });
  }
  it('slices int32 and bool tensors', async () => {
    await expectSame(() => tf.slice(iota([6, 7], 'int32'), [1, 2], [3, 4]));
    await expectSame(() => tf.slice(iota([6, 7], 'bool'), [1, 2], [3, 4]));
  });
  it('keeps values right when the output allocation grows the heap', async () => {
    await expectSame(() => tf.slice(iota([2_000_000, 2]), [1, 0], [1_999_000, 1]));
  });
});

describe('SplitV, Unpack, StridedSlice', () => {
  it('splits a flat vector into uneven parts', async () => {
    await expectSame(() => tf.split(iota([49152 + 128 + 16384 + 2]), [49152, 128, 16384, 2]));
  });
  it('splits along inner axes', async () => {
    await expectSame(() => tf.split(iota([4, 10, 3]), [3, 5, 2], 1));
    await expectSame(() => tf.split(iota([4, 10, 6]), 3, -1));
    await expectSame(() => tf.split(iota([4, 10], 'int32'), [1, 3], 0));
  });
  it('unstacks along each axis', async () => {
    for (const axis of [0, 1, 2, -1]) await expectSame(() => tf.unstack(iota([3, 4, 5]), axis));
  });
  it('strided slices with unit and non-unit strides and masks', async () => {
    const x = () => iota([6, 7, 8]);
    await expectSame(() => tf.stridedSlice(x(), [1, 0, 0], [4, 7, 8], [1, 1, 1]));
    await expectSame(() => tf.stridedSlice(x(), [1, 2, 3], [4, 5, 7], [1, 1, 1]));
    await expectSame(() => tf.stridedSlice(x(), [0, 1, 0], [6, 7, 8], [2, 3, 1]));
    await expectSame(() => tf.stridedSlice(x(), [2, 0, 1], [3, 7, 5], [1, 1, 1], 0, 0, 0, 0, 1));
    await expectSame(() => tf.stridedSlice(x(), [0, 0, 0], [6, 7, 8], [1, 1, 1]));
    await expectSame(() => tf.stridedSlice(x(), [5, 0, 0], [1, 7, 8], [-1, 1, 1]));
  });
});

describe('Concat', () => {
  it('concatenates along every axis, skipping empty parts', async () => {
    await expectSame(() => tf.concat([iota([3, 4, 5]), iota([3, 2, 5]), iota([3, 0, 5])], 1));
    await expectSame(() => tf.concat([iota([3, 4, 5]), iota([3, 4, 2])], -1));
    await expectSame(() => tf.concat([iota([3, 4]), iota([2, 4])], 0));
    await expectSame(() => tf.concat([iota([7]), iota([3]), iota([100])]));
    await expectSame(() => tf.concat([iota([300, 256]), iota([300, 128])], 1));
    await expectSame(() => tf.concat([iota([5, 2], 'int32'), iota([5, 3], 'int32')], 1));
    await expectSame(() => tf.concat([iota([5, 2], 'bool'), iota([5, 3], 'bool')], 1));
    await expectSame(() => tf.concat([iota([0, 3]), iota([4, 3])], 0));
  });
});

describe('Sin, Cos, Exp, Erf (SIMD module)', () => {
  it('are within 1.5 ulp (erf: 8) of the exact float64 values of the float32 inputs', () => {
    const x = tf.mul(noise([20000], 3), 60);
    const xs = x.dataSync();
    const outs = [tf.sin(x), tf.cos(x), tf.exp(tf.div(x, 4)), tf.erf(tf.div(x, 20))].map((t) => t.dataSync());
    const refs = [Math.sin, Math.cos, (v: number) => Math.exp(Math.fround(v / 4)), (v: number) => erf64(Math.fround(v / 20))];
    const tols = [1.5, 1.5, 1.5, 8];
    outs.forEach((o, k) => {
      let worst = 0;
      for (let i = 0; i < xs.length; i++) {
        const w = Math.fround(refs[k](xs[i]));
        const ulp = 2 ** Math.max(-149, Math.floor(Math.log2(Math.abs(w) || 2 ** -149)) - 23);
        worst = Math.max(worst, Math.abs(o[i] - refs[k](xs[i])) / ulp);
      }
      expect(worst).toBeLessThanOrEqual(tols[k]);
    });
    tf.dispose(x);
  });
  it('agree with the cpu backend', async () => {
    await expectSame(() => tf.sin(tf.mul(noise([50, 64], 5), 100)), 1e-6);
    await expectSame(() => tf.cos(tf.mul(noise([50, 64], 6), 100)), 1e-6);
    await expectSame(() => tf.sin(tf.tensor1d([0, -0, Number.NaN, Number.POSITIVE_INFINITY, 1e6])), 1e-6);
    await expectSame(() => tf.exp(tf.mul(noise([33, 7], 7), 20)), 1e-6);
    // the cpu backend's erf is Abramowitz & Stegun 7.1.26 (|error| <= 1.5e-7)
    await expectSame(() => tf.erf(tf.mul(noise([33, 7], 8), 3)), 3e-7);
    await expectSame(() => tf.exp(tf.tensor1d([Number.NaN, 100, -120, 0])), 0);
  });
});

describe('Identity', () => {
  it('clones share data safely: disposing either leaves the other intact', () => {
    const before = tf.memory().numTensors;
    const ids = tf.engine().backend.numDataIds();
    const a = tf.tensor1d([1, 2, 3]);
    const b = tf.clone(a);
    a.dispose();
    expect(Array.from(b.dataSync())).toEqual([1, 2, 3]);
    const c = tf.clone(b);
    b.dispose();
    expect(Array.from(c.dataSync())).toEqual([1, 2, 3]);
    c.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(tf.engine().backend.numDataIds()).toBe(ids);
  });
  it('variables keep their value through assign of a clone', () => {
    const v = tf.variable(tf.tensor1d([1, 2]));
    const t = tf.tensor1d([5, 6]);
    v.assign(tf.clone(t));
    t.dispose();
    expect(Array.from(v.dataSync())).toEqual([5, 6]);
    v.dispose();
  });
});

describe('BatchMatMul / _FusedMatMul with transposes', () => {
  const shapes: [number, number, number][] = [
    [3, 4, 2],
    [17, 33, 9],
    [64, 48, 32],
    [5, 1, 7],
  ];
  for (const [m, k, n] of shapes) {
    for (const [ta, tb] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ] as const) {
      it(`matMul ${m}x${k}x${n} transposeA=${ta} transposeB=${tb}`, async () => {
        const a = () => noise(ta ? [k, m] : [m, k], m * 7 + k);
        const b = () => noise(tb ? [n, k] : [k, n], n * 11 + k);
        await expectSame(() => tf.matMul(a(), b(), ta, tb), 1e-5);
        await expectSame(() => tf.fused.matMul({ a: a(), b: b(), transposeA: ta, transposeB: tb, bias: noise([n], 2), activation: 'relu' }), 1e-5);
      });
    }
  }
  it('batched products (batch 1 and batch > 1, with broadcasting)', async () => {
    await expectSame(() => tf.matMul(noise([1, 6, 5], 1), noise([1, 4, 5], 2), false, true), 1e-5);
    await expectSame(() => tf.matMul(noise([3, 5, 6], 1), noise([3, 5, 4], 2), true, false), 1e-5);
    await expectSame(() => tf.matMul(noise([2, 3, 5, 6], 3), noise([1, 1, 4, 6], 4), false, true), 1e-5);
  });
  it('batched products above the per-entry threshold (views into the operands), all transpose forms', async () => {
    for (const [ta, tb] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ] as const) {
      const a = (batch: number[]) => noise([...batch, ...(ta ? [16, 20] : [20, 16])], 21);
      const b = (batch: number[]) => noise([...batch, ...(tb ? [24, 16] : [16, 24])], 22);
      await expectSame(() => tf.matMul(a([3]), b([3]), ta, tb), 1e-5);
      await expectSame(() => tf.matMul(a([1]), b([4]), ta, tb), 1e-5);
      await expectSame(() => tf.matMul(a([2, 3]), b([1]), ta, tb), 1e-5);
      await expectSame(() => tf.matMul(a([2, 3]), b([2, 3]), ta, tb), 1e-5);
    }
  });
  it('gradients of a matmul chain match the cpu backend', async () => {
    const f = () => {
      const x = noise([8, 6], 9);
      const w = noise([6, 5], 10);
      const g = tf.grads((xx: tf.Tensor, ww: tf.Tensor) => tf.sum(tf.square(tf.matMul(xx, ww))));
      return g([x, w]);
    };
    await expectSame(f, 1e-5);
  });
});

describe('Sum over leading axes, Transpose of adjacent axis blocks (SIMD module)', () => {
  it('sums over leading axes like the cpu backend, with and without keepDims', async () => {
    await expectSame(() => tf.sum(noise([256, 128], 11), 0), 1e-5);
    await expectSame(() => tf.sum(noise([7, 5, 3], 12), [0, 1]), 2e-6);
    await expectSame(() => tf.sum(noise([7, 5, 3], 13), [1, 0], true), 2e-6);
    await expectSame(() => tf.sum(noise([9, 6], 14), 1), 2e-6);
    await expectSame(() => tf.sum(noise([9, 6], 15)), 2e-6);
    await expectSame(() => tf.sum(iota([9, 6], 'int32'), 0));
  });
  it('sums over a block of middle axes like the cpu backend (GroupNorm channel sums)', async () => {
    await expectSame(() => tf.sum(noise([16, 1024, 32], 16), 1, true), 2e-5);
    await expectSame(() => tf.sum(noise([3, 4, 5, 6], 17), [1, 2]), 2e-6);
    await expectSame(() => tf.sum(noise([3, 4, 5, 6], 18), [2, 1], true), 2e-6);
    await expectSame(() => tf.sum(noise([3, 4, 5, 6], 19), [1, 3]), 2e-6);
    expect(sumPlan([16, 1024, 32], [1])).toEqual([16, 1024, 32]);
    expect(sumPlan([3, 4, 5, 6], [0, 1])).toEqual([1, 12, 30]);
    expect(sumPlan([3, 4, 5, 6], [1, 2])).toEqual([3, 20, 6]);
    expect(sumPlan([3, 4, 5, 6], [2, 3])).toBeNull();
    expect(sumPlan([3, 4, 5, 6], [1, 3])).toBeNull();
  });
  it('transposes adjacent axis blocks exactly like the cpu backend, other permutations too', async () => {
    for (const [shape, perm] of [
      [[256, 128], [1, 0]],
      [[3, 17, 33], [0, 2, 1]],
      [[4, 5, 6, 7], [0, 2, 1, 3]],
      [[4, 5, 6, 7], [2, 3, 0, 1]],
      [[4, 5, 6, 7], [1, 2, 3, 0]],
      [[4, 5, 6, 7], [3, 1, 2, 0]],
      [[2, 3, 4, 5, 6], [0, 1, 3, 4, 2]],
    ] as [number[], number[]][]) {
      await expectSame(() => tf.transpose(noise(shape, shape.length), perm));
      await expectSame(() => tf.transpose(iota(shape, 'int32'), perm));
    }
    await expectSame(() => tf.transpose(iota([3, 4], 'bool'), [1, 0]));
  });
  it('plans only block swaps', () => {
    expect(blockSwap([4, 5, 6, 7], [0, 2, 1, 3])).toEqual([4, 5, 6, 7]);
    expect(blockSwap([4, 5, 6, 7], [2, 3, 0, 1])).toEqual([1, 20, 42, 1]);
    expect(blockSwap([4, 5, 6, 7], [1, 2, 3, 0])).toEqual([1, 4, 210, 1]);
    expect(blockSwap([4, 5, 6, 7], [3, 1, 2, 0])).toBeNull();
    expect(blockSwap([4, 5], [0, 1])).toBeNull();
  });
});

describe('fused GELU kernels (DifflabGelu, DifflabGeluGrad)', () => {
  it('compute y = z Phi(z), Phi and dy (Phi + z phi) like float64, without leaks', () => {
    const before = tf.memory().numTensors;
    const [z, dy] = tf.tidy(() => [tf.mul(noise([37, 129], 21), 4), noise([37, 129], 22)]);
    const [y, cdf] = tf.engine().runKernel(DIFFLAB_KERNELS.gelu, { x: z }, {}) as unknown as tf.Tensor[];
    const dz = tf.engine().runKernel(DIFFLAB_KERNELS.geluGrad, { dy, x: z, cdf }, {}) as tf.Tensor;
    const [zv, dyv, yv, cv, dzv] = [z, dy, y, cdf, dz].map((t) => t.dataSync());
    let worst = 0;
    for (let i = 0; i < zv.length; i++) {
      const phi = 0.5 * (1 + erf64(zv[i] / Math.SQRT2));
      const pdf = Math.exp(-0.5 * zv[i] * zv[i]) / Math.sqrt(2 * Math.PI);
      const g = dyv[i] * (phi + zv[i] * pdf);
      worst = Math.max(worst, Math.abs(cv[i] - phi), Math.abs(yv[i] - zv[i] * phi) / Math.max(1, Math.abs(zv[i])), Math.abs(dzv[i] - g) / Math.max(1, Math.abs(g)));
    }
    expect(worst).toBeLessThan(1e-6);
    tf.dispose([z, dy, y, cdf, dz]);
    expect(tf.memory().numTensors).toBe(before);
  });
  it('refuse non-float32 inputs and mismatched shapes with one line', () => {
    tf.tidy(() => {
      expect(() => tf.engine().runKernel(DIFFLAB_KERNELS.gelu, { x: tf.ones([2], 'int32') }, {})).toThrow('DifflabGelu: float32 inputs only, got int32');
      expect(() => tf.engine().runKernel(DIFFLAB_KERNELS.geluGrad, { dy: tf.ones([2]), x: tf.ones([3]), cdf: tf.ones([3]) }, {})).toThrow(/input shapes differ/);
    });
  });
});

describe('fused Adam kernel (DifflabAdam)', () => {
  it('gives bit for bit the values of the same float32 tfjs ops, in every weight-decay mode, without leaks', () => {
    const n = 1001;
    const [p, g, m, v0] = tf.tidy(() => [noise([n], 31), tf.mul(noise([n], 32), 0.1), tf.mul(noise([n], 33), 0.01), tf.abs(tf.mul(noise([n], 34), 1e-3))]);
    const lr = 3e-3;
    const [beta1, beta2, eps, t] = [0.9, 0.999, 1e-8, 7];
    const bc1 = 1 - beta1 ** t;
    const bc2 = 1 - beta2 ** t;
    for (const [mode, wd] of [
      [0, 0],
      [1, 0.01],
      [2, 0.01],
    ] as const) {
      const before = tf.memory().numTensors;
      const decay = mode === 2 ? 1 - lr * wd : wd;
      const fused = tf.engine().runKernel(DIFFLAB_KERNELS.adam, { p, g, m, v: v0 }, { beta1, beta2, eps, stepSize: lr / bc1, invSqrtBc2: 1 / Math.sqrt(bc2), mode, decay }) as unknown as tf.Tensor[];
      const ref = tf.tidy(() => {
        let pp: tf.Tensor = p;
        let gg: tf.Tensor = g;
        if (mode === 2) pp = tf.mul(pp, 1 - lr * wd);
        if (mode === 1) gg = tf.add(gg, tf.mul(pp, wd));
        const mm = tf.add(tf.mul(m, beta1), tf.mul(gg, 1 - beta1));
        const vv = tf.add(tf.mul(v0, beta2), tf.mul(tf.square(gg), 1 - beta2));
        const denom = tf.add(tf.mul(tf.sqrt(vv), 1 / Math.sqrt(bc2)), eps);
        return [tf.sub(pp, tf.mul(tf.div(mm, denom), lr / bc1)), mm, vv];
      });
      fused.forEach((f, i) => {
        expect(Array.from(f.dataSync())).toEqual(Array.from(ref[i].dataSync()));
      });
      tf.dispose([...fused, ...ref]);
      expect(tf.memory().numTensors).toBe(before);
    }
    expect(() => tf.engine().runKernel(DIFFLAB_KERNELS.adam, { p, g: tf.ones([3]), m, v: v0 }, { mode: 0 })).toThrow('DifflabAdam: g must be a flat vector of 1001 values, got shape [3]');
    tf.dispose([p, g, m, v0]);
  });
});

describe('UnsortedSegmentSum (missing in tfjs-backend-wasm)', () => {
  it('sums rows by segment like the cpu backend, drops out-of-range ids, and makes gather trainable', async () => {
    await expectSame(() => tf.unsortedSegmentSum(noise([7, 5], 41), tf.tensor1d([2, 0, 2, 5, 1, -1, 0], 'int32'), 4), 1e-6);
    await expectSame(() => tf.unsortedSegmentSum(iota([6, 3], 'int32'), tf.tensor1d([1, 1, 0, 2, 2, 2], 'int32'), 3));
    // the gradient of an embedding lookup: rows used twice get twice the gradient
    const table = tf.variable(tf.randomNormal([4, 3], 0, 1, 'float32', 5));
    const { grads } = tf.variableGrads(() => tf.sum(tf.gather(table, tf.tensor1d([1, 3, 1], 'int32'))), [table]);
    expect(Array.from(grads[table.name].dataSync())).toEqual([0, 0, 0, 2, 2, 2, 0, 0, 0, 1, 1, 1]);
    tf.dispose([table, grads[table.name]]);
  });
});
