import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, createRootContainer, provide, Rng, registryOf, TOKENS } from '@difflab/core';
import { linearSchedule, scaledLinearSchedule, scheduleFromDiffusersConfig, sigmoidSchedule } from '@difflab/schedulers';
import { describe, expect, it } from 'vitest';
import { denoise } from './denoise.js';
import { EULER_DIFFUSERS_KEYS, EulerSampler, eulerPlugin } from './euler.js';

const f = Math.fround;
const lin = linearSchedule(1000, 1e-4, 0.02);
const sd = scaledLinearSchedule(1000, 0.00085, 0.012);
const X = [0.5, -1, 1.2, 0.3];
const OUT = [0.1, 0.2, -0.3, 0.4];

function close(a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-6): void {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < b.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(b[i])));
}

/** One step at the sampler's first timestep, returning plain arrays; checks that step allocates exactly its two outputs. */
function firstStep(s: EulerSampler, out = OUT, x = X, noise?: number[]) {
  const t = s.timesteps[0];
  const mo = tf.tensor2d(out, [2, 2]);
  const xt = tf.tensor2d(x, [2, 2]);
  const z = noise ? tf.tensor2d(noise, [2, 2]) : undefined;
  const before = tf.memory().numTensors;
  const r = s.step(mo, t, xt, z ? { noise: z } : undefined);
  expect(tf.memory().numTensors).toBe(before + 2);
  expect(mo.isDisposed || xt.isDisposed).toBe(false);
  const res = { prev: Array.from(r.prevSample.dataSync()), x0: Array.from(r.predOriginalSample.dataSync()) };
  tf.dispose([mo, xt, r.prevSample, r.predOriginalSample, ...(z ? [z] : [])]);
  return res;
}

