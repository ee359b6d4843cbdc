import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@difflab/core';
import { cosineSchedule, linearSchedule, scheduleFromDiffusersConfig } from '@difflab/schedulers';
import { describe, expect, it } from 'vitest';
import { DDIMSampler } from './ddim.js';

const sch = linearSchedule(50, 1e-4, 0.2);
const ac = sch.alphasCumprod;
const X = [0.5, -1, 1.2, 0.3];
const EPS = [0.1, 0.2, -0.3, 0.4];
const Z = [1, 0, -1, 0.5];

function expectClose(actual: ArrayLike<number>, expected: number[], tol = 1e-5): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) expect(Math.abs(actual[i] - expected[i])).toBeLessThan(tol);
}

/** One DDIM step t -> tp in float64 (Song et al. 2021 eq. 12 and 16). */
function ddimStepRef(t: number, tp: number, x: number[], eps: number[], eta = 0, z = Z, final = 1) {
  const a = ac[t];
  const ap = tp >= 0 ? ac[tp] : final;
  const sigma = eta * Math.sqrt((1 - ap) / (1 - a)) * Math.sqrt(1 - a / ap);
  const x0 = x.map((v, i) => (v - Math.sqrt(1 - a) * eps[i]) / Math.sqrt(a));
  return { x0, prev: x0.map((v, i) => Math.sqrt(ap) * v + Math.sqrt(1 - ap - sigma * sigma) * eps[i] + sigma * z[i]) };
}

function run(s: DDIMSampler, t: number, out: number[], x = X, z: number[] | null = Z) {
  const mo = tf.tensor2d(out, [2, 2]);
  const xt = tf.tensor2d(x, [2, 2]);
  const noise = z ? tf.tensor2d(z, [2, 2]) : undefined;
  const before = tf.memory().numTensors;
  const r = s.step(mo, t, xt, noise ? { noise } : undefined);
  expect(tf.memory().numTensors).toBe(before + 2);
  const res = { prev: Array.from(r.prevSample.dataSync()), x0: Array.from(r.predOriginalSample.dataSync()) };
  tf.dispose([mo, xt, r.prevSample, r.predOriginalSample, ...(noise ? [noise] : [])]);
  return res;
}

