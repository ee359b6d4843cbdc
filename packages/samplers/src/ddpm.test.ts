import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, Rng } from '@difflab/core';
import { createSchedule, linearSchedule, scheduleFromDiffusersConfig } from '@difflab/schedulers';
import { describe, expect, it } from 'vitest';
import { DDPMSampler } from './ddpm.js';

const sch = linearSchedule(50, 1e-4, 0.2);
const ac = sch.alphasCumprod;
const X = [0.5, -1, 1.2, 0.3];
const EPS = [0.1, 0.2, -0.3, 0.4];
const Z = [1, 0, -1, 0.5];

function expectClose(actual: ArrayLike<number>, expected: number[], tol = 1e-5): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) expect(Math.abs(actual[i] - expected[i])).toBeLessThan(tol);
}

/** One DDPM step from t to tp in float64, written out from Ho et al. eq. 7 and 15. */
function ddpmStepRef(t: number, tp: number, x: number[], eps: number[], z: number[], large = false) {
  const a = ac[t];
  const ap = tp >= 0 ? ac[tp] : 1;
  const beta = 1 - a / ap;
  const x0 = x.map((v, i) => (v - Math.sqrt(1 - a) * eps[i]) / Math.sqrt(a));
  const mean = x0.map((v, i) => ((Math.sqrt(ap) * beta) / (1 - a)) * v + ((Math.sqrt(1 - beta) * (1 - ap)) / (1 - a)) * x[i]);
  const variance = large ? beta : ((1 - ap) / (1 - a)) * beta;
  return { x0, prev: mean.map((m, i) => (t > 0 ? m + Math.sqrt(variance) * z[i] : m)) };
}

function run(s: DDPMSampler, t: number, out: number[], x = X, z = Z) {
  const [mo, xt, noise] = [tf.tensor2d(out, [2, 2]), tf.tensor2d(x, [2, 2]), tf.tensor2d(z, [2, 2])];
  const before = tf.memory().numTensors;
  const r = s.step(mo, t, xt, { noise });
  expect(tf.memory().numTensors).toBe(before + 2);
  const res = { prev: Array.from(r.prevSample.dataSync()), x0: Array.from(r.predOriginalSample.dataSync()) };
  tf.dispose([mo, xt, noise, r.prevSample, r.predOriginalSample]);
  return res;
}