describe('EulerSampler tables (diffusers EulerDiscreteScheduler.set_timesteps)', () => {
  it('linspace, 10 steps of T = 1000: integer timesteps 999, 888, ..., 0 and the sigma table at them, then 0', () => {
    const s = new EulerSampler(lin, { numInferenceSteps: 10 });
    expect([...s.timesteps]).toEqual([999, 888, 777, 666, 555, 444, 333, 222, 111, 0]);
    expect(s.sigmas).toHaveLength(11);
    s.timesteps.forEach((t, i) => {
      expect(s.sigmas[i]).toBe(lin.sigmas[t]);
    });
    expect(s.sigmas[10]).toBe(0);
    // sigma_t = sqrt((1 - abar_t) / abar_t)
    expect(s.sigmas[0]).toBeCloseTo(Math.sqrt((1 - lin.alphasCumprod[999]) / lin.alphasCumprod[999]), 4);
  });

  it('linspace, 25 steps: fractional float32 timesteps (999 - k * 41.625) with linearly interpolated sigmas', () => {
    const s = new EulerSampler(lin, { numInferenceSteps: 25 });
    expect(s.timesteps.slice(0, 3)).toEqual([999, 957.375, 915.75]);
    const t = s.timesteps[1];
    const j = Math.floor(t);
    expect(s.sigmas[1]).toBe(f(lin.sigmas[j] + (lin.sigmas[j + 1] - lin.sigmas[j]) * (t - j)));
  });

  it("initNoiseSigma: sigma_max for 'linspace' / 'trailing', sqrt(sigma_max^2 + 1) for 'leading' (SD's 14.6146)", () => {
    const a = new EulerSampler(sd, { numInferenceSteps: 50 });
    expect(a.initNoiseSigma).toBeCloseTo(14.6146, 4);
    expect(new EulerSampler(sd, { numInferenceSteps: 50, timestepSpacing: 'trailing' }).initNoiseSigma).toBe(a.initNoiseSigma);
    const lead = new EulerSampler(sd, { numInferenceSteps: 50, timestepSpacing: 'leading', stepsOffset: 1 });
    expect(lead.timesteps[0]).toBe(981);
    expect(lead.initNoiseSigma).toBe(f(Math.sqrt(f(f(sd.sigmas[981] ** 2) + 1))));
    // before setTimesteps: every training step, as diffusers after __init__
    const init = new EulerSampler(sd);
    expect([init.numInferenceSteps, init.timesteps.length, init.timesteps[0], init.sigmas[0]]).toEqual([null, 1000, 999, sd.sigmas[999]]);
  });

  it('Karras sigmas: fractional descending timesteps, sigma_max .. sigma_min of the inference sigmas (or sigmaMin / sigmaMax)', () => {
    const s = new EulerSampler(sd, { numInferenceSteps: 10, useKarrasSigmas: true });
    const ts = s.timesteps;
    expect(ts[0]).toBe(999);
    for (let i = 1; i < ts.length; i++) expect(ts[i]).toBeLessThan(ts[i - 1]);
    expect(ts.some((t) => !Number.isInteger(t))).toBe(true);
    expect(s.sigmas[0]).toBe(sd.sigmas[999]);
    expect(s.sigmas[9]).toBe(sd.sigmas[0]);
    expect(s.sigmas[10]).toBe(0);
    // rho = 7 spacing: sigma_i^(1/7) is linear in i
    const r = s.sigmas.slice(0, 10).map((v) => v ** (1 / 7));
    for (let i = 1; i < 9; i++) expect(r[i + 1] - r[i]).toBeCloseTo(r[1] - r[0], 5);
    const b = new EulerSampler(sd, { numInferenceSteps: 10, useKarrasSigmas: true, sigmaMin: 0.1, sigmaMax: 10 });
    expect([b.sigmas[0], b.sigmas[9]]).toEqual([10, f(0.1)]);
  });

  it("log_linear: n + 1 log-spaced sigmas from sigma_max to sigma_min, then the final one (diffusers' table)", () => {
    const s = new EulerSampler(sd, { numInferenceSteps: 10, interpolationType: 'log_linear' });
    expect(s.timesteps).toHaveLength(10);
    expect(s.sigmas).toHaveLength(12);
    const l = s.sigmas.slice(0, 11).map(Math.log);
    for (let i = 1; i < 10; i++) expect(l[i + 1] - l[i]).toBeCloseTo(l[1] - l[0], 5);
    expect(s.sigmas[0]).toBeCloseTo(sd.sigmas[999], 5);
    expect(s.sigmas[10]).toBeCloseTo(sd.sigmas[0], 7);
  });

  it("final_sigmas_type 'sigma_min' ends at sigma_0; 'continuous' v-prediction timesteps are 0.25 log(sigma)", () => {
    expect(new EulerSampler(lin, { numInferenceSteps: 10, finalSigmasType: 'sigma_min' }).sigmas[10]).toBe(lin.sigmas[0]);
    const c = new EulerSampler(sd, { numInferenceSteps: 10, timestepType: 'continuous', predictionType: 'v_prediction' });
    c.timesteps.forEach((t, i) => {
      expect(t).toBe(f(0.25 * f(Math.log(c.sigmas[i]))));
    });
    // continuous timesteps only with v_prediction (as diffusers)
    expect(new EulerSampler(sd, { numInferenceSteps: 10, timestepType: 'continuous' }).timesteps[0]).toBe(999);
  });

  it('zero terminal SNR: alpha-bar_{T-1} is 2^-24 (diffusers), so sigma_max = sqrt(2^24 - 1) instead of infinity', () => {
    const z = scheduleFromDiffusersConfig({ beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012, rescale_betas_zero_snr: true });
    expect(z.alphasCumprod[999]).toBe(0);
    const s = new EulerSampler(z, { numInferenceSteps: 10, timestepSpacing: 'trailing' });
    expect(s.alphasCumprod[999]).toBe(2 ** -24);
    expect(s.initNoiseSigma).toBe(f(Math.sqrt(2 ** 24 - 1)));
  });
});

