import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { DIFFLAB_KERNELS } from '@difflab/core';
import { startBackend } from './start-backend.js';
import { countPrograms, hasSwiftShader, lcgValues, SWIFTSHADER_SKIP_REASON } from './testing/swiftshader.js';
import { channelSplits } from './webgpu-group-norm.js';

/** GroupNorm of x [B, M, C] in float64: y, mean / rstd per (b, g). */
function forward(x: number[], [B, M, C]: number[], G: number, gamma: number[], beta: number[], eps: number) {
  const Cg = C / G;
  const n = M * Cg;
  const mean: number[] = [];
  const rstd: number[] = [];
  const y = new Array(x.length).fill(0);
  for (let b = 0; b < B; b++)
    for (let g = 0; g < G; g++) {
      const idx: number[] = [];
      for (let m = 0; m < M; m++) for (let k = 0; k < Cg; k++) idx.push((b * M + m) * C + g * Cg + k);
      const mu = idx.reduce((s, i) => s + x[i], 0) / n;
      const v = idx.reduce((s, i) => s + (x[i] - mu) ** 2, 0) / n;
      const r = 1 / Math.sqrt(v + eps);
      mean.push(mu);
      rstd.push(r);
      for (const i of idx) y[i] = (x[i] - mu) * r * gamma[i % C] + beta[i % C];
    }
  return { y, mean, rstd };
}

/** Its gradient for an upstream dy (the closed form). */
function backward(x: number[], dy: number[], shape: number[], G: number, gamma: number[], eps: number) {
  const [B, M, C] = shape;
  const Cg = C / G;
  const n = M * Cg;
  const { mean, rstd } = forward(x, shape, G, gamma, new Array(C).fill(0), eps);
  const dx = new Array(x.length).fill(0);
  const dgamma = new Array(C).fill(0);
  const dbeta = new Array(C).fill(0);
  for (let b = 0; b < B; b++)
    for (let g = 0; g < G; g++) {
      const bg = b * G + g;
      const idx: number[] = [];
      for (let m = 0; m < M; m++) for (let k = 0; k < Cg; k++) idx.push((b * M + m) * C + g * Cg + k);
      const xhat = (i: number) => (x[i] - mean[bg]) * rstd[bg];
      const s1 = idx.reduce((s, i) => s + dy[i] * gamma[i % C], 0);
      const s2 = idx.reduce((s, i) => s + dy[i] * gamma[i % C] * xhat(i), 0);
      for (const i of idx) {
        dx[i] = rstd[bg] * (dy[i] * gamma[i % C] - s1 / n - (xhat(i) * s2) / n);
        dgamma[i % C] += dy[i] * xhat(i);
        dbeta[i % C] += dy[i];
      }
    }
  return { dx, dgamma, dbeta };
}

function relErr(got: ArrayLike<number>, want: number[]): number {
  const scale = Math.max(...want.map(Math.abs), 1e-12);
  let err = 0;
  for (let i = 0; i < want.length; i++) err = Math.max(err, Math.abs(got[i] - want[i]));
  return err / scale;
}

afterAll(async () => {
  await startBackend('wasm');
  expect(tf.getBackend()).toBe('wasm');
});

describe('GroupNorm reference (float64)', () => {
  it("the closed-form gradient matches central differences of sum(y w)", () => {
    const shape = [2, 5, 6];
    const G = 3;
    const x = lcgValues(60, 1).map((v) => 2 * v + 0.3);
    const w = lcgValues(60, 2);
    const gamma = lcgValues(6, 3).map((v) => 1 + v);
    const beta = lcgValues(6, 4);
    const loss = (xs: number[], gm: number[], bt: number[]) => forward(xs, shape, G, gm, bt, 1e-5).y.reduce((s, v, i) => s + v * w[i], 0);
    const { dx, dgamma, dbeta } = backward(x, w, shape, G, gamma, 1e-5);
    const h = 1e-6;
    const fd = (f: (d: number) => number) => (f(h) - f(-h)) / (2 * h);
    for (const i of [0, 7, 33, 59]) expect(fd((d) => loss(x.map((v, j) => (j === i ? v + d : v)), gamma, beta))).toBeCloseTo(dx[i], 6);
    for (const c of [0, 5]) {
      expect(fd((d) => loss(x, gamma.map((v, j) => (j === c ? v + d : v)), beta))).toBeCloseTo(dgamma[c], 6);
      expect(fd((d) => loss(x, gamma, beta.map((v, j) => (j === c ? v + d : v))))).toBeCloseTo(dbeta[c], 6);
    }
  });

  it('splits the B M rows of the channel sums into chunks that cover them once', () => {
    for (const [rows, C] of [
      [65536, 32],
      [16384, 64],
      [4096, 128],
      [600, 32],
      [10, 8],
    ]) {
      const p = channelSplits(rows, C);
      expect(p.splits * p.rowsPerSplit).toBeGreaterThanOrEqual(rows);
      expect((p.splits - 1) * p.rowsPerSplit).toBeLessThan(rows);
      expect(p.rowsPerSplit).toBeGreaterThanOrEqual(32);
    }
  });
});

