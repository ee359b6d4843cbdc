import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { FileFormatError } from '@difflab/core';
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
});
