import { DIFFLAB_KERNELS } from '@difflab/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { NATIVE_SKIP_REASON, onThreads, ulps, useNativeKernels, values } from '../testing/native.js';
import type { OptimizerStepAttrs } from './native-optimizer-step.js';

// DifflabOptimizerStep on difflab-blas (native/adam.c): the gradients' norm against a float64 sum,
// and the clip, Adam step and EMA bit for bit against the same float32 operations as tfjs ops
// (clipFlatByGlobalNorm's coefficient from the kernel's norm, DifflabAdam's step, EMA.update).

const SHAPES = [[7, 5], [33], [1], [16, 17], [40]];
const adamAttrs = (mode: 0 | 1 | 2) => {
  const [lr, wd, t] = [3e-3, 0.01, 7];
  return { beta1: 0.9, beta2: 0.999, eps: 1e-8, stepSize: lr / (1 - 0.9 ** t), invSqrtBc2: 1 / Math.sqrt(1 - 0.999 ** t), mode, decay: mode === 2 ? 1 - lr * wd : mode === 1 ? wd : 0 };
};

function inputs(shapes: number[][], seed: number, gScale: number): { named: Record<string, tf.Tensor>; N: number } {
  const named: Record<string, tf.Tensor> = {};
  let N = 0;
  shapes.forEach((s, k) => {
    const n = s.reduce((a, b) => a * b, 1);
    named[`p${k}`] = tf.tensor(values(n, seed + 3 * k), s);
    named[`g${k}`] = tf.tensor(values(n, seed + 3 * k + 1, gScale), s);
    N += n;
  });
  named.m = tf.tensor1d(values(N, seed + 100, 0.01));
  named.v = tf.tensor1d(values(N, seed + 101, 1e-3, 2e-3));
  named.shadow = tf.tensor1d(values(N, seed + 102));
  return { named, N };
}

const run = (named: Record<string, tf.Tensor>, attrs: OptimizerStepAttrs) =>
  tf.engine().runKernel(DIFFLAB_KERNELS.optimizerStep, named as tf.NamedTensorMap, attrs as unknown as tf.NamedAttrMap) as unknown as tf.Tensor[];

