import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { DIFFLAB_KERNELS, erf64 } from '@difflab/core';
import { describeBackend } from './describe.js';
import { startBackend } from './start-backend.js';
import { countPrograms, SWIFTSHADER_SKIP_REASON as SKIP_REASON, hasSwiftShader, lcgValues as values } from './testing/swiftshader.js';

/*
 * WebGPU in Node through Dawn (the `webgpu` package) on SwiftShader, the software Vulkan driver
 * that Debian's chromium package ships. CI installs chromium; without it these tests are skipped
 * (with the reason shown), and a machine with a GPU driver runs them on that driver instead.
 */


/** Run `fn` on a backend and bring the numbers back as plain arrays. */
async function on(backend: 'cpu' | 'webgpu', fn: () => tf.Tensor): Promise<number[]> {
  await startBackend(backend);
  const before = tf.memory().numTensors;
  const t = tf.tidy(fn);
  const v = Array.from(await t.data());
  t.dispose();
  expect(tf.memory().numTensors).toBe(before);
  return v;
}

function maxAbsDiff(a: number[], b: number[]): number {
  expect(a.length).toBe(b.length);
  return a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
}

afterAll(async () => {
  await startBackend('wasm'); // the setup file's backend for every other test
  expect(tf.getBackend()).toBe('wasm');
});

describe('webgpu in Node (Dawn + SwiftShader)', () => {
  it('starts, reports the adapter and the Vulkan setup', async (ctx) => {
    ctx.skip(!hasSwiftShader, SKIP_REASON);
    const r = await startBackend('webgpu');
    expect(r.backend).toBe('webgpu');
    expect(tf.getBackend()).toBe('webgpu');
    expect(typeof r.adapter).toBe('string');
    const d = describeBackend();
    expect(d.name).toBe('webgpu');
    expect(d.adapter).toBeDefined();
    if (!process.env.VK_ICD_FILENAMES?.includes('swiftshader')) return; // a real GPU driver was used
    expect(r.adapter).toMatch(/swiftshader/i);
    expect(d.adapter!.software).toBe(true);
  });

  it('a 2x2 matmul gives the hand-computed values', async (ctx) => {
    ctx.skip(!hasSwiftShader, SKIP_REASON);
    const v = await on('webgpu', () => tf.matMul(tf.tensor2d([[1, 2], [3, 4]]), tf.tensor2d([[5, 6], [7, 8]])));
    expect(v).toEqual([19, 22, 43, 50]);
  });

  it('a 48x40 by 40x24 matmul matches cpu within 1e-4', async (ctx) => {
    ctx.skip(!hasSwiftShader, SKIP_REASON);
    const a = values(48 * 40, 1);
    const b = values(40 * 24, 2);
    const f = () => tf.matMul(tf.tensor2d(a, [48, 40]), tf.tensor2d(b, [40, 24]));
    const gpu = await on('webgpu', f);
    const cpu = await on('cpu', f);
    expect(maxAbsDiff(gpu, cpu)).toBeLessThan(1e-4);
    // and a float64 reference for one entry, so both are right, not merely equal
    const ref00 = Array.from({ length: 40 }, (_, k) => a[k] * b[k * 24]).reduce((s, x) => s + x, 0);
    expect(Math.abs(gpu[0] - ref00)).toBeLessThan(1e-4);
  });

  it('tf.grad of a least-squares loss matches cpu and the closed form within 1e-4', async (ctx) => {
    ctx.skip(!hasSwiftShader, SKIP_REASON);
    // L(W) = mean((XW - Y)^2) over n rows, dL/dW = (2/n) X^T (XW - Y).
    // tfjs-core alone registers no op gradients in Node (they ship in @tensorflow/tfjs), so the
    // backward pass is given with tf.customGrad: tf.grad still runs the tape, and the gradient
    // ops (matMul with transposeA, sub, mul) run on the backend under test.
    const n = 16;
    const X = values(n * 5, 3);
    const W = values(5 * 3, 4);
    const Y = values(n * 3, 5);
    const loss = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const [w, save] = args as [tf.Tensor2D, tf.GradSaveFunc];
      const x = tf.tensor2d(X, [n, 5]);
      const r = tf.sub(tf.matMul(x, w), tf.tensor2d(Y, [n, 3]));
      save([x, r]);
      return {
        value: tf.mean(tf.square(r)),
        gradFunc: (dy, [xs, rs]) => tf.mul(tf.matMul(xs as tf.Tensor2D, rs as tf.Tensor2D, true, false), tf.mul(dy, 2 / (n * 3))),
      };
    });
    const f = () => tf.grad((w: tf.Tensor) => loss(w))(tf.tensor2d(W, [5, 3]));
    const gpu = await on('webgpu', f);
    const cpu = await on('cpu', f);
    expect(maxAbsDiff(gpu, cpu)).toBeLessThan(1e-4);
    // closed form in float64
    const ref: number[] = [];
    for (let i = 0; i < 5; i++) {
      for (let j = 0; j < 3; j++) {
        let s = 0;
        for (let r = 0; r < n; r++) {
          let pred = 0;
          for (let k = 0; k < 5; k++) pred += X[r * 5 + k] * W[k * 3 + j];
          s += X[r * 5 + i] * (pred - Y[r * 3 + j]);
        }
        ref.push((2 / (n * 3)) * s);
      }
    }
    expect(maxAbsDiff(gpu, ref)).toBeLessThan(1e-4);
  });

  it('uploads go through queue.writeBuffer: float, int32 and bool tensors and scalars arrive intact, no staging buffer made', async (ctx) => {
    ctx.skip(!hasSwiftShader, SKIP_REASON);
    await startBackend('webgpu');
    const backend = tf.engine().registry.webgpu as unknown as { bufferManager: { acquireBuffer: (...a: unknown[]) => unknown } };
    const acquired: unknown[][] = [];
    const acquire = backend.bufferManager.acquireBuffer;
    backend.bufferManager.acquireBuffer = function (this: unknown, ...args: unknown[]) {
      acquired.push(args);
      return acquire.apply(this, args);
    };
    try {
      const f = values(1000, 7);
      const v = await on('webgpu', () =>
        tf.concat([
          tf.add(tf.tensor1d(f), tf.scalar(0.5)),
          tf.cast(tf.mul(tf.tensor1d([3, -4, 5], 'int32'), tf.scalar(2, 'int32')), 'float32'),
          tf.cast(tf.logicalAnd(tf.tensor1d([true, true, false], 'bool'), tf.tensor1d([true, false, false], 'bool')), 'float32'),
        ]),
      );
      expect(maxAbsDiff(v.slice(0, 1000), f.map((x) => x + 0.5))).toBeLessThan(1e-6);
      expect(v.slice(1000)).toEqual([6, -8, 10, 1, 0, 0]);
      // tfjs-webgpu's own path asks for MAP_WRITE staging buffers (mappedAtCreation = true).
      expect(acquired.length).toBeGreaterThan(0);
      expect(acquired.filter((a) => a[2] === true)).toEqual([]);
    } finally {
      backend.bufferManager.acquireBuffer = acquire;
    }
  });

  it('a webgpuUploads value other than write-buffer or tfjs is refused, naming the option', async (ctx) => {
    ctx.skip(!hasSwiftShader, SKIP_REASON);
    const err = await startBackend('webgpu', { webgpuUploads: 'fast' as 'tfjs' }).catch((e) => e);
    expect((err as Error).message).toMatch(/webgpuUploads/);
  });
});