describe('EulerSampler step (Karras et al. 2022 Algorithm 2, diffusers EulerDiscreteScheduler.step)', () => {
  it('scaleModelInput divides by sqrt(sigma^2 + 1) and returns a new tensor (the input stays alive)', () => {
    const s = new EulerSampler(lin, { numInferenceSteps: 10 });
    const x = tf.tensor1d(X);
    const y = s.scaleModelInput(x, 999);
    expect(y).not.toBe(x);
    close(y.dataSync(), X.map((v) => v / Math.sqrt(lin.sigmas[999] ** 2 + 1)));
    expect(x.isDisposed).toBe(false);
    tf.dispose([x, y]);
  });

  it('epsilon: x0 = x - sigma eps, x_next = x + (sigma_next - sigma) eps', () => {
    const s = new EulerSampler(lin, { numInferenceSteps: 10 });
    const [s0, s1] = s.sigmas;
    const r = firstStep(s);
    close(r.x0, X.map((x, i) => x - s0 * OUT[i]));
    close(r.prev, X.map((x, i) => x + (s1 - s0) * OUT[i]));
  });

  it('v_prediction: x0 = -sigma / sqrt(sigma^2 + 1) v + x / (sigma^2 + 1); sample: x0 = the output', () => {
    const v = new EulerSampler(lin, { numInferenceSteps: 10, predictionType: 'v_prediction' });
    const [s0, s1] = v.sigmas;
    const x0 = X.map((x, i) => (-s0 / Math.sqrt(s0 * s0 + 1)) * OUT[i] + x / (s0 * s0 + 1));
    const r = firstStep(v);
    close(r.x0, x0);
    close(r.prev, X.map((x, i) => x + ((s1 - s0) * (x - x0[i])) / s0));
    const smp = firstStep(new EulerSampler(lin, { numInferenceSteps: 10, predictionType: 'sample' }));
    close(smp.x0, OUT);
  });

  it('churn: where sTmin <= sigma <= sTmax, x_hat = x + sqrt(sigma_hat^2 - sigma^2) sNoise z with sigma_hat = sigma (1 + gamma)', () => {
    const Z = [1, -0.5, 0.25, 2];
    const s = new EulerSampler(lin, { numInferenceSteps: 10, sChurn: 2, sNoise: 1.1 });
    const [s0, s1] = s.sigmas;
    const gamma = Math.min(2 / 10, Math.SQRT2 - 1);
    const sh = s0 * (1 + gamma);
    const xh = X.map((x, i) => x + Math.sqrt(sh * sh - s0 * s0) * 1.1 * Z[i]);
    const r = firstStep(s, OUT, X, Z);
    close(r.x0, xh.map((x, i) => x - sh * OUT[i]), 1e-5);
    close(r.prev, xh.map((x, i) => x + (s1 - sh) * OUT[i]), 1e-5);
    // outside [sTmin, sTmax] no churn: the plain Euler step, and no noise drawn from the sampler's rng
    const off = new EulerSampler(lin, { numInferenceSteps: 10, sChurn: 2, sTmax: 1 });
    const state = off.rng.getState();
    close(firstStep(off).prev, firstStep(new EulerSampler(lin, { numInferenceSteps: 10 })).prev, 0);
    expect(off.rng.getState()).toEqual(state);
    // per-step override (diffusers passes these to step)
    const o = new EulerSampler(lin, { numInferenceSteps: 10 });
    const mo = tf.tensor2d(OUT, [2, 2]);
    const xt = tf.tensor2d(X, [2, 2]);
    const z = tf.tensor2d(Z, [2, 2]);
    const rr = o.step(mo, o.timesteps[0], xt, { noise: z, sChurn: 2, sNoise: 1.1 });
    close(rr.prevSample.dataSync(), r.prev, 0);
    tf.dispose([mo, xt, z, rr.prevSample, rr.predOriginalSample]);
  });

  it('addNoise: x0 + sigma(t) noise at a timestep of the loop (diffusers add_noise), or at the begin index', () => {
    const s = new EulerSampler(lin, { numInferenceSteps: 10 });
    const x0 = tf.tensor1d(X);
    const n = tf.tensor1d(OUT);
    const y = s.addNoise(x0, n, 444);
    close(y.dataSync(), X.map((x, i) => x + lin.sigmas[444] * OUT[i]));
    s.setBeginIndex(8);
    const yb = s.addNoise(x0, n, 444);
    close(yb.dataSync(), X.map((x, i) => x + s.sigmas[8] * OUT[i]));
    expect(() => s.addNoise(x0, n, 500)).not.toThrow();
    const s2 = new EulerSampler(lin, { numInferenceSteps: 10 });
    expect(() => s2.addNoise(x0, n, 500)).toThrow("euler: timestep 500 is not one of this sampler's timesteps (set with setTimesteps)");
    expect(() => s2.addNoise(x0, tf.tensor1d([1]), 444)).toThrow('euler.addNoise: noise shape [1] differs from sample shape [4]');
    tf.dispose([x0, n, y, yb]);
  });

  it('step index: set from t on the first call, advanced per step; a wrong t, a finished loop and reset()', () => {
    const s = new EulerSampler(lin, { numInferenceSteps: 2 });
    const x = tf.zeros([2]);
    expect(s.stepIndex).toBeNull();
    expect(() => s.step(x, 500, x)).toThrow("euler: timestep 500 is not one of this sampler's timesteps");
    tf.dispose(s.scaleModelInput(x, 999));
    expect(s.stepIndex).toBe(0);
    expect(() => s.step(x, 0, x)).toThrow('euler.step: timestep 0 is not the next one (999 at step 0 of 2); call reset() to start a new loop');
    tf.dispose(Object.values(s.step(x, 999, x)));
    tf.dispose(Object.values(s.step(x, 0, x)));
    expect(() => s.step(x, 0, x)).toThrow('euler.step: the loop of 2 steps is finished; call reset() (or setTimesteps) to start a new one');
    s.reset();
    tf.dispose(Object.values(s.step(x, 999, x)));
    // a begin index starts the loop there (img2img)
    s.setTimesteps(10);
    s.setBeginIndex(3);
    expect(() => s.step(x, 999, x)).toThrow(/timestep 999 is not the next one \(666 at step 3 of 10\)/);
    tf.dispose(Object.values(s.step(x, 666, x)));
    expect(s.stepIndex).toBe(4);
    x.dispose();
  });

  it('no tensor leaks in a denoise loop; deterministic under a seed (churn noise from the loop rng)', () => {
    const model = { predict: (x: tf.Tensor, t: tf.Tensor) => tf.tidy(() => tf.mul(x, tf.reshape(tf.div(t, 2000), [-1, 1]))) };
    const run = (seed: number) => {
      const s = new EulerSampler(lin, { numInferenceSteps: 12, sChurn: 3, sTmin: 0.5, sTmax: 50 });
      const before = tf.memory().numTensors;
      let out: number[] = [];
      for (const st of denoise({ sampler: s, model, shape: [8, 2], rng: new Rng(seed) })) if (st.index === 11) out = Array.from(st.prevSample.dataSync());
      expect(tf.memory().numTensors).toBe(before);
      return out;
    };
    const a = run(7);
    expect(run(7)).toEqual(a);
    expect(run(8)).not.toEqual(a);
  });
});

