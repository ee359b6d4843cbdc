import { DIFFLAB_KERNELS } from '@difflab/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { NATIVE_SKIP_REASON, onThreads, useNativeKernels, values } from '../testing/native.js';

// DifflabGroupNorm / DifflabGroupNormGrad and DifflabSilu / DifflabSiluGrad on difflab-blas
// (native/norm.c, native/vmath.c) against float64 loops written from the definitions, and the
// gradient against central finite differences of the float64 forward pass.

/** float64 group norm of x [B, M, C]: y and (mean, rstd) per (b, g). */
function refForward(x: ArrayLike<number>, gamma: ArrayLike<number>, beta: ArrayLike<number>, B: number, M: number, C: number, G: number, eps: number) {
  const Cg = C / G;
  const y = new Float64Array(B * M * C);
  const stats = new Float64Array(B * G * 2);
  for (let b = 0; b < B; b++)
    for (let g = 0; g < G; g++) {
      let s = 0;
      for (let m = 0; m < M; m++) for (let c = g * Cg; c < (g + 1) * Cg; c++) s += x[(b * M + m) * C + c];
      const mean = s / (M * Cg);
      let v = 0;
      for (let m = 0; m < M; m++) for (let c = g * Cg; c < (g + 1) * Cg; c++) v += (x[(b * M + m) * C + c] - mean) ** 2;
      const rstd = 1 / Math.sqrt(v / (M * Cg) + eps);
      stats[(b * G + g) * 2] = mean;
      stats[(b * G + g) * 2 + 1] = rstd;
      for (let m = 0; m < M; m++)
        for (let c = g * Cg; c < (g + 1) * Cg; c++) {
          const i = (b * M + m) * C + c;
          y[i] = (x[i] - mean) * rstd * gamma[c] + beta[c];
        }
    }
  return { y, stats };
}

function maxRel(got: ArrayLike<number>, want: ArrayLike<number>): number {
  expect(got.length).toBe(want.length);
  let d = 0;
  for (let i = 0; i < got.length; i++) d = Math.max(d, Math.abs(got[i] - want[i]) / Math.max(1, Math.abs(want[i])));
  return d;
}