describe("difflab's fused kernels on webgpu (WGSL) against the composite formulas on cpu", () => {
  const run = (name: string, inputs: Record<string, tf.Tensor>, attrs: Record<string, unknown> = {}) =>
    tf.engine().runKernel(name, inputs as never, attrs as never) as unknown as tf.Tensor | tf.Tensor[];
  const xs = values(2 * 999, 11).map((v) => 5 * v); // [-5, 5): both tails of erf

  it('DifflabGelu: cdf = (1 + erf(x / sqrt 2)) / 2 within 1e-6 of float64 erf, y = x cdf; 1 program', async (ctx) => {
    ctx.skip(!hasSwiftShader, SKIP_REASON);
    await startBackend('webgpu');
    const x = tf.tensor2d(xs, [2, 999]);
    const {
      result: [y, cdf],
      programs,
    } = countPrograms(() => run(DIFFLAB_KERNELS.gelu, { x }) as tf.Tensor[]);
    expect(programs).toBe(1);
    const cv = Array.from(await cdf.data());
    const yv = Array.from(await y.data());
    const ref = xs.map((v) => 0.5 * (1 + erf64(v * Math.SQRT1_2)));
    expect(maxAbsDiff(cv, ref)).toBeLessThan(1e-6);
    expect(maxAbsDiff(yv, xs.map((v, i) => v * ref[i]))).toBeLessThan(5e-6);
    tf.dispose([x, y, cdf]);
  });

  it('Sum over leading axes: one program (tfjs-webgpu: two) with the cpu backend\'s values; other sums through tfjs-webgpu', async (ctx) => {
    ctx.skip(!hasSwiftShader, SKIP_REASON);
    const cases: [number[], number | number[], boolean, number][] = [
      // [shape, axis, keepDims, programs on webgpu]
      [[196, 128], 0, false, 1], // a linear layer's bias gradient
      [[4, 49, 128], [0, 1], false, 1], // layer-norm gamma / beta gradients
      [[4, 49, 128], [1, -3], true, 1],
      [[3, 5, 2, 7], [0, 1, 2], false, 1],
      [[1, 33], 0, true, 1],
      [[8193, 3], 0, false, 2], // more rows than COLUMN_SUM_MAX_ROWS: tfjs' transpose + reduce
      [[8192, 37], 0, false, 1], // 512 rows an invocation, 3 workgroups, the last one part-empty
      [[6, 40], 1, false, 1], // the innermost axis: tfjs' reduction
      [[4, 49, 128], [0, 2], false, 2], // not a leading block
    ];
    for (const [shape, axis, keepDims, programs] of cases) {
      const n = shape.reduce((a, b) => a * b, 1);
      const xv = values(n, 21).map((v) => v + 0.25);
      const f = () => tf.sum(tf.tensor(xv, shape), axis, keepDims);
      await startBackend('webgpu');
      const { result: out, programs: count } = countPrograms(() => tf.tidy(f));
      const label = `[${shape}] axis ${axis} keepDims ${keepDims}`;
      expect(count, label).toBe(programs);
      const want = tf.tidy(() => tf.sum(tf.tensor(xv, shape, 'float32'), axis, keepDims).shape);
      expect(out.shape, label).toEqual(want);
      const gpu = Array.from(await out.data());
      out.dispose();
      const cpu = await on('cpu', f);
      // float32 sums of up to 8,193 values in another order
      expect(maxAbsDiff(gpu, cpu) / Math.max(...cpu.map(Math.abs)), label).toBeLessThan(2e-6);
    }
    // int32 sums stay tfjs-webgpu's (exact)
    const iv = Array.from({ length: 60 }, (_, i) => (i * 7919) % 1000);
    const isum = await on('webgpu', () => tf.sum(tf.tensor2d(iv, [12, 5], 'int32'), 0));
    expect(isum).toEqual(await on('cpu', () => tf.sum(tf.tensor2d(iv, [12, 5], 'int32'), 0)));
  });

  it('DifflabGeluGrad: dy (cdf + x phi(x)) matches the cpu composite within 1e-6', async (ctx) => {
    ctx.skip(!hasSwiftShader, SKIP_REASON);
    const dyv = values(2 * 999, 12);
    const f = () => {
      const x = tf.tensor2d(xs, [2, 999]);
      const cdf = tf.add(tf.mul(tf.erf(tf.mul(x, Math.SQRT1_2)), 0.5), 0.5);
      if (tf.getBackend() === 'webgpu') return run(DIFFLAB_KERNELS.geluGrad, { dy: tf.tensor2d(dyv, [2, 999]), x, cdf }) as tf.Tensor;
      return tf.mul(tf.tensor2d(dyv, [2, 999]), tf.add(cdf, tf.mul(tf.mul(x, 1 / Math.sqrt(2 * Math.PI)), tf.exp(tf.mul(tf.square(x), -0.5)))));
    };
    expect(maxAbsDiff(await on('webgpu', f), await on('cpu', f))).toBeLessThan(1e-6);
  });

  it('DifflabSilu / DifflabSiluGrad: x sigmoid(x) and dy s (1 + x (1 - s)) match the cpu composite within 1e-6', async (ctx) => {
    ctx.skip(!hasSwiftShader, SKIP_REASON);
    const xv = values(2 * 999, 13).map((v) => 20 * v); // [-20, 20): the saturated tails too
    const dyv = values(2 * 999, 14);
    const f = (grad: boolean) => () => {
      const x = tf.tensor2d(xv, [2, 999]);
      const dy = tf.tensor2d(dyv, [2, 999]);
      if (tf.getBackend() === 'webgpu') return run(grad ? DIFFLAB_KERNELS.siluGrad : DIFFLAB_KERNELS.silu, grad ? { dy, x } : { x }) as tf.Tensor;
      const s = tf.sigmoid(x);
      return grad ? tf.mul(dy, tf.mul(s, tf.add(tf.mul(x, tf.sub(1, s)), 1))) : tf.mul(x, s);
    };
    for (const grad of [false, true]) {
      const gpu = await on('webgpu', f(grad));
      const cpu = await on('cpu', f(grad));
      const scale = Math.max(...cpu.map(Math.abs));
      expect(maxAbsDiff(gpu, cpu) / scale).toBeLessThan(1e-6);
    }
  });

  it('DifflabAdam: one AdamW step (and one L2 step), one program, equals the op-by-op update on cpu within 1e-7', async (ctx) => {
    ctx.skip(!hasSwiftShader, SKIP_REASON);
    const n = 1500;
    const [p, g, m, v] = [1, 2, 3, 4].map((sd) => values(n, sd + 20));
    const vv = v.map((x) => x * x);
    for (const mode of [1, 2]) {
      const attrs = { beta1: 0.9, beta2: 0.999, eps: 1e-8, stepSize: 1e-3 / (1 - 0.9 ** 3), invSqrtBc2: 1 / Math.sqrt(1 - 0.999 ** 3), mode, decay: mode === 2 ? 1 - 1e-3 * 0.01 : 0.01 };
      const gpu = await (async () => {
        await startBackend('webgpu');
        const ins = [p, g, m, vv].map((a) => tf.tensor1d(a));
        const { result: outs, programs } = countPrograms(() => run(DIFFLAB_KERNELS.adam, { p: ins[0], g: ins[1], m: ins[2], v: ins[3] }, attrs) as tf.Tensor[]);
        expect(programs).toBe(1);
        tf.dispose(ins);
        const res = await Promise.all(outs.map((t) => t.data()));
        tf.dispose(outs);
        return res.map((r) => Array.from(r));
      })();
      const cpu = await (async () => {
        await startBackend('cpu');
        return tf.tidy(() => {
          let pt: tf.Tensor = tf.tensor1d(p);
          let gt: tf.Tensor = tf.tensor1d(g);
          if (mode === 2) pt = tf.mul(pt, attrs.decay);
          else gt = tf.add(gt, tf.mul(pt, attrs.decay));
          const mt = tf.add(tf.mul(tf.tensor1d(m), 0.9), tf.mul(gt, 1 - 0.9));
          const vt = tf.add(tf.mul(tf.tensor1d(vv), 0.999), tf.mul(tf.square(gt), 1 - 0.999));
          const denom = tf.add(tf.mul(tf.sqrt(vt), attrs.invSqrtBc2), attrs.eps);
          const pn = tf.sub(pt, tf.mul(tf.div(mt, denom), attrs.stepSize));
          return [pn, mt, vt].map((t) => Array.from(t.dataSync()));
        });
      })();
      for (let k = 0; k < 3; k++) expect(maxAbsDiff(gpu[k], cpu[k]), `mode ${mode} output ${k}`).toBeLessThan(1e-7);
    }
  });

  it('DifflabLayerNorm / DifflabLayerNormGrad: xhat, rstd and dx match the cpu composite within 1e-5 on [3, 7, 96]', async (ctx) => {
    ctx.skip(!hasSwiftShader, SKIP_REASON);
    const shape: [number, number, number] = [3, 7, 96];
    const xv = values(3 * 7 * 96, 31).map((v, i) => 3 * v + (i % 96 === 0 ? 10 : 0)); // an offset mean
    const dyv = values(3 * 7 * 96, 32);
    const eps = 1e-5;
    const f = (which: 'xhat' | 'rstd' | 'dx') => () => {
      const x = tf.tensor3d(xv, shape);
      if (tf.getBackend() === 'webgpu') {
        const [xhat, rstd] = run(DIFFLAB_KERNELS.layerNorm, { x }, { eps }) as tf.Tensor[];
        if (which === 'xhat') return xhat;
        if (which === 'rstd') return rstd;
        return run(DIFFLAB_KERNELS.layerNormGrad, { dy: tf.tensor3d(dyv, shape), xhat, rstd }) as tf.Tensor;
      }
      const xc = tf.sub(x, tf.mean(x, 2, true));
      const rstd = tf.rsqrt(tf.add(tf.mean(tf.square(xc), 2, true), eps));
      const xhat = tf.mul(xc, rstd);
      if (which === 'xhat') return xhat;
      if (which === 'rstd') return rstd;
      const dy = tf.tensor3d(dyv, shape);
      return tf.mul(tf.sub(tf.sub(dy, tf.mean(dy, 2, true)), tf.mul(xhat, tf.mean(tf.mul(dy, xhat), 2, true))), rstd);
    };
    for (const which of ['xhat', 'rstd', 'dx'] as const) {
      const gpu = await on('webgpu', f(which));
      const cpu = await on('cpu', f(which));
      expect(gpu.length, which).toBe(which === 'rstd' ? 21 : 3 * 7 * 96);
      expect(maxAbsDiff(gpu, cpu), which).toBeLessThan(1e-5);
    }
  });
});