describe('DDPM step (diffusers DDPMScheduler)', () => {
  it('matches the hand-computed posterior step at t = 37 with all T steps (fixed_small)', () => {
    const s = new DDPMSampler(sch, { clipSample: false });
    expect(s.numInferenceSteps).toBeNull();
    expect(s.timesteps.length).toBe(50);
    const ref = ddpmStepRef(37, 36, X, EPS, Z);
    const r = run(s, 37, EPS);
    expectClose(r.x0, ref.x0);
    expectClose(r.prev, ref.prev);
  });

  it('uses the stride between inference steps and fixed_large variance beta_t', () => {
    const s = new DDPMSampler(sch, { clipSample: false, numInferenceSteps: 10, varianceType: 'fixed_large' });
    expect(s.timesteps).toEqual([45, 40, 35, 30, 25, 20, 15, 10, 5, 0]);
    expect(s.previousTimestep(40)).toBe(35);
    expectClose(run(s, 40, EPS).prev, ddpmStepRef(40, 35, X, EPS, Z, true).prev);
    expect(s.variance(40)).toBeCloseTo(1 - ac[40] / ac[35], 12);
  });

  it('adds no noise at t = 0 and clamps the variance to >= 1e-20', () => {
    const s = new DDPMSampler(sch, { clipSample: false });
    const a = run(s, 0, EPS, X, Z);
    const b = run(s, 0, EPS, X, [5, 5, 5, 5]);
    expect(a.prev).toEqual(b.prev);
    expectClose(a.prev, ddpmStepRef(0, -1, X, EPS, Z).prev);
    expect(s.variance(0)).toBe(1e-20);
  });

  it('previous timestep follows the timestep list (linspace T = 1000, n = 3 -> 999, 500, 0)', () => {
    const s = new DDPMSampler(linearSchedule(1000), { numInferenceSteps: 3, timestepSpacing: 'linspace' });
    expect(s.timesteps).toEqual([999, 500, 0]);
    expect([999, 500, 0].map((t) => s.previousTimestep(t))).toEqual([500, 0, -1]);
    const lead = new DDPMSampler(linearSchedule(1000), { numInferenceSteps: 10, stepsOffset: 1 });
    expect(lead.timesteps[0]).toBe(901);
    expect(lead.previousTimestep(901)).toBe(801);
    expect(lead.previousTimestep(1)).toBe(-1);
  });

  it('clip_sample clamps predOriginalSample to the range', () => {
    const big = [3, -4, 0.5, 1.5];
    expect(run(new DDPMSampler(sch, { predictionType: 'sample' }), 10, big).x0).toEqual([1, -1, 0.5, 1]);
    expect(run(new DDPMSampler(sch, { predictionType: 'sample', clipSampleRange: 2 }), 10, big).x0).toEqual([2, -2, 0.5, 1.5]);
    expect(run(new DDPMSampler(sch, { predictionType: 'sample', clipSample: false }), 10, big).x0).toEqual(big);
  });

  it('converts v_prediction and sample outputs to the same x_0', () => {
    const t = 25;
    const a = ac[t];
    const x0 = [0.3, -0.7, 0.9, 0.05];
    const xt = x0.map((v, i) => Math.sqrt(a) * v + Math.sqrt(1 - a) * EPS[i]);
    const v = x0.map((v0, i) => Math.sqrt(a) * EPS[i] - Math.sqrt(1 - a) * v0);
    const fromEps = run(new DDPMSampler(sch, { clipSample: false }), t, EPS, xt);
    const fromV = run(new DDPMSampler(sch, { clipSample: false, predictionType: 'v_prediction' }), t, v, xt);
    const fromX0 = run(new DDPMSampler(sch, { clipSample: false, predictionType: 'sample' }), t, x0, xt);
    for (const r of [fromEps, fromV, fromX0]) expectClose(r.x0, x0);
    expectClose(fromV.prev, fromEps.prev);
    expectClose(fromX0.prev, fromEps.prev);
  });

  it('draws noise from opts.rng or its own seeded rng (same seed -> same sample)', () => {
    const x = tf.tensor2d(X, [2, 2]);
    const e = tf.tensor2d(EPS, [2, 2]);
    const draw = (s: DDPMSampler, rng?: Rng) => {
      const r = s.step(e, 30, x, rng ? { rng } : undefined);
      const d = Array.from(r.prevSample.dataSync());
      tf.dispose([r.prevSample, r.predOriginalSample]);
      return d;
    };
    expect(draw(new DDPMSampler(sch, { seed: 7 }))).toEqual(draw(new DDPMSampler(sch, { seed: 7 })));
    expect(draw(new DDPMSampler(sch, { seed: 7 }))).not.toEqual(draw(new DDPMSampler(sch, { seed: 8 })));
    expect(draw(new DDPMSampler(sch, { seed: 1 }), new Rng(3))).toEqual(draw(new DDPMSampler(sch, { seed: 2 }), new Rng(3)));
    tf.dispose([x, e]);
  });

  it('rejects bad steps, shapes and options with one-line errors', () => {
    const s = new DDPMSampler(sch);
    const a = tf.zeros([2, 2]);
    const b = tf.zeros([2, 3]);
    expect(() => s.step(a, 50, a)).toThrow(/ddpm: timestep 50 must be an integer in \[0, 49\]/);
    expect(() => s.step(b, 5, a)).toThrow(/model output shape \[2,3\] differs from sample shape \[2,2\]/);
    expect(() => s.step(a, 5, a, { noise: b })).toThrow(/noise shape/);
    expect(() => s.setTimesteps(51)).toThrow(/^numInferenceSteps: must be an integer in \[1, 50\]/);
    expect(() => new DDPMSampler(sch, { varianceType: 'learned' as never })).toThrow(ConfigError);
    expect(() => new DDPMSampler(sch, { predictionType: 'score' as never })).toThrow(/predictionType: unknown prediction type 'score'; allowed: epsilon, v_prediction, sample/);
    tf.dispose([a, b]);
  });
});

