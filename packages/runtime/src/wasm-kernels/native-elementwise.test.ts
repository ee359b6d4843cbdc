import { DIFFLAB_KERNELS, erf64 } from '@difflab/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { NATIVE, NATIVE_SKIP_REASON, ulps, useNativeKernels } from '../testing/native.js';
import type { NativeBlas } from './native-blas.js';
import { binaryPlan } from './native-elementwise.js';

// Sin, Cos and the fused GELU kernels on difflab-blas's vector math (native/vmath.c) against
// float64, with the same bounds as the WebAssembly SIMD module's tests (simd-math.test.ts).

const range = (n: number, lo: number, hi: number) => Float32Array.from({ length: n }, (_, i) => lo + ((hi - lo) * i) / (n - 1));

describe.skipIf(NATIVE_SKIP_REASON)('native vector math kernels on wasm', () => {
  useNativeKernels();

  const run = (f: (x: tf.Tensor) => tf.Tensor, xs: Float32Array) => tf.tidy(() => f(tf.tensor1d(xs)).dataSync() as Float32Array);

  it('Sin and Cos are within 1.5 ulp of the exact value on |x| < 100 (every length, no tail left out), exact at 0, -0, NaN, +-inf, large |x|', () => {
    for (const n of [1, 7, 17, 200_001]) {
      const xs = range(n, -100, 100 - 3 / n);
      let worst = 0;
      const s = run(tf.sin, xs);
      const c = run(tf.cos, xs);
      for (let i = 0; i < n; i++) worst = Math.max(worst, ulps(s[i], Math.sin(xs[i])), ulps(c[i], Math.cos(xs[i])));
      expect(worst, `n = ${n}`).toBeLessThanOrEqual(1.5);
    }
    const special = Float32Array.from([0, -0, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1e6, -3e4]);
    const s = run(tf.sin, special);
    expect(Object.is(s[0], 0)).toBe(true);
    expect(Object.is(s[1], -0)).toBe(true);
    expect([s[2], s[3], s[4]].every(Number.isNaN)).toBe(true);
    expect(s[5]).toBe(Math.fround(Math.sin(1e6)));
    expect(s[6]).toBe(Math.fround(Math.sin(-3e4)));
    expect(run(tf.cos, Float32Array.from([0, 1e6]))).toEqual(Float32Array.from([1, Math.fround(Math.cos(1e6))]));
  });

  it('DifflabGelu / DifflabGeluGrad match the float64 GELU and its derivative (1e-6 relative), and saturate cleanly', () => {
    const n = 100_003;
    const z = Float32Array.from({ length: n }, (_, i) => Math.fround(Math.sin(i * 1.7) * 6));
    const dy = Float32Array.from({ length: n }, (_, i) => Math.fround(Math.cos(i)));
    const [y, cdf, dz] = tf.tidy(() => {
      const zt = tf.tensor1d(z);
      const [yt, ct] = tf.engine().runKernel(DIFFLAB_KERNELS.gelu, { x: zt }) as tf.Tensor[];
      const dt = tf.engine().runKernel(DIFFLAB_KERNELS.geluGrad, { dy: tf.tensor1d(dy), x: zt, cdf: ct }) as tf.Tensor;
      return [yt.dataSync(), ct.dataSync(), dt.dataSync()] as Float32Array[];
    });
    let worst = 0;
    for (let i = 0; i < n; i++) {
      const phi = 0.5 * (1 + erf64(z[i] / Math.SQRT2));
      const g = dy[i] * (phi + (z[i] * Math.exp(-0.5 * z[i] * z[i])) / Math.sqrt(2 * Math.PI));
      worst = Math.max(worst, Math.abs(cdf[i] - phi), Math.abs(y[i] - z[i] * phi) / Math.max(1, Math.abs(z[i])), Math.abs(dz[i] - g) / Math.max(1, Math.abs(g)));
    }
    expect(worst).toBeLessThan(1e-6);
    const [ye, de] = tf.tidy(() => {
      const x = tf.tensor1d([-40, 40, -1e30]);
      const [yt, ct] = tf.engine().runKernel(DIFFLAB_KERNELS.gelu, { x }) as tf.Tensor[];
      return [yt.dataSync(), (tf.engine().runKernel(DIFFLAB_KERNELS.geluGrad, { dy: tf.onesLike(x), x, cdf: ct }) as tf.Tensor).dataSync()];
    });
    expect(Array.from(ye)).toEqual([-0, 40, -0]);
    expect(Array.from(de)).toEqual([0, 1, 0]);
  });

  it('DifflabSinusoidal gives [sin(x f), cos(x f)] (or cos first) of the float32 product within 1.5 ulp, large arguments included', () => {
    const x = Float32Array.from({ length: 257 }, (_, i) => Math.fround((i - 128) * 0.37));
    const freqs = Float32Array.from({ length: 33 }, (_, k) => Math.fround(25 * Math.exp((-Math.log(10000) * k) / 32)));
    for (const cosFirst of [false, true]) {
      const out = tf.tidy(() => (tf.engine().runKernel(DIFFLAB_KERNELS.sinusoidal, { x: tf.tensor1d(x), freqs: tf.tensor1d(freqs) }, { cosFirst }) as tf.Tensor).dataSync().slice());
      expect(out.length).toBe(257 * 66);
      let worst = 0;
      for (let i = 0; i < 257; i++)
        for (let k = 0; k < 33; k++) {
          const a = Math.fround(x[i] * freqs[k]);
          const [s, c] = cosFirst ? [33 + k, k] : [k, 33 + k];
          worst = Math.max(worst, ulps(out[i * 66 + s], Math.sin(a)), ulps(out[i * 66 + c], Math.cos(a)));
        }
      expect(worst).toBeLessThanOrEqual(1.5);
    }
    expect(() => tf.tidy(() => tf.engine().runKernel(DIFFLAB_KERNELS.sinusoidal, { x: tf.ones([2, 2]), freqs: tf.ones([3]) }, {}))).toThrow(/^DifflabSinusoidal: x and freqs must be 1-D, got \[2,2\] and \[3\]$/);
  });

  it('Sum over a block of axes equals the float64 sum (full, leading, middle, trailing); other axis sets fall back with the same values', () => {
    const shape = [3, 37, 5, 4];
    const n = 3 * 37 * 5 * 4;
    const x = Float32Array.from({ length: n }, (_, i) => Math.fround(Math.sin(i * 0.7) * 10 + 3));
    const at = (i: number[]) => x[((i[0] * 37 + i[1]) * 5 + i[2]) * 4 + i[3]];
    const ref = (axes: number[]) => {
      const keep = [0, 1, 2, 3].filter((d) => !axes.includes(d));
      const out = new Map<string, number>();
      for (let a = 0; a < 3; a++)
        for (let b = 0; b < 37; b++)
          for (let c = 0; c < 5; c++)
            for (let d = 0; d < 4; d++) {
              const idx = [a, b, c, d];
              const key = keep.map((k) => idx[k]).join(',');
              out.set(key, (out.get(key) ?? 0) + at(idx));
            }
      return [...out.values()];
    };
    for (const axes of [[0, 1, 2, 3], [0], [0, 1], [1, 2], [3], [2, 3], [0, 2]]) {
      const got = tf.tidy(() => tf.sum(tf.tensor(x, shape), axes).dataSync().slice());
      const want = ref(axes);
      expect(got.length, JSON.stringify(axes)).toBe(want.length);
      let worst = 0;
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / Math.max(1, Math.abs(want[i])));
      expect(worst, JSON.stringify(axes)).toBeLessThan(2e-6);
    }
    const big = tf.tidy(() => tf.sum(tf.fill([99_074], 0.1)).dataSync()[0]);
    expect(Math.abs(big - 9907.4)).toBeLessThan(2e-3);
  });

  it('binaryPlan views a broadcast as a [O, M, I] and b [O or 1, 1, I], and refuses the rest', () => {
    expect(binaryPlan([4, 5], [4, 5])).toEqual([1, 1, 20, false]);
    expect(binaryPlan([4, 5], [5])).toEqual([1, 4, 5, false]);
    expect(binaryPlan([2, 3, 3, 5], [2, 1, 1, 5])).toEqual([2, 9, 5, true]);
    expect(binaryPlan([7], [])).toEqual([1, 7, 1, false]);
    expect(binaryPlan([2, 3], [2, 1])).toEqual([2, 3, 1, true]);
    expect(binaryPlan([2, 3, 4], [3, 1])).toBeNull();
  });

  it('Add, Multiply and Sub equal the element-wise definition for every broadcast form, either operand the larger', () => {
    const shapes: [number[], number[]][] = [
      [[6, 7], [6, 7]],
      [[6, 7], [7]],
      [[7], [6, 7]],
      [[3, 4, 4, 5], [3, 1, 1, 5]],
      [[3, 1, 1, 5], [3, 4, 4, 5]],
      [[9], []],
      [[], [9]],
      [[5, 3], [5, 1]],
      [[2, 3, 4], [3, 1]], // not covered: the WebAssembly kernel, same values
    ];
    const fill = (shape: number[], seed: number) => Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.fround(Math.sin(i * 1.3 + seed) * 4));
    for (const [as, bs] of shapes) {
      const a = fill(as, 1);
      const b = fill(bs, 2);
      const r = Math.max(as.length, bs.length);
      const pa = [...new Array(r - as.length).fill(1), ...as];
      const pb = [...new Array(r - bs.length).fill(1), ...bs];
      const out = pa.map((d, i) => Math.max(d, pb[i]));
      const n = out.reduce((x, y) => x * y, 1);
      const idx = (p: number[], flat: number) => {
        let k = 0;
        let rem = flat;
        const coords = out.map((_, i) => {
          const stride = out.slice(i + 1).reduce((x, y) => x * y, 1);
          const c = Math.floor(rem / stride);
          rem -= c * stride;
          return c;
        });
        for (let i = 0; i < r; i++) k = k * p[i] + (p[i] === 1 ? 0 : coords[i]);
        return k;
      };
      for (const [op, f] of [
        [tf.add, (x: number, y: number) => x + y],
        [tf.mul, (x: number, y: number) => x * y],
        [tf.sub, (x: number, y: number) => x - y],
      ] as const) {
        const got = tf.tidy(() => (op as (x: tf.Tensor, y: tf.Tensor) => tf.Tensor)(tf.tensor(a, as), tf.tensor(b, bs)).dataSync().slice());
        expect(got.length).toBe(n);
        for (let i = 0; i < n; i++) expect(got[i], `${as} ${bs} ${i}`).toBe(Math.fround(f(a[idx(pa, i)], b[idx(pb, i)])));
      }
    }
  });

  it('large tensors split over two threads give the same bits as one thread (every broadcast form, chunk edges inside rows)', () => {
    const blas = NATIVE.blas as NativeBlas;
    const threads = blas.info().threads;
    const fill = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.fround(Math.sin(i * 0.37 + seed) * 3));
    const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
    const cases: [string, () => tf.Tensor][] = [];
    for (const [as, bs] of [
      [[1000, 701], [1000, 701]],
      [[1000, 701], [701]],
      [[3, 600, 1, 333], [3, 1, 1, 333]],
      [[2, 400001], [2, 1]],
      [[700001], []],
      [[7], [150001, 7]],
    ] as [number[], number[]][]) {
      const a = fill(size(as), 1);
      const b = fill(size(bs), 2);
      for (const op of [tf.add, tf.mul, tf.sub]) cases.push([`${op.name} [${as}] [${bs}]`, () => op(tf.tensor(a, as), tf.tensor(b, bs))]);
    }
    const x = fill(1_000_003, 3);
    const dy = fill(1_000_003, 4);
    cases.push(['gelu', () => (tf.engine().runKernel(DIFFLAB_KERNELS.gelu, { x: tf.tensor1d(x) }, {}) as unknown as tf.Tensor[])[0]]);
    cases.push([
      'gelu grad',
      () => {
        const xt = tf.tensor1d(x);
        const [, cdf] = tf.engine().runKernel(DIFFLAB_KERNELS.gelu, { x: xt }, {}) as unknown as tf.Tensor[];
        return tf.engine().runKernel(DIFFLAB_KERNELS.geluGrad, { dy: tf.tensor1d(dy), x: xt, cdf }, {}) as unknown as tf.Tensor;
      },
    ]);
    cases.push(['silu', () => tf.engine().runKernel(DIFFLAB_KERNELS.silu, { x: tf.tensor1d(x) }, {}) as unknown as tf.Tensor]);
    cases.push(['silu grad', () => tf.engine().runKernel(DIFFLAB_KERNELS.siluGrad, { dy: tf.tensor1d(dy), x: tf.tensor1d(x) }, {}) as unknown as tf.Tensor]);
    cases.push(['sin', () => tf.sin(tf.tensor1d(x))]);
    const runAll = (t: number) => {
      blas.setThreads(t);
      try {
        // read back outside tidy: tidy walks a returned typed array's every index looking for tensors
        return cases.map(([, f]) => {
          const t = tf.tidy(f);
          const d = t.dataSync() as Float32Array;
          t.dispose();
          return d;
        });
      } finally {
        blas.setThreads(threads);
      }
    };
    const one = runAll(1);
    const two = runAll(2);
    cases.forEach(([name], i) => {
      let differ = 0;
      for (let j = 0; j < one[i].length; j++) if (!Object.is(one[i][j], two[i][j])) differ++;
      expect(differ, name).toBe(0);
    });
    // and one broadcast checked against its definition across the o boundary: [2, 400001] - [2, 1]
    const sub = one[2 + 3 * 3];
    const a = fill(800002, 1);
    const b = fill(2, 2);
    let wrong = 0;
    for (let j = 0; j < 800002; j++) if (sub[j] !== Math.fround(a[j] - b[j < 400001 ? 0 : 1])) wrong++;
    expect(wrong).toBe(0);
  });

  it('rejects mismatched shapes with a one-line error naming the kernel', () => {
    expect(() => tf.tidy(() => tf.engine().runKernel(DIFFLAB_KERNELS.geluGrad, { dy: tf.ones([3]), x: tf.ones([4]), cdf: tf.ones([4]) }))).toThrow(/^DifflabGeluGrad: input shapes differ \(\[4\] and \[3\]\)$/);
  });
});