describe('EulerSampler diffusers config', () => {
  it('writes every EulerDiscreteScheduler key and reads it back (round trip)', () => {
    const s = new EulerSampler(sd, {
      numInferenceSteps: 10,
      predictionType: 'v_prediction',
      useKarrasSigmas: true,
      sigmaMin: 0.05,
      timestepSpacing: 'trailing',
      timestepType: 'continuous',
      finalSigmasType: 'sigma_min',
    });
    const cfg = s.toDiffusersConfig();
    expect(Object.keys(cfg).sort()).toEqual(['_class_name', ...EULER_DIFFUSERS_KEYS].sort());
    expect(cfg).toMatchObject({
      _class_name: 'EulerDiscreteScheduler',
      beta_schedule: 'scaled_linear',
      beta_start: 0.00085,
      prediction_type: 'v_prediction',
      use_karras_sigmas: true,
      sigma_min: 0.05,
      sigma_max: null,
      timestep_type: 'continuous',
      final_sigmas_type: 'sigma_min',
      rescale_betas_zero_snr: false,
      use_exponential_sigmas: false,
    });
    const back = EulerSampler.fromDiffusersConfig(cfg, scheduleFromDiffusersConfig, { numInferenceSteps: 10 });
    expect(back.toDiffusersConfig()).toEqual(cfg);
    expect(back.timesteps).toEqual(s.timesteps);
    expect(back.sigmas).toEqual(s.sigmas);
  });

  it("keeps keys it does not know (a PNDM config switched to Euler, _diffusers_version) and writes them back unchanged", () => {
    const json = {
      _class_name: 'EulerDiscreteScheduler',
      _diffusers_version: '0.6.0',
      beta_schedule: 'scaled_linear',
      beta_start: 0.00085,
      beta_end: 0.012,
      clip_sample: false,
      set_alpha_to_one: false,
      skip_prk_steps: true,
      steps_offset: 1,
      timestep_spacing: 'leading',
    };
    const s = EulerSampler.fromDiffusersConfig(json, scheduleFromDiffusersConfig);
    expect(s.unknownDiffusersKeys).toEqual(['_diffusers_version', 'clip_sample', 'set_alpha_to_one', 'skip_prk_steps']);
    const out = s.toDiffusersConfig();
    expect(out).toMatchObject({ _diffusers_version: '0.6.0', clip_sample: false, set_alpha_to_one: false, skip_prk_steps: true, steps_offset: 1 });
    expect(EulerSampler.fromDiffusersConfig(out, scheduleFromDiffusersConfig).toDiffusersConfig()).toEqual(out);
  });

  it('writes a sigmoid schedule (not an Euler beta_schedule) as trained_betas', () => {
    const s = new EulerSampler(sigmoidSchedule(50, 1e-4, 0.02), { numInferenceSteps: 5 });
    const cfg = s.toDiffusersConfig();
    expect(cfg.beta_schedule).toBe('linear');
    expect(cfg.trained_betas).toHaveLength(50);
    expect(EulerSampler.fromDiffusersConfig(cfg, scheduleFromDiffusersConfig, { numInferenceSteps: 5 }).sigmas).toEqual(s.sigmas);
  });

  it('rejects bad options and unsupported diffusers values with one-line errors naming the key', () => {
    const bad = (json: Record<string, unknown>) => () => EulerSampler.fromDiffusersConfig({ _class_name: 'EulerDiscreteScheduler', ...json }, scheduleFromDiffusersConfig);
    expect(bad({ use_beta_sigmas: true })).toThrow('scheduler_config.use_beta_sigmas: is not supported; set it to false (use_karras_sigmas is)');
    expect(bad({ use_exponential_sigmas: true })).toThrow(/^scheduler_config\.use_exponential_sigmas: /);
    expect(bad({ interpolation_type: 'cubic' })).toThrow('scheduler_config.interpolation_type: unsupported value "cubic"; supported: linear, log_linear');
    expect(bad({ beta_schedule: 'sigmoid' })).toThrow('scheduler_config.beta_schedule: unsupported value "sigmoid"; supported: linear, scaled_linear, squaredcos_cap_v2');
    expect(bad({ final_sigmas_type: 'one' })).toThrow(/^scheduler_config\.final_sigmas_type: unsupported value "one"/);
    expect(bad({ sigma_min: -1 })).toThrow(/^scheduler_config\.sigma_min: must be null or a number >= /);
    expect(bad({ rescale_betas_zero_snr: 'yes' })).toThrow('scheduler_config.rescale_betas_zero_snr: must be true or false, got "yes"');
    expect(() => EulerSampler.fromDiffusersConfig({ _class_name: 'DDIMScheduler' }, lin)).toThrow("scheduler_config._class_name: expected 'EulerDiscreteScheduler', got \"DDIMScheduler\"");
    expect(() => EulerSampler.fromDiffusersConfig({ rescale_betas_zero_snr: true }, lin)).toThrow(
      'scheduler_config.rescale_betas_zero_snr: is true but the given schedule has rescale_betas_zero_snr = false',
    );
    expect(() => new EulerSampler(lin, { predictionType: 'x0' as never })).toThrow("predictionType: 'x0' is not supported by EulerDiscreteScheduler; supported: epsilon, v_prediction, sample");
    expect(() => new EulerSampler(lin, { sChurn: -1 })).toThrow('sChurn: must be a finite number >= 0, got -1');
    expect(() => new EulerSampler(lin, { sTmin: 2, sTmax: 1 })).toThrow('sTmax: must be >= sTmin (2), got 1');
    expect(() => new EulerSampler(lin, { timestepSpacing: 'uniform' as never })).toThrow("timestepSpacing: unknown spacing 'uniform'; allowed: linspace, leading, trailing");
    expect(() => new EulerSampler(lin, { numInferenceSteps: 0 })).toThrow('numInferenceSteps: must be an integer >= 1, got 0');
    expect(() => new EulerSampler(lin, { numInferenceSteps: 2000, timestepSpacing: 'leading' })).toThrow(
      "numInferenceSteps: must be an integer in [1, 1000] (the number of training timesteps) with 'leading' spacing, got 2000",
    );
    for (const f of [bad({ use_beta_sigmas: true }), () => new EulerSampler(lin, { sChurn: -1 })]) {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        expect(String((e as Error).message)).not.toContain('\n');
      }
    }
  });
});