describe('DDPM diffusers config', () => {
  it('writes DDPMScheduler keys and reads them back', () => {
    const s = new DDPMSampler(linearSchedule(50, 1e-4, 0.2, true), {
      varianceType: 'fixed_large',
      clipSampleRange: 2,
      predictionType: 'v_prediction',
      timestepSpacing: 'trailing',
      stepsOffset: 1,
    });
    const cfg = s.toDiffusersConfig();
    expect(cfg).toEqual({
      _class_name: 'DDPMScheduler',
      num_train_timesteps: 50,
      beta_start: 1e-4,
      beta_end: 0.2,
      beta_schedule: 'linear',
      trained_betas: null,
      rescale_betas_zero_snr: true,
      variance_type: 'fixed_large',
      clip_sample: true,
      prediction_type: 'v_prediction',
      thresholding: false,
      dynamic_thresholding_ratio: 0.995,
      clip_sample_range: 2,
      sample_max_value: 1,
      timestep_spacing: 'trailing',
      steps_offset: 1,
    });
    const back = DDPMSampler.fromDiffusersConfig(JSON.parse(JSON.stringify(cfg)), scheduleFromDiffusersConfig);
    expect(back.toDiffusersConfig()).toEqual(cfg);
    expect(Array.from(back.schedule.alphasCumprod)).toEqual(Array.from(s.schedule.alphasCumprod));
  });

  it("uses diffusers' defaults for missing keys and maps quadratic / explicit schedules", () => {
    const d = DDPMSampler.fromDiffusersConfig({ _class_name: 'DDPMScheduler' }, scheduleFromDiffusersConfig);
    expect(d.schedule.numTrainTimesteps).toBe(1000);
    expect([d.varianceType, d.clipSample, d.clipSampleRange, d.predictionType, d.timestepSpacing, d.stepsOffset]).toEqual(['fixed_small', true, 1, 'epsilon', 'leading', 0]);
    const q = new DDPMSampler(createSchedule({ beta_schedule: 'quadratic', num_train_timesteps: 10 })).toDiffusersConfig();
    expect(q.beta_schedule).toBe('scaled_linear');
    const e = new DDPMSampler(createSchedule({ trained_betas: [0.1, 0.2, 0.3] })).toDiffusersConfig();
    expect([e.beta_schedule, e.trained_betas, e.num_train_timesteps]).toEqual(['linear', [0.1, 0.2, 0.3], 3]);
  });

  it('names unsupported values', () => {
    expect(() => DDPMSampler.fromDiffusersConfig({ _class_name: 'DDPMScheduler', variance_type: 'learned_range' }, sch)).toThrow(
      /^scheduler_config\.variance_type: unsupported value "learned_range"; supported: fixed_small, fixed_large$/,
    );
    expect(() => DDPMSampler.fromDiffusersConfig({ _class_name: 'DDPMScheduler', thresholding: true, dynamic_thresholding_ratio: 1.5 }, sch)).toThrow(
      /dynamicThresholdingRatio: must be a number in \[0, 1\], got 1.5/,
    );
    expect(() => DDPMSampler.fromDiffusersConfig({ _class_name: 'DDIMScheduler' }, sch)).toThrow(/_class_name: expected 'DDPMScheduler', got "DDIMScheduler"/);
    expect(() => DDPMSampler.fromDiffusersConfig({ num_train_timesteps: 1000 }, sch)).toThrow(/num_train_timesteps: is 1000 but the given schedule has T = 50/);
    expect(() => DDPMSampler.fromDiffusersConfig({ steps_offset: 0.5 }, sch)).toThrow(/steps_offset: must be an integer >= 0/);
  });

  it('applies dynamic thresholding (diffusers `thresholding`) to x_0 instead of clipping, per sample', () => {
    // x_0 estimates of two samples: one inside [-1, 1], one far outside; the threshold of each is
    // s = clamp(quantile(|x_0|, ratio), 1, sample_max_value) and x_0 <- clamp(x_0, -s, s) / s
    const s = DDPMSampler.fromDiffusersConfig({ _class_name: 'DDPMScheduler', prediction_type: 'sample', thresholding: true, dynamic_thresholding_ratio: 1, sample_max_value: 4 }, sch, { numInferenceSteps: 10 });
    expect(s.toDiffusersConfig()).toMatchObject({ thresholding: true, dynamic_thresholding_ratio: 1, sample_max_value: 4 });
    tf.tidy(() => {
      const x = tf.zeros([2, 3]);
      const x0 = tf.tensor2d([
        [0.5, -0.25, 0.1],
        [3, -6, 1.5],
      ]);
      const r = s.step(x0, s.timesteps[0], x, { noise: tf.zeros([2, 3]) });
      // sample 0: s = max(0.5, 1) = 1 (unchanged); sample 1: s = min(6, 4) = 4 -> [3, -4, 1.5] / 4
      expect(Array.from(r.predOriginalSample.dataSync())).toEqual([0.5, -0.25, 0.10000000149011612, 0.75, -1, 0.375]);
    });
    // with sample_max_value 1 it is clipping to [-1, 1]
    const a = DDPMSampler.fromDiffusersConfig({ _class_name: 'DDPMScheduler', prediction_type: 'sample', thresholding: true }, sch, { numInferenceSteps: 10 });
    const b = DDPMSampler.fromDiffusersConfig({ _class_name: 'DDPMScheduler', prediction_type: 'sample', clip_sample: true }, sch, { numInferenceSteps: 10 });
    tf.tidy(() => {
      const x0 = tf.randomNormal([4, 2], 0, 3, 'float32', 9);
      const t = a.timesteps[3];
      const ra = a.step(x0, t, tf.zeros([4, 2]), { noise: tf.zeros([4, 2]) });
      const rb = b.step(x0, t, tf.zeros([4, 2]), { noise: tf.zeros([4, 2]) });
      expect(Array.from(ra.prevSample.dataSync())).toEqual(Array.from(rb.prevSample.dataSync()));
    });
  });
});