describe.skipIf(NATIVE_SKIP_REASON)('native group norm, layer norm and SiLU kernels on wasm', () => {
  useNativeKernels();

  for (const [B, M, C, G] of [
    [2, 16, 8, 4],
    [3, 64, 32, 8],
    [1, 5, 6, 1],
    [2, 9, 12, 12],
    [2, 21, 48, 4], // 16-channel vectors down blocks of 16 rows, a 5-row remainder
  ]) {
    for (const withSilu of [false, true]) {
      const [forward, backward] = withSilu ? [DIFFLAB_KERNELS.groupNormSilu, DIFFLAB_KERNELS.groupNormSiluGrad] : [DIFFLAB_KERNELS.groupNorm, DIFFLAB_KERNELS.groupNormGrad];
      it(`${forward} [${B}, ${M}, ${C}] in ${G} groups equals the float64 definition${withSilu ? ' (SiLU of the group norm)' : ''}; its gradient equals finite differences`, () => {
        // an offset mean (3) checks that the variance is not computed as E[x^2] - E[x]^2 in float32
        const x = values(B * M * C, 1, 2, 3);
        const gamma = values(C, 2, 0.5, 1);
        const beta = values(C, 3);
        const dy = values(B * M * C, 4);
        const eps = 1e-5;
        const act = withSilu ? (v: number) => v / (1 + Math.exp(-v)) : (v: number) => v;
        const before = tf.memory().numTensors;
        const [y, stats, dx, dgamma, dbeta] = tf.tidy(() => {
          const xt = tf.tensor3d(x, [B, M, C]);
          const gt = tf.tensor1d(gamma);
          const bt = tf.tensor1d(beta);
          const [yt, st] = tf.engine().runKernel(forward, { x: xt, gamma: gt, beta: bt }, { groups: G, eps }) as tf.Tensor[];
          const grads = tf.engine().runKernel(backward, { dy: tf.tensor3d(dy, [B, M, C]), x: xt, stats: st, gamma: gt, ...(withSilu ? { beta: bt } : {}) }, { groups: G }) as tf.Tensor[];
          return [yt, st, ...grads].map((t) => t.dataSync().slice() as Float32Array);
        });
        expect(tf.memory().numTensors).toBe(before);
        const ref = refForward(x, gamma, beta, B, M, C, G, eps);
        expect(maxRel(y, ref.y.map(act))).toBeLessThan(4e-6);
        expect(maxRel(stats, ref.stats)).toBeLessThan(2e-6);
        // L = sum(dy * y): dL/dx_i, dL/dgamma_c, dL/dbeta_c by central differences in float64
        const loss = (xx: ArrayLike<number>, gg: ArrayLike<number>, bb: ArrayLike<number>) => refForward(xx, gg, bb, B, M, C, G, eps).y.reduce((s, v, i) => s + act(v) * dy[i], 0);
        const h = 1e-4;
        const fd = (arr: Float32Array, i: number, which: 0 | 1 | 2) => {
          const up = Float64Array.from(arr);
          const dn = Float64Array.from(arr);
          up[i] += h;
          dn[i] -= h;
          const args = (v: Float64Array): [ArrayLike<number>, ArrayLike<number>, ArrayLike<number>] => (which === 0 ? [v, gamma, beta] : which === 1 ? [x, v, beta] : [x, gamma, v]);
          return (loss(...args(up)) - loss(...args(dn))) / (2 * h);
        };
        for (let i = 0; i < B * M * C; i += 7) expect(Math.abs(dx[i] - fd(x, i, 0)), `dx[${i}]`).toBeLessThan(2e-4);
        for (let c = 0; c < C; c++) {
          expect(Math.abs(dgamma[c] - fd(gamma, c, 1)), `dgamma[${c}]`).toBeLessThan(2e-4 * Math.max(1, Math.abs(dgamma[c])));
          expect(Math.abs(dbeta[c] - fd(beta, c, 2)), `dbeta[${c}]`).toBeLessThan(2e-4 * Math.max(1, Math.abs(dbeta[c])));
        }
      });
    }
  }

  it('large batches split over two threads: group norm (with and without SiLU), layer norm and Adam give one thread\'s results (dgamma, dbeta within 1e-6)', () => {
    // shares of 256K values at least (native/norm.c, blas.c): 17 samples, 4097 rows; here 40 and 10240
    const [B, M, C, G] = [40, 256, 64, 8];
    const x = values(B * M * C, 5, 2, 1);
    const dy = values(B * M * C, 6);
    const gamma = values(C, 7, 0.5, 1);
    const beta = values(C, 8);
    const n = 600_001;
    const [p, g, m, v] = [values(n, 9), values(n, 10), values(n, 11, 0.1), values(n, 12, 0.1, 0.2)];
    const run = (t: number) =>
      onThreads(t, () => {
        const xt = tf.tensor3d(x, [B, M, C]);
        const gt = tf.tensor1d(gamma);
        const [y, stats] = tf.engine().runKernel(DIFFLAB_KERNELS.groupNorm, { x: xt, gamma: gt, beta: tf.tensor1d(beta) }, { groups: G, eps: 1e-5 }) as unknown as tf.Tensor[];
        const grads = tf.engine().runKernel(DIFFLAB_KERNELS.groupNormGrad, { dy: tf.tensor3d(dy, [B, M, C]), x: xt, stats, gamma: gt }, { groups: G }) as unknown as tf.Tensor[];
        const [xhat, rstd] = tf.engine().runKernel(DIFFLAB_KERNELS.layerNorm, { x: tf.reshape(xt, [B * M, C]) }, { eps: 1e-5 }) as unknown as tf.Tensor[];
        const dln = tf.engine().runKernel(DIFFLAB_KERNELS.layerNormGrad, { dy: tf.tensor2d(dy, [B * M, C]), xhat, rstd }, {}) as unknown as tf.Tensor;
        const [ys] = tf.engine().runKernel(DIFFLAB_KERNELS.groupNormSilu, { x: xt, gamma: gt, beta: tf.tensor1d(beta) }, { groups: G, eps: 1e-5 }) as unknown as tf.Tensor[];
        const gs = tf.engine().runKernel(DIFFLAB_KERNELS.groupNormSiluGrad, { dy: tf.tensor3d(dy, [B, M, C]), x: xt, stats, gamma: gt, beta: tf.tensor1d(beta) }, { groups: G }) as unknown as tf.Tensor[];
        const adam = tf.engine().runKernel(DIFFLAB_KERNELS.adam, { p: tf.tensor1d(p), g: tf.tensor1d(g), m: tf.tensor1d(m), v: tf.tensor1d(v) }, { beta1: 0.9, beta2: 0.999, eps: 1e-8, stepSize: 1e-3, invSqrtBc2: 1.2, mode: 2, decay: 0.999 }) as unknown as tf.Tensor[];
        return [y, stats, ...grads, xhat, rstd, dln, ...adam, ys, ...gs];
      });
    const one = run(1);
    const two = run(2);
    const names = ['y', 'stats', 'dx', 'dgamma', 'dbeta', 'xhat', 'rstd', 'layer-norm dx', "Adam p'", "Adam m'", "Adam v'", 'silu y', 'silu dx', 'silu dgamma', 'silu dbeta'];
    names.forEach((name, i) => {
      if (name.endsWith('dgamma') || name.endsWith('dbeta')) {
        expect(maxRel(two[i], one[i]), name).toBeLessThan(1e-6);
        return;
      }
      let differ = 0;
      for (let j = 0; j < one[i].length; j++) if (!Object.is(one[i][j], two[i][j])) differ++;
      expect(differ, name).toBe(0);
    });
    // and the split group norm against its float64 definition
    const want = refForward(x, gamma, beta, B, M, C, G, 1e-5);
    expect(maxRel(two[0], want.y)).toBeLessThan(1e-5);
  });

  it('rejects groups that do not divide the channels, naming the kernel', () => {
    expect(() => tf.tidy(() => tf.engine().runKernel(DIFFLAB_KERNELS.groupNorm, { x: tf.ones([1, 4, 6]), gamma: tf.ones([6]), beta: tf.zeros([6]) }, { groups: 4, eps: 1e-5 }))).toThrow(
      /^DifflabGroupNorm: groups must divide the 6 channels, got 4$/,
    );
  });

  it('DifflabLayerNorm / DifflabLayerNormGrad equal the float64 normalisation over the last axis and its closed-form gradient', () => {
    const [rows, C] = [37, 48];
    const x = values(rows * C, 11, 3, -2);
    const dy = values(rows * C, 12);
    const [xhat, rstd, dx] = tf.tidy(() => {
      const [h, r] = tf.engine().runKernel(DIFFLAB_KERNELS.layerNorm, { x: tf.tensor3d(x, [1, rows, C]) }, { eps: 1e-5 }) as tf.Tensor[];
      expect(r.shape).toEqual([1, rows, 1]);
      const d = tf.engine().runKernel(DIFFLAB_KERNELS.layerNormGrad, { dy: tf.tensor3d(dy, [1, rows, C]), xhat: h, rstd: r }, {}) as tf.Tensor;
      return [h, r, d].map((t) => t.dataSync().slice() as Float32Array);
    });
    let worst = 0;
    for (let r = 0; r < rows; r++) {
      const row = Array.from(x.subarray(r * C, (r + 1) * C));
      const mean = row.reduce((a, b) => a + b, 0) / C;
      const rs = 1 / Math.sqrt(row.reduce((a, b) => a + (b - mean) ** 2, 0) / C + 1e-5);
      const h = row.map((v) => (v - mean) * rs);
      const d = Array.from(dy.subarray(r * C, (r + 1) * C));
      const md = d.reduce((a, b) => a + b, 0) / C;
      const mdh = d.reduce((a, b, i) => a + b * h[i], 0) / C;
      worst = Math.max(worst, Math.abs(rstd[r] - rs) / rs);
      for (let c = 0; c < C; c++) {
        worst = Math.max(worst, Math.abs(xhat[r * C + c] - h[c]), Math.abs(dx[r * C + c] - rs * (d[c] - md - h[c] * mdh)) / Math.max(1, rs));
      }
    }
    expect(worst).toBeLessThan(2e-6);
  });

  it('DifflabSilu / DifflabSiluGrad equal x sigmoid(x) and its derivative (1e-6 relative), saturating cleanly', () => {
    const n = 50_001;
    const x = Float32Array.from({ length: n }, (_, i) => Math.fround(Math.sin(i * 0.37) * 30));
    const dy = values(n, 5);
    const [y, dx] = tf.tidy(() => {
      const xt = tf.tensor1d(x);
      const yt = tf.engine().runKernel(DIFFLAB_KERNELS.silu, { x: xt }) as tf.Tensor;
      const dt = tf.engine().runKernel(DIFFLAB_KERNELS.siluGrad, { dy: tf.tensor1d(dy), x: xt }) as tf.Tensor;
      return [yt.dataSync().slice(), dt.dataSync().slice()] as Float32Array[];
    });
    let worst = 0;
    for (let i = 0; i < n; i++) {
      const s = 1 / (1 + Math.exp(-x[i]));
      worst = Math.max(worst, Math.abs(y[i] - x[i] * s) / Math.max(1, Math.abs(x[i] * s)), Math.abs(dx[i] - dy[i] * s * (1 + x[i] * (1 - s))));
    }
    expect(worst).toBeLessThan(1e-6);
    const [ye] = tf.tidy(() => [(tf.engine().runKernel(DIFFLAB_KERNELS.silu, { x: tf.tensor1d([-200, 200, 0]) }) as tf.Tensor).dataSync()]);
    expect(Math.abs(ye[0])).toBeLessThan(1e-30);
    expect(Array.from(ye.slice(1))).toEqual([200, 0]);
  });
});