describe("plugin 'euler'", () => {
  function job(T = 50) {
    const root = createRootContainer();
    registryOf(root).add(eulerPlugin);
    const c = root.createChildContainer();
    provide(c, TOKENS.Schedule, linearSchedule(T, 1e-4, 0.2));
    return { c, reg: registryOf(c) };
  }

  it('fills defaults (min(50, T) steps, linspace, epsilon) and passes options through', () => {
    const { c, reg } = job(40);
    const s = reg.create<EulerSampler>('sampler', 'euler', c);
    expect([s.numInferenceSteps, s.timestepSpacing, s.predictionType, s.useKarrasSigmas, s.sChurn, s.sTmax]).toEqual([40, 'linspace', 'epsilon', false, 0, Number.POSITIVE_INFINITY]);
    const k = reg.create<EulerSampler>('sampler', { id: 'euler', options: { numInferenceSteps: 8, useKarrasSigmas: true, sChurn: 1, sTmax: 5, seed: 3 } }, c);
    expect([k.numInferenceSteps, k.useKarrasSigmas, k.sChurn, k.sTmax]).toEqual([8, true, 1, 5]);
    expect(k.rng.getState()).toEqual(new Rng(3).getState());
    expect(() => reg.create('sampler', { id: 'euler', options: { interpolationType: 'cubic' } }, c)).toThrow(/^sampler\.options\.interpolationType: /);
    expect(() => reg.create('sampler', { id: 'euler', options: { numInferenceSteps: 41 } }, c)).toThrow(/must be <= T = 40/);
  });
});

describe('Euler clipSample (difflab option)', () => {
  it('clamps the x_0 estimate before the step, is off by default, and stays out of the diffusers config', () => {
    const sched = linearSchedule(50, 1e-4, 0.2);
    const plain = new EulerSampler(sched, { numInferenceSteps: 10 });
    const clipped = new EulerSampler(sched, { numInferenceSteps: 10, clipSample: true, clipSampleRange: 2 });
    expect(plain.clipSample).toBe(false);
    tf.tidy(() => {
      const x = tf.tensor2d([[30, -30]]);
      const t = clipped.timesteps[0];
      // eps = 0: x_0 = x = +-30
      const a = plain.step(tf.zerosLike(x), t, x).predOriginalSample.dataSync();
      clipped.reset();
      const b = clipped.step(tf.zerosLike(x), t, x).predOriginalSample.dataSync();
      expect(Array.from(a)).toEqual([30, -30]);
      expect(Array.from(b)).toEqual([2, -2]);
    });
    expect(clipped.toDiffusersConfig()).not.toHaveProperty('clip_sample');
    expect(() => new EulerSampler(sched, { clipSample: true, clipSampleRange: -1 })).toThrow('clipSampleRange: must be > 0, got -1');
  });
});