describe('DifflabGroupNorm / DifflabGroupNormGrad on webgpu (Dawn + SwiftShader)', () => {
  const cases = [
    { name: 'tiny', shape: [2, 6, 8], G: 2 },
    { name: 'groups of 1200 values (several per invocation)', shape: [2, 300, 32], G: 8 },
    // more than 8,192 rows: dgamma / dbeta as 37 chunks' partials, then their sums
    { name: '9,000 rows of 8 (partial sums)', shape: [3, 3000, 8], G: 2 },
    { name: '96 channels (two channel workgroups), odd M', shape: [3, 37, 96], G: 8 },
    { name: 'one group', shape: [2, 16, 4], G: 1 },
    // a layer norm's geometry (rows of C, one group): workgroups of 64
    { name: "a layer norm's rows", shape: [300, 1, 128], G: 1 },
    { name: 'a layer norm of 37 rows of 20', shape: [37, 1, 20], G: 1 },
  ];
  for (const c of cases) {
    it(`${c.name} [${c.shape}] / ${c.G}: y, stats, dx, dgamma, dbeta equal the float64 reference within 2e-5 (1 + 2-3 programs), no leaks`, async (ctx) => {
      ctx.skip(!hasSwiftShader, SWIFTSHADER_SKIP_REASON);
      await startBackend('webgpu');
      const [B, M, C] = c.shape;
      const size = B * M * C;
      // an offset mean and unequal scales per channel, as activations have
      const x = lcgValues(size, 5).map((v, i) => 3 * v * (1 + (i % C) / C) + 0.5);
      const dy = lcgValues(size, 6);
      const gamma = lcgValues(C, 7).map((v) => 1 + 0.5 * v);
      const beta = lcgValues(C, 8);
      const eps = 1e-5;
      const backend = tf.engine().backend as unknown as { numDataIds(): number };
      const xt = tf.tensor3d(x, [B, M, C]);
      const dyt = tf.tensor3d(dy, [B, M, C]);
      const gt = tf.tensor1d(gamma);
      const bt = tf.tensor1d(beta);
      const tensors = tf.memory().numTensors;
      const dataIds = backend.numDataIds();
      const fwd = countPrograms(() => tf.engine().runKernel(DIFFLAB_KERNELS.groupNorm, { x: xt, gamma: gt, beta: bt }, { groups: c.G, eps }) as unknown as tf.Tensor[]);
      const [y, stats] = fwd.result;
      expect(fwd.programs).toBe(1);
      const grad = countPrograms(() => tf.engine().runKernel(DIFFLAB_KERNELS.groupNormGrad, { dy: dyt, x: xt, stats, gamma: gt }, { groups: c.G }) as unknown as tf.Tensor[]);
      const [dx, dgamma, dbeta] = grad.result;
      expect(grad.programs).toBe(B * M <= 8192 ? 2 : 3);
      expect(stats.shape).toEqual([B, c.G, 2]);
      expect([dx.shape, dgamma.shape, dbeta.shape]).toEqual([[B, M, C], [C], [C]]);
      const [yv, sv, dxv, dgv, dbv] = await Promise.all([y, stats, dx, dgamma, dbeta].map((t) => t.data()));
      tf.dispose([y, stats, dx, dgamma, dbeta]);
      expect(tf.memory().numTensors).toBe(tensors);
      expect(backend.numDataIds()).toBe(dataIds);
      tf.dispose([xt, dyt, gt, bt]);
      const f = forward(x, c.shape, c.G, gamma, beta, eps);
      const g = backward(x, dy, c.shape, c.G, gamma, eps);
      expect(relErr(yv, f.y)).toBeLessThan(2e-5);
      expect(relErr(Array.from(sv).filter((_, i) => i % 2 === 0), f.mean)).toBeLessThan(2e-5);
      expect(relErr(Array.from(sv).filter((_, i) => i % 2 === 1), f.rstd)).toBeLessThan(2e-5);
      expect(relErr(dxv, g.dx)).toBeLessThan(2e-5);
      expect(relErr(dgv, g.dgamma)).toBeLessThan(2e-5);
      expect(relErr(dbv, g.dbeta)).toBeLessThan(2e-5);
    });
  }
});