describe('DDIM step (diffusers DDIMScheduler)', () => {
  it('eta = 0 matches eq. 12 at t = 40 -> 35 (10 of 50 steps)', () => {
    const s = new DDIMSampler(sch, { clipSample: false, numInferenceSteps: 10 });
    expect(s.previousTimestep(40)).toBe(35);
    const ref = ddimStepRef(40, 35, X, EPS);
    const r = run(s, 40, EPS);
    expectClose(r.x0, ref.x0);
    expectClose(r.prev, ref.prev);
  });

  it('eta = 0 is deterministic: no noise is used or drawn', () => {
    const s = new DDIMSampler(sch, { clipSample: false, numInferenceSteps: 10 });
    expect(run(s, 40, EPS, X, Z).prev).toEqual(run(s, 40, EPS, X, [9, 9, 9, 9]).prev);
    const state = s.rng.getState();
    run(s, 40, EPS, X, null);
    expect(s.rng.getState()).toEqual(state);
  });

  it('eta > 0 adds sigma_t z with sigma_t of eq. 16', () => {
    const s = new DDIMSampler(sch, { clipSample: false, numInferenceSteps: 10, eta: 0.7 });
    expectClose(run(s, 30, EPS).prev, ddimStepRef(30, 25, X, EPS, 0.7).prev);
    expect(s.variance(30)).toBeCloseTo(((1 - ac[25]) / (1 - ac[30])) * (1 - ac[30] / ac[25]), 12);
  });

  it('the last step uses final alpha-bar 1 or alpha-bar_0 (set_alpha_to_one)', () => {
    const one = new DDIMSampler(sch, { clipSample: false, numInferenceSteps: 10 });
    expect(one.timesteps.at(-1)).toBe(0);
    expectClose(run(one, 0, EPS).prev, ddimStepRef(0, -5, X, EPS).prev);
    // with abar_prev = 1 the last step returns x0_hat
    const last = run(one, 0, EPS);
    expectClose(last.prev, last.x0);
    const zero = new DDIMSampler(sch, { clipSample: false, numInferenceSteps: 10, setAlphaToOne: false });
    expect(zero.finalAlphaCumprod).toBe(ac[0]);
    expectClose(run(zero, 0, EPS).prev, ddimStepRef(0, -5, X, EPS, 0, Z, ac[0]).prev);
  });

  it('converts v_prediction and sample outputs (x0 and eps agree with epsilon prediction)', () => {
    const s = (o: object) => new DDIMSampler(sch, { clipSample: false, numInferenceSteps: 10, ...o });
    const t = 25;
    const a = ac[t];
    const x0 = [0.3, -0.7, 0.9, 0.05];
    const xt = x0.map((v, i) => Math.sqrt(a) * v + Math.sqrt(1 - a) * EPS[i]);
    const v = x0.map((v0, i) => Math.sqrt(a) * EPS[i] - Math.sqrt(1 - a) * v0);
    const ref = run(s({}), t, EPS, xt);
    const fromV = run(s({ predictionType: 'v_prediction' }), t, v, xt);
    const fromX0 = run(s({ predictionType: 'sample' }), t, x0, xt);
    for (const r of [ref, fromV, fromX0]) expectClose(r.x0, x0);
    expectClose(fromV.prev, ref.prev);
    expectClose(fromX0.prev, ref.prev);
  });

  it('clip_sample clamps x_0; useClippedModelOutput recomputes eps from it', () => {
    const x = [3, -3, 0.1, 0.2];
    const s = new DDIMSampler(sch, { numInferenceSteps: 10 });
    const r = run(s, 45, EPS, x);
    const raw = ddimStepRef(45, 40, x, EPS).x0;
    expect(Math.max(...raw.map(Math.abs))).toBeGreaterThan(1);
    expectClose(r.x0, raw.map((v) => Math.min(1, Math.max(-1, v))));
    const c = new DDIMSampler(sch, { numInferenceSteps: 10, useClippedModelOutput: true });
    const rc = run(c, 45, EPS, x);
    const a = ac[45];
    const ap = ac[40];
    const eps = x.map((v, i) => (v - Math.sqrt(a) * rc.x0[i]) / Math.sqrt(1 - a));
    expectClose(
      rc.prev,
      rc.x0.map((v, i) => Math.sqrt(ap) * v + Math.sqrt(1 - ap) * eps[i]),
    );
  });

  it('needs setTimesteps before step, and draws eta noise from opts.rng', () => {
    const s = new DDIMSampler(sch);
    const x = tf.tensor2d(X, [2, 2]);
    expect(() => s.step(x, 10, x)).toThrow(/^numInferenceSteps: ddim: call setTimesteps\(n\) before step\(\)$/);
    s.setTimesteps(5);
    expect(s.timesteps).toEqual([40, 30, 20, 10, 0]);
    const noisy = new DDIMSampler(sch, { numInferenceSteps: 5, eta: 1 });
    const draw = (rng: Rng) => {
      const r = noisy.step(x, 30, x, { rng });
      const d = Array.from(r.prevSample.dataSync());
      tf.dispose([r.prevSample, r.predOriginalSample]);
      return d;
    };
    expect(draw(new Rng(5))).toEqual(draw(new Rng(5)));
    expect(draw(new Rng(5))).not.toEqual(draw(new Rng(6)));
    x.dispose();
  });
});

describe('DDIM diffusers config', () => {
  it('writes DDIMScheduler keys and reads them back', () => {
    const s = new DDIMSampler(cosineSchedule(40), { setAlphaToOne: false, clipSampleRange: 2, timestepSpacing: 'trailing' });
    const cfg = s.toDiffusersConfig();
    expect(cfg).toEqual({
      _class_name: 'DDIMScheduler',
      num_train_timesteps: 40,
      beta_start: 1e-4,
      beta_end: 0.02,
      beta_schedule: 'squaredcos_cap_v2',
      trained_betas: null,
      rescale_betas_zero_snr: false,
      clip_sample: true,
      set_alpha_to_one: false,
      steps_offset: 0,
      prediction_type: 'epsilon',
      thresholding: false,
      dynamic_thresholding_ratio: 0.995,
      clip_sample_range: 2,
      sample_max_value: 1,
      timestep_spacing: 'trailing',
    });
    const back = DDIMSampler.fromDiffusersConfig(cfg, scheduleFromDiffusersConfig, { eta: 0.3 });
    expect(back.toDiffusersConfig()).toEqual(cfg);
    expect(back.eta).toBe(0.3);
    expect(back.schedule.id).toBe('cosine');
  });
});
