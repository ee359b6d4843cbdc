import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { DIFFLAB_KERNELS, FileFormatError } from '@difflab/core';
import { clipFlatByGlobalNorm } from './clip.js';
import { EMA } from './ema.js';
import { flatten } from './flat.js';
import { Adam, AdamW } from './index.js';

/** torch.optim.Adam / AdamW for one scalar parameter, in float64 (torch/optim/adam.py, single-tensor path). */
function torchAdamRef(p0: number, grads: number[], o: { lr: number; b1?: number; b2?: number; eps?: number; wd?: number; decoupled?: boolean }): number[] {
  const { lr, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0, decoupled = false } = o;
  let p = p0;
  let m = 0;
  let v = 0;
  const out: number[] = [];
  grads.forEach((g0, i) => {
    const step = i + 1;
    let g = g0;
    if (decoupled) p *= 1 - lr * wd;
    else if (wd) g += wd * p;
    m = m + (g - m) * (1 - b1); // exp_avg.lerp_(grad, 1 - beta1)
    v = v * b2 + (1 - b2) * g * g;
    const stepSize = lr / (1 - b1 ** step);
    const denom = Math.sqrt(v) / Math.sqrt(1 - b2 ** step) + eps;
    p -= (stepSize * m) / denom;
    out.push(p);
  });
  return out;
}

function param(values: number[]): tf.Variable {
  const t = tf.tensor1d(values);
  const v = tf.variable(t);
  t.dispose();
  return v;
}

