import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@difflab/core';
import { linearSchedule } from '@difflab/schedulers';
import { describe, expect, it } from 'vitest';
import { DDIMSampler } from './ddim.js';
import { DDPMSampler } from './ddpm.js';
import { denoise, guidedModelOutput, rescaleGuidance, sampleAll } from './denoise.js';

const T = 50;
const sch = linearSchedule(T, 1e-4, 0.2);
const ac = Array.from(sch.alphasCumprod);

/** diffusers' scheduler-test dummy model, scaled down: eps(x, t) = 0.1 x t / T. */
const dummy = {
  predict: (x: tf.Tensor, t: tf.Tensor) => tf.tidy(() => tf.mul(x, tf.reshape(tf.div(t, 10 * T), [-1, ...new Array(x.rank - 1).fill(1)]))),
};
const dummyF64 = (x: number[], t: number) => x.map((v) => (0.1 * v * t) / T);

/**
 * Plain-JS float64 re-implementation of the same loops, from the papers' formulas (not from this
 * package's code): DDIM eta = 0 (Song et al. eq. 12, t' = t - T // n) and DDPM ancestral steps
 * (Ho et al. eq. 7, 15) with given noise.
 */
function ddimLoopF64(xT: number[], timesteps: number[], clip: number | null): number[] {
  let x = xT.slice();
  const stride = Math.floor(T / timesteps.length);
  for (const t of timesteps) {
    const a = ac[t];
    const ap = t - stride >= 0 ? ac[t - stride] : 1;
    const eps = dummyF64(x, t);
    let x0 = x.map((v, i) => (v - Math.sqrt(1 - a) * eps[i]) / Math.sqrt(a));
    if (clip !== null) x0 = x0.map((v) => Math.min(clip, Math.max(-clip, v)));
    x = x0.map((v, i) => Math.sqrt(ap) * v + Math.sqrt(1 - ap) * eps[i]);
  }
  return x;
}

function ddpmLoopF64(xT: number[], timesteps: number[], noises: Float32Array[], clip: number | null): number[] {
  let x = xT.slice();
  timesteps.forEach((t, k) => {
    const tp = k + 1 < timesteps.length ? timesteps[k + 1] : -1;
    const a = ac[t];
    const ap = tp >= 0 ? ac[tp] : 1;
    const beta = 1 - a / ap;
    const eps = dummyF64(x, t);
    let x0 = x.map((v, i) => (v - Math.sqrt(1 - a) * eps[i]) / Math.sqrt(a));
    if (clip !== null) x0 = x0.map((v) => Math.min(clip, Math.max(-clip, v)));
    const sd = Math.sqrt(Math.max(((1 - ap) / (1 - a)) * beta, 1e-20));
    x = x0.map((v, i) => ((Math.sqrt(ap) * beta) / (1 - a)) * v + ((Math.sqrt(1 - beta) * (1 - ap)) / (1 - a)) * x[i] + (t > 0 ? sd * noises[k][i] : 0));
  });
  return x;
}

const sum = (a: ArrayLike<number>) => Array.from(a).reduce((s, v) => s + v, 0);
const XT = Array.from(new Rng(11).normalArray(16));