describe.skipIf(NATIVE_SKIP_REASON)('native DifflabOptimizerStep: clip + Adam + EMA over K tensors', () => {
  useNativeKernels();

  it('gives the norm of a float64 sum and, bit for bit, the float32 ops of the clip, every Adam mode and both EMA modes, without leaks', () => {
    const K = SHAPES.length;
    // gradient scale 2: norm ~ 2 sqrt(N / 3) ~ 27; maxNorm 5 clips, 1e6 does not, 0 is off
    const { named, N } = inputs(SHAPES, 11, 2);
    let gs = 0;
    for (let k = 0; k < K; k++) for (const x of named[`g${k}`].dataSync()) gs += x * x;
    for (const mode of [0, 1, 2] as const)
      for (const maxNorm of [0, 5, 1e6])
        for (const ema of [0, 1, 2] as const) {
          const label = `mode ${mode}, maxNorm ${maxNorm}, ema ${ema}`;
          const before = tf.memory().numTensors;
          const attrs = { ...adamAttrs(mode), count: K, maxNorm, ema, emaWeight: 1 - 0.95 };
          const outs = run(named, attrs);
          expect(outs.length, label).toBe(K + 3 + (ema ? 1 : 0));
          for (let k = 0; k < K; k++) expect(outs[k].shape, label).toEqual(SHAPES[k]);
          const norm = outs[K + 2].dataSync()[0];
          expect(outs[K + 2].shape).toEqual([]);
          expect(ulps(norm, Math.sqrt(gs)), `${label}: norm`).toBeLessThanOrEqual(0.5);
          const ref = tf.tidy(() => {
            let g: tf.Tensor = tf.concat(SHAPES.map((_, k) => tf.reshape(named[`g${k}`], [-1])));
            let p: tf.Tensor = tf.concat(SHAPES.map((_, k) => tf.reshape(named[`p${k}`], [-1])));
            // clipFlatByGlobalNorm's float32 ops, on the kernel's norm
            if (maxNorm > 0) g = tf.mul(g, tf.minimum(tf.div(maxNorm, tf.add(tf.scalar(norm), 1e-6)), 1));
            if (mode === 2) p = tf.mul(p, attrs.decay);
            if (mode === 1) g = tf.add(g, tf.mul(p, attrs.decay));
            const m = tf.add(tf.mul(named.m, 0.9), tf.mul(g, 1 - 0.9));
            const v = tf.add(tf.mul(named.v, 0.999), tf.mul(tf.square(g), 1 - 0.999));
            const p2 = tf.sub(p, tf.mul(tf.div(m, tf.add(tf.mul(tf.sqrt(v), attrs.invSqrtBc2), 1e-8)), attrs.stepSize));
            const s = ema === 1 ? p2 : tf.sub(named.shadow, tf.mul(tf.sub(named.shadow, p2), attrs.emaWeight));
            return [p2, m, v, s];
          });
          const got = [tf.tidy(() => tf.concat(outs.slice(0, K).map((o) => tf.reshape(o, [-1])))), outs[K], outs[K + 1]];
          for (const [i, name] of ['p', 'm', 'v'].entries()) expect(Array.from(got[i].dataSync()), `${label}: ${name}'`).toEqual(Array.from(ref[i].dataSync()));
          if (ema) expect(Array.from(outs[K + 3].dataSync()), `${label}: shadow'`).toEqual(Array.from(ref[3].dataSync()));
          tf.dispose([...outs, ...ref, ...got]);
          expect(tf.memory().numTensors, label).toBe(before);
          expect(N).toBe(35 + 33 + 1 + 272 + 40);
        }
    tf.dispose(Object.values(named));
  });

  it('gives one thread\'s bits on two threads (shares cut inside a tensor)', () => {
    // shares of 32K values at least (blas.c's OPTIMIZER_MIN_CHUNK): 100,104 values in 4 tensors, the
    // first share ending inside the first tensor
    const shapes = [[100, 501], [3], [200, 250], [1]];
    const { named } = inputs(shapes, 5, 1);
    const once = (t: number) => onThreads(t, () => run(named, { ...adamAttrs(2), count: shapes.length, maxNorm: 100, ema: 2, emaWeight: 0.01 }));
    const one = once(1);
    const two = once(2);
    expect(two.length).toBe(shapes.length + 4);
    two.forEach((d, i) => {
      expect(d.length, `output ${i}`).toBe(one[i].length);
      expect(d.findIndex((x, j) => !Object.is(x, one[i][j])), `output ${i}: first value that differs`).toBe(-1);
    });
    tf.dispose(Object.values(named));
  });

  it('refuses inputs that do not match the contract with one line naming them', () => {
    const { named } = inputs([[3, 2], [4]], 1, 1);
    const base = { ...adamAttrs(0), count: 2, maxNorm: 1, ema: 2 as const, emaWeight: 0.1 };
    const cases: [Record<string, tf.Tensor>, Partial<OptimizerStepAttrs>, string][] = [
      [{ ...named, g1: tf.ones([5]) }, {}, 'DifflabOptimizerStep: g1 must be float32 [4] like p1, got float32 [5]'],
      [{ ...named, p0: tf.ones([3, 2], 'int32') }, {}, 'DifflabOptimizerStep: p0 must be a float32 tensor, got int32 [3,2]'],
      [{ ...named, shadow: tf.ones([9]) }, {}, "DifflabOptimizerStep: shadow must be float32 [10] (the 2 tensors' values), got float32 [9]"],
      [{ ...named, m: tf.ones([10, 1]) }, {}, "DifflabOptimizerStep: m must be float32 [10] (the 2 tensors' values), got float32 [10,1]"],
      [named, { count: 3 }, 'DifflabOptimizerStep: p2 must be a float32 tensor, got none'],
      [named, { count: 0 }, 'DifflabOptimizerStep: count must be a whole number >= 1, got 0'],
      [named, { ema: 3 as 2 }, 'DifflabOptimizerStep: ema must be 0, 1 or 2, got 3'],
      [named, { maxNorm: Number.NaN }, 'DifflabOptimizerStep: maxNorm must be a number, got NaN'],
    ];
    for (const [ins, over, msg] of cases) expect(() => run(ins, { ...base, ...over })).toThrow(msg);
    // without an EMA no shadow is needed
    const { shadow, ...noShadow } = named;
    const outs = run(noShadow, { ...base, ema: 0 });
    expect(outs.length).toBe(5);
    tf.dispose([...outs, ...cases.flatMap(([ins]) => Object.values(ins)).filter((t) => !Object.values(named).includes(t))]);
    tf.dispose(Object.values(named));
    expect(shadow.isDisposed).toBe(true);
  });
});