describe('Adam / AdamW', () => {
  it('first Adam step moves each parameter by lr * sign(g) (bias correction), later steps follow torch', () => {
    const p = param([1, -2]);
    const q = tf.variable(tf.ones([2, 2]));
    const opt = new Adam([p, q], { lr: 0.1 });
    const gp = [
      [0.5, 0.1],
      [-0.2, 0.3],
      [0.05, -0.4],
    ];
    for (const g of gp) tf.tidy(() => opt.applyGradients([tf.tensor1d(g), tf.fill([2, 2], 0.25)]));
    // after step 1 by hand: m = 0.1 g, v = 0.001 g^2, step 1.0 * m / (|g| + eps) = 0.1 sign(g)
    const want0 = torchAdamRef(1, gp.map((g) => g[0]), { lr: 0.1 });
    const want1 = torchAdamRef(-2, gp.map((g) => g[1]), { lr: 0.1 });
    expect(torchAdamRef(1, [0.5], { lr: 0.1 })[0]).toBeCloseTo(0.9, 7);
    const got = p.dataSync();
    expect(got[0]).toBeCloseTo(want0[2], 6);
    expect(got[1]).toBeCloseTo(want1[2], 6);
    // a constant gradient moves by lr each step: 1 - 3 * 0.1
    for (const v of q.dataSync()) expect(v).toBeCloseTo(0.7, 5);
    expect(opt.stepCount).toBe(3);
    opt.dispose();
    tf.dispose([p, q]);
  });

  it('AdamW decays decoupled from the gradient (p *= 1 - lr wd); Adam folds wd into the gradient', () => {
    const a = param([1, -2]);
    const w = new AdamW([a], { lr: 0.1, weightDecay: 0.1 });
    expect(w.weightDecay).toBe(0.1);
    expect(new AdamW([a]).weightDecay).toBe(0.01);
    expect(new Adam([a]).weightDecay).toBe(0);
    tf.tidy(() => w.applyGradients([tf.zeros([2])]));
    // zero gradient: only the decay acts
    expect(Array.from(a.dataSync())).toEqual([Math.fround(0.99), Math.fround(-1.98)]);
    const b = param([1, -2]);
    const l2 = new Adam([b], { lr: 0.1, weightDecay: 0.1 });
    tf.tidy(() => l2.applyGradients([tf.zeros([2])]));
    // L2: g = wd p, so the first step moves by lr sign(p)
    expect(b.dataSync()[0]).toBeCloseTo(0.9, 6);
    expect(b.dataSync()[1]).toBeCloseTo(-1.9, 6);
    // several AdamW steps with gradients against the torch formula
    const c = param([0.7]);
    const cw = new AdamW([c], { lr: 0.01, weightDecay: 0.05 });
    const gs = [0.3, -0.1, 0.2, 0.0, 0.5];
    for (const g of gs) tf.tidy(() => cw.applyGradients([tf.tensor1d([g])]));
    expect(c.dataSync()[0]).toBeCloseTo(torchAdamRef(0.7, gs, { lr: 0.01, wd: 0.05, decoupled: true })[4], 6);
    for (const o of [w, l2, cw]) o.dispose();
    tf.dispose([a, b, c]);
  });

  it('state round-trips through plain arrays and continues identically', () => {
    const p1 = param([0.3, 0.4, -0.1]);
    const o1 = new AdamW([p1], { lr: 0.05 });
    const gs = [
      [0.1, -0.2, 0.3],
      [0.2, 0.1, -0.3],
      [-0.4, 0.2, 0.1],
    ];
    tf.tidy(() => o1.applyGradients([tf.tensor1d(gs[0])]));
    tf.tidy(() => o1.applyGradients([tf.tensor1d(gs[1])]));
    const state = JSON.parse(JSON.stringify(o1.getState()));
    expect(state.step).toBe(2);
    expect(state.kind).toBe('adamw');
    expect(state.m).toHaveLength(3);
    const p2 = param(Array.from(p1.dataSync()));
    const o2 = new AdamW([p2], { lr: 0.05 });
    o2.setState(state);
    tf.tidy(() => o1.applyGradients([tf.tensor1d(gs[2])]));
    tf.tidy(() => o2.applyGradients([tf.tensor1d(gs[2])]));
    expect(Array.from(p2.dataSync())).toEqual(Array.from(p1.dataSync()));
    expect(() => o2.setState({ ...state, m: [1] })).toThrow(FileFormatError);
    expect(() => o2.setState({ ...state, kind: 'adam' })).toThrow("checkpoint: optimizer state is for 'adam', this optimizer is 'adamw'");
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) tf.tidy(() => o2.applyGradients([tf.tensor1d(gs[i % 3])]));
    expect(tf.memory().numTensors).toBe(before);
    for (const o of [o1, o2]) o.dispose();
    tf.dispose([p1, p2]);
  });

  it('sees an assign to a variable made between updates', () => {
    const p = param([1]);
    const opt = new Adam([p], { lr: 0.1 });
    tf.tidy(() => opt.applyGradients([tf.tensor1d([1])]));
    expect(p.dataSync()[0]).toBeCloseTo(0.9, 6);
    tf.tidy(() => p.assign(tf.tensor1d([5])));
    // a constant gradient moves by lr per step (m_hat / sqrt(v_hat) = 1)
    tf.tidy(() => opt.applyGradients([tf.tensor1d([1])]));
    expect(p.dataSync()[0]).toBeCloseTo(4.9, 5);
    tf.tidy(() => opt.applyGradients([tf.tensor1d([1])]));
    expect(p.dataSync()[0]).toBeCloseTo(4.8, 5);
    opt.dispose();
    p.dispose();
  });

  // Where the backend has DifflabOptimizerStep (@difflab/runtime's native addon on wasm, the tests'
  // default), applyFused runs clip + AdamW + EMA as one kernel; without it the same update is the
  // clip's, applyFlat's and EMA.update's ops.
  const fusedKernel = () => tf.getKernel(DIFFLAB_KERNELS.optimizerStep, tf.getBackend());
  it.skipIf(!fusedKernel())('applyFused: clip, Adam / AdamW and the EMA in one kernel give the op-by-op update, and the gradients\' norm', () => {
    const shapes = [[7, 5], [33], [1], [16, 17]];
    const init = shapes.map((s, i) => tf.mul(tf.randomNormal(s, 0, 1, 'float32', 10 + i), 0.5));
    const grads = shapes.map((s, i) => tf.randomNormal(s, 0, 1, 'float32', 20 + i));
    const run = (fused: boolean, kind: 'adam' | 'adamw', maxNorm: number, withEma: boolean) => {
      const vars = init.map((t) => tf.variable(t));
      const opt = kind === 'adamw' ? new AdamW(vars, { lr: 0.05 }) : new Adam(vars, { lr: 0.05, weightDecay: 0.01 });
      const ema = withEma ? new EMA(vars, { decay: 0.9, warmup: 'none' }) : null;
      const norms: number[] = [];
      let before = 0;
      for (let step = 0; step < 3; step++) {
        // from the second update on (applyFlat keeps one flat copy of the weights from its first)
        if (step === 1) before = tf.memory().numTensors;
        // step s uses grads * (s + 1): the clip's coefficient changes from step to step
        tf.tidy(() => {
          const gs = grads.map((g) => tf.mul(g, step + 1));
          if (fused) {
            const norm = opt.applyFused(gs, 0.05, maxNorm, ema);
            norms.push(norm!.dataSync()[0]);
            return;
          }
          let g = flatten(gs);
          norms.push(tf.sqrt(tf.sum(tf.square(g))).dataSync()[0]);
          if (maxNorm > 0) g = clipFlatByGlobalNorm(g, maxNorm).grad;
          const p = opt.applyFlat(g, 0.05);
          ema?.update(p);
        });
      }
      expect(tf.memory().numTensors, 'tensors kept by the updates').toBe(before);
      const state = opt.getState();
      const out = { weights: vars.map((v) => Array.from(v.dataSync())), m: state.m, v: state.v, shadow: ema?.getState().shadow ?? [], norms };
      ema?.dispose();
      opt.dispose();
      tf.dispose(vars);
      return out;
    };
    const withoutKernel = <T>(fn: () => T): T => {
      const k = fusedKernel()!;
      tf.unregisterKernel(k.kernelName, k.backendName);
      try {
        return fn();
      } finally {
        tf.registerKernel(k);
      }
    };
    const close = (got: number[], want: number[], what: string) => {
      expect(got.length, what).toBe(want.length);
      let worst = 0;
      for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / Math.max(1, Math.abs(want[i])));
      // the norm is summed in float64 by the kernel, in float32 by tf.sum: a few float32 ulps apart
      expect(worst, what).toBeLessThan(2e-6);
    };
    for (const [kind, maxNorm, withEma] of [
      ['adamw', 3, true],
      ['adam', 0, false],
      ['adamw', 1e6, true],
    ] as const) {
      const fused = run(true, kind, maxNorm, withEma);
      const ops = withoutKernel(() => run(false, kind, maxNorm, withEma));
      const label = `${kind}, maxNorm ${maxNorm}, ema ${withEma}`;
      // the gradients' norm (~12, 24, 36 here): 3 clips the updates, 1e6 does not
      close(fused.norms, ops.norms, `${label}: norms`);
      expect(fused.norms[0]).toBeGreaterThan(10);
      for (const [i, w] of fused.weights.entries()) close(w, ops.weights[i], `${label}: weights ${i}`);
      close(fused.m, ops.m, `${label}: m`);
      close(fused.v, ops.v, `${label}: v`);
      close(fused.shadow, ops.shadow, `${label}: EMA`);
      expect(fused.shadow.length).toBe(withEma ? 35 + 33 + 1 + 272 : 0);
    }
    // Adam's first step is scale-free (lr sign(g)): the clip shows in the first moment, m = 0.1 g coef
    const clipped = run(true, 'adamw', 3, false);
    const free = run(true, 'adamw', 1e6, false);
    expect(Math.abs(clipped.m[0])).toBeLessThan(Math.abs(free.m[0]) / 3);
    // refused with the EMA's weights swapped in: nothing assigned, the step count unchanged
    const vars = init.map((t) => tf.variable(t));
    const opt = new AdamW(vars);
    const ema = new EMA(vars);
    ema.swapIn();
    const w0 = Array.from(vars[0].dataSync());
    expect(() => opt.applyFused(grads, 0.05, 1, ema)).toThrow('EMA.update called while the EMA weights are swapped in; call swapOut() first');
    expect(opt.stepCount).toBe(0);
    ema.swapOut();
    expect(Array.from(vars[0].dataSync())).toEqual(w0);
    expect(() => opt.applyFused(grads.slice(1), 0.05, 1, ema)).toThrow('got 3 gradients for 4 variables');
    tf.tidy(() => opt.applyFused(grads, 0.05, 1, ema));
    expect(opt.stepCount).toBe(1);
    expect(ema.stepCount).toBe(1);
    ema.dispose();
    opt.dispose();
    tf.dispose([...vars, ...init, ...grads]);
  });
});