describe('denoise loop', () => {
  it('DDIM eta = 0, 10 steps: the result matches a float64 re-implementation (sum, mean, every value)', () => {
    for (const clip of [null, 1] as const) {
      const sampler = new DDIMSampler(sch, { clipSample: clip !== null });
      const xT = tf.tensor2d(XT, [8, 2]);
      const before = tf.memory().numTensors;
      const { x0 } = sampleAll({ sampler, model: dummy, xT, numSteps: 10, rng: new Rng(0) });
      expect(tf.memory().numTensors).toBe(before + 1);
      const ref = ddimLoopF64(XT, sampler.timesteps as number[], clip);
      const got = x0.dataSync();
      for (let i = 0; i < 16; i++) expect(Math.abs(got[i] - ref[i])).toBeLessThan(1e-5);
      expect(Math.abs(sum(got) - sum(ref))).toBeLessThan(1e-4);
      expect(Math.abs(sum(got) / 16 - sum(ref) / 16)).toBeLessThan(1e-5);
      expect(xT.isDisposed).toBe(false);
      tf.dispose([x0, xT]);
    }
  });

  it('DDPM steps over a full 50-step loop match the float64 re-implementation with the same noise', () => {
    const sampler = new DDPMSampler(sch, { clipSample: true, numInferenceSteps: T });
    const rng = new Rng(3);
    const noises = sampler.timesteps.map(() => rng.normalArray(16));
    let x: tf.Tensor = tf.tensor2d(XT, [8, 2]);
    const before = tf.memory().numTensors;
    sampler.timesteps.forEach((t, k) => {
      const noise = tf.tensor2d(noises[k], [8, 2]);
      const tt = tf.fill([8], t);
      const eps = dummy.predict(x, tt);
      const r = sampler.step(eps, t, x, { noise });
      tf.dispose([noise, tt, eps, x, r.predOriginalSample]);
      x = r.prevSample;
    });
    expect(tf.memory().numTensors).toBe(before);
    const ref = ddpmLoopF64(XT, sampler.timesteps as number[], noises, 1);
    const got = x.dataSync();
    for (let i = 0; i < 16; i++) expect(Math.abs(got[i] - ref[i])).toBeLessThan(1e-4);
    expect(Math.abs(sum(got) - sum(ref))).toBeLessThan(1e-4);
    x.dispose();
  });

  it('yields index, t, xt, prevSample, predOriginalSample; prevSample becomes the next xt', () => {
    const sampler = new DDPMSampler(sch);
    const seen: number[] = [];
    let last: number[] | null = null;
    for (const s of denoise({ sampler, model: dummy, shape: [4, 2], numSteps: 5, rng: new Rng(1) })) {
      expect(s.index).toBe(seen.length);
      seen.push(s.t);
      if (last) expect(Array.from(s.xt.dataSync())).toEqual(last);
      last = Array.from(s.prevSample.dataSync());
      expect(s.predOriginalSample.shape).toEqual([4, 2]);
      expect(Math.max(...Array.from(s.predOriginalSample.dataSync(), Math.abs))).toBeLessThanOrEqual(1);
    }
    expect(seen).toEqual([40, 30, 20, 10, 0]);
  });

  it('does not leak over a full loop, an abandoned loop, or sampleAll', () => {
    const sampler = new DDPMSampler(sch);
    const before = tf.memory().numTensors;
    let steps = 0;
    for (const _ of denoise({ sampler, model: dummy, shape: [16, 2], numSteps: 50, rng: new Rng(1) })) steps++;
    expect(steps).toBe(50);
    expect(tf.memory().numTensors).toBe(before);
    for (const s of denoise({ sampler, model: dummy, shape: [16, 2], numSteps: 50, rng: new Rng(1) })) if (s.index === 7) break;
    expect(tf.memory().numTensors).toBe(before);
    const r = sampleAll({ sampler, model: dummy, shape: [16, 2], numSteps: 20, rng: new Rng(1), keep: [0, 10, 19, 99], keepPredOriginal: true });
    expect(r.trajectory.map((e) => [e.index, e.t])).toEqual([
      [0, 38],
      [10, 18],
      [19, 0],
    ]);
    tf.dispose([r.x0, ...r.trajectory.flatMap((e) => [e.xt, e.predOriginalSample!])]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('same seed -> identical samples; another seed -> different ones', () => {
    const draw = (seed: number) => {
      const { x0 } = sampleAll({ sampler: new DDPMSampler(sch), model: dummy, shape: [8, 2], numSteps: 10, rng: new Rng(seed) });
      const d = Array.from(x0.dataSync());
      x0.dispose();
      return d;
    };
    expect(draw(42)).toEqual(draw(42));
    expect(draw(42)).not.toEqual(draw(43));
  });

  it('x_T is N(0, 1) drawn with the rng and kept as trajectory entry 0', () => {
    const r = sampleAll({ sampler: new DDIMSampler(sch), model: dummy, shape: [2000, 2], numSteps: 2, rng: new Rng(9), keep: [0] });
    const d = r.trajectory[0].xt.dataSync();
    const m = sum(d) / d.length;
    const v = sum(Array.from(d, (x) => (x - m) ** 2)) / d.length;
    expect(Math.abs(m)).toBeLessThan(0.05);
    expect(Math.abs(v - 1)).toBeLessThan(0.08);
    tf.dispose([r.x0, r.trajectory[0].xt]);
  });

  it('classifier-free guidance combines eps_u + s (eps_c - eps_u) on a [cond; null] batch', () => {
    const batches: number[] = [];
    // eps(x, t, c) = 0.1 x + c: guided eps = 0.1 x + s c for the zero null condition
    const condModel = {
      predict: (x: tf.Tensor, _t: tf.Tensor, c?: tf.Tensor) => {
        batches.push(x.shape[0]);
        return tf.tidy(() => tf.add(tf.mul(x, 0.1), c ?? tf.zerosLike(x)));
      },
    };
    const s = 3;
    const cond = tf.tensor2d([0.1, -0.2, 0.3, 0.05, 0, 0.2], [3, 2]);
    const scaledCond = tf.mul(cond, s);
    const plain = { predict: (x: tf.Tensor) => tf.tidy(() => tf.add(tf.mul(x, 0.1), scaledCond)) };
    const xT = tf.tensor2d(XT.slice(0, 6), [3, 2]);
    const before = tf.memory().numTensors;
    const guided = sampleAll({ sampler: new DDIMSampler(sch), model: condModel, xT, numSteps: 5, rng: new Rng(0), cond, guidanceScale: s });
    const ref = sampleAll({ sampler: new DDIMSampler(sch), model: plain, xT, numSteps: 5, rng: new Rng(0) });
    expect(tf.memory().numTensors).toBe(before + 2);
    expect(batches).toEqual([6, 6, 6, 6, 6]);
    const g = guided.x0.dataSync();
    const r = ref.x0.dataSync();
    for (let i = 0; i < 6; i++) expect(Math.abs(g[i] - r[i])).toBeLessThan(1e-5);
    tf.dispose([guided.x0, ref.x0, cond, scaledCond, xT]);
  });

  it('guidance rescale matches diffusers rescale_noise_cfg (float64, torch.std unbiased) per sample', () => {
    // rows: 2 samples of 2x3 values; diffusers: std over all non-batch dims, unbiased
    const c = [0.3, -1.2, 0.5, 2.0, -0.7, 0.1, 1.1, 0.4, -0.9, 0.0, 0.6, -2.2];
    const g = [1.5, -3.0, 0.2, 4.1, -2.6, 0.9, 2.8, 1.9, -3.3, 0.7, 1.0, -5.5];
    const std = (v: number[]) => {
      const m = v.reduce((a, b) => a + b, 0) / v.length;
      return Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1));
    };
    for (const phi of [0, 0.7, 1]) {
      const out = tf.tidy(() => rescaleGuidance(tf.tensor3d(g, [2, 2, 3]), tf.tensor3d(c, [2, 2, 3]), phi).dataSync());
      for (let b = 0; b < 2; b++) {
        const gr = g.slice(6 * b, 6 * b + 6);
        const ratio = std(c.slice(6 * b, 6 * b + 6)) / std(gr);
        for (let i = 0; i < 6; i++) expect(out[6 * b + i]).toBeCloseTo(phi * ratio * gr[i] + (1 - phi) * gr[i], 5);
      }
    }
  });

  it('the loop applies guidance rescale to the guided output (phi 0: plain guidance; phi 1: the std of the conditional output)', () => {
    const condModel = { predict: (x: tf.Tensor, _t: tf.Tensor, c?: tf.Tensor) => tf.tidy(() => tf.add(tf.mul(x, 0.1), c ?? tf.zerosLike(x))) };
    const cond = tf.tensor2d([0.1, -0.2, 0.3, 0.05, 0, 0.2], [3, 2]);
    const xT = tf.tensor2d(XT.slice(0, 6), [3, 2]);
    const outputs = (phi?: number) => {
      const seen: number[][] = [];
      const spy = { predict: (x: tf.Tensor, t: tf.Tensor) => tf.tidy(() => {
        const o = guidedModelOutput(condModel, x, t.dataSync()[0], cond, 4, undefined, phi ?? 0);
        seen.push(Array.from(o.dataSync()));
        return o;
      }) };
      const r = sampleAll({ sampler: new DDIMSampler(sch), model: spy, xT, numSteps: 3, rng: new Rng(0) });
      const viaLoop = sampleAll({ sampler: new DDIMSampler(sch), model: condModel, xT, numSteps: 3, rng: new Rng(0), cond, guidanceScale: 4, ...(phi === undefined ? {} : { guidanceRescale: phi }) });
      const a = Array.from(r.x0.dataSync());
      const b = Array.from(viaLoop.x0.dataSync());
      tf.dispose([r.x0, viaLoop.x0]);
      return { a, b, seen };
    };
    const before = tf.memory().numTensors;
    const plain = outputs();
    const half = outputs(0.5);
    expect(tf.memory().numTensors).toBe(before);
    for (let i = 0; i < 6; i++) {
      expect(half.b[i]).toBeCloseTo(half.a[i], 5);
      expect(plain.b[i]).toBeCloseTo(plain.a[i], 5);
    }
    expect(Math.max(...half.b.map((v, i) => Math.abs(v - plain.b[i])))).toBeGreaterThan(1e-3);
    tf.dispose([cond, xT]);
  });

  it("uses the model's predictAt(x, t) for a shared timestep when it has one, and gets the same result", () => {
    const calls: number[] = [];
    const shared = {
      predict: () => {
        throw new Error('predict should not be called when predictAt exists');
      },
      predictAt: (x: tf.Tensor, t: number) => {
        calls.push(t);
        return tf.mul(x, (0.1 * t) / T);
      },
    };
    const run = (model: typeof dummy | typeof shared) => {
      const s = new DDIMSampler(sch, { numInferenceSteps: 10 });
      const r = sampleAll({ sampler: s, model, shape: [3, 2], rng: new Rng(4) });
      const v = Array.from(r.x0.dataSync());
      r.x0.dispose();
      return { v, timesteps: [...s.timesteps] };
    };
    const a = run(shared);
    const b = run(dummy);
    expect(calls).toEqual(a.timesteps);
    for (let i = 0; i < a.v.length; i++) expect(a.v[i]).toBeCloseTo(b.v[i], 6);
  });
  it('rejects inconsistent options', () => {
    const sampler = new DDIMSampler(sch);
    const xT = tf.zeros([2, 2]);
    const run = (o: object) => () => sampleAll({ sampler, model: dummy, rng: new Rng(0), numSteps: 2, ...o });
    expect(run({})).toThrow(/^denoise: give exactly one of shape and xT$/);
    expect(run({ xT, shape: [2, 2] })).toThrow(/exactly one of shape and xT/);
    expect(run({ xT, guidanceScale: 2 })).toThrow(/^denoise\.guidanceScale: needs a condition \(cond\)$/);
    const nan = tf.tensor2d([0, Number.NaN, 1, 2], [2, 2]);
    expect(run({ xT: nan })).toThrow('denoise: xT contains NaN or Inf values; give finite input');
    const inf = tf.tensor2d([0, Number.POSITIVE_INFINITY], [2, 1]);
    expect(run({ xT, cond: inf, guidanceScale: 2 })).toThrow('denoise: cond contains NaN or Inf values; give finite input');
    tf.dispose([nan, inf]);
    expect(run({ xT, guidanceRescale: 1.5 })).toThrow(/^denoise\.guidanceRescale: must be a number in \[0, 1\], got 1\.5$/);
    expect(run({ xT, guidanceRescale: Number.NaN })).toThrow(/^denoise\.guidanceRescale: must be a number in \[0, 1\], got NaN$/);
    expect(run({ xT, numSteps: 51 })).toThrow(/numInferenceSteps: must be an integer in \[1, 50\]/);
    xT.dispose();
  });
});
