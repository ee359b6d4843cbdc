import { ConfigError, createRootContainer, type Denoiser, provide, Rng, registryOf, type Sampler, TOKENS, WiringError } from '@difflab/core';
import { cosineSchedule, linearSchedule, scheduleFromDiffusersConfig } from '@difflab/schedulers';
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { DDIMSampler, DDPMSampler, EulerSampler, fromDiffusersConfig, plugins, register, SUPPORTED_DIFFUSERS_SCHEDULERS } from './index.js';

function job(T = 50, denoiser?: Partial<Denoiser>) {
  const root = createRootContainer();
  register(root);
  const c = root.createChildContainer();
  provide(c, TOKENS.Schedule, linearSchedule(T, 1e-4, 0.2));
  if (denoiser) provide(c, TOKENS.Denoiser, denoiser as Denoiser);
  return { c, reg: registryOf(c) };
}

describe('sampler plugins', () => {
  it('registers every sampler of the package', () => {
    expect(job().reg.ids('sampler')).toEqual(['ddim', 'ddpm', 'dpm-solver-multistep', 'dpmpp-2m', 'euler', 'euler-ancestral', 'heun', 'lms', 'pndm', 'unipc']);
    expect(new Set(plugins.map((p) => p.kind))).toEqual(new Set(['sampler']));
  });

  it('fills defaults: all T steps for ddpm, min(50, T) for ddim, clip to 1, leading spacing', () => {
    const { c, reg } = job(40);
    const ddpm = reg.create<DDPMSampler>('sampler', 'ddpm', c);
    expect(ddpm).toBeInstanceOf(DDPMSampler);
    expect([ddpm.numInferenceSteps, ddpm.varianceType, ddpm.clipSample, ddpm.clipSampleRange, ddpm.predictionType, ddpm.timestepSpacing]).toEqual([
      40,
      'fixed_small',
      true,
      1,
      'epsilon',
      'leading',
    ]);
    const ddim = reg.create<DDIMSampler>('sampler', 'ddim', c);
    expect([ddim.numInferenceSteps, ddim.eta, ddim.setAlphaToOne]).toEqual([40, 0, true]);
    const { c: c2, reg: reg2 } = job(1000);
    expect(reg2.create<Sampler>('sampler', 'ddim', c2).numInferenceSteps).toBe(50);
  });

  it('passes options through (spiral config: clipSampleRange 2)', () => {
    const { c, reg } = job();
    const s = reg.create<DDIMSampler>(
      'sampler',
      { id: 'ddim', options: { numInferenceSteps: 10, clipSampleRange: 2, eta: 0.5, setAlphaToOne: false, timestepSpacing: 'trailing', stepsOffset: 0, seed: 4 } },
      c,
    );
    expect([s.clipSampleRange, s.eta, s.setAlphaToOne, s.timesteps[0]]).toEqual([2, 0.5, false, 49]);
    expect(s.rng.getState()).toEqual(new Rng(4).getState());
  });

  it('takes the prediction type from a registered Denoiser and rejects a conflicting option', () => {
    const { c, reg } = job(50, { predictionType: 'v_prediction' });
    expect(reg.create<DDPMSampler>('sampler', 'ddpm', c).predictionType).toBe('v_prediction');
    expect(() => reg.create('sampler', { id: 'ddpm', options: { predictionType: 'epsilon' } }, c)).toThrow(
      "sampler.options.predictionType: 'epsilon' conflicts with the model, which predicts 'v_prediction'",
    );
    const { c: c2, reg: reg2 } = job();
    expect(reg2.create<DDPMSampler>('sampler', { id: 'ddpm', options: { predictionType: 'sample' } }, c2).predictionType).toBe('sample');
  });

  it("forks the job's Rng when no seed is given", () => {
    const { c, reg } = job();
    provide(c, TOKENS.Rng, new Rng(99));
    const a = reg.create<DDPMSampler>('sampler', 'ddpm', c);
    expect(a.rng.getState()).toEqual(new Rng(99).fork().getState());
  });

  it('reports wiring and option errors', () => {
    const root = createRootContainer();
    register(root);
    expect(() => registryOf(root).create('sampler', 'ddpm', root)).toThrow(WiringError);
    const { c, reg } = job();
    expect(() => reg.create('sampler', { id: 'ddpm', options: { numInferenceSteps: 60 } }, c)).toThrow(
      'sampler.options.numInferenceSteps: must be <= T = 50 (the schedule\'s training timesteps), got 60',
    );
    expect(() => reg.create('sampler', { id: 'ddim', options: { eta: -1 } }, c)).toThrow(/^sampler\.options\.eta: /);
    expect(() => reg.create('sampler', { id: 'ddpm', options: { varianceType: 'learned' } }, c)).toThrow(/^sampler\.options\.varianceType: /);
    expect(() => reg.create('sampler', { id: 'ddpm', options: { eta: 0 } }, c)).toThrow("sampler.options: unknown option(s) 'eta'");
  });
});

describe('fromDiffusersConfig', () => {
  it('dispatches on _class_name', () => {
    const ddim = fromDiffusersConfig({ _class_name: 'DDIMScheduler', num_train_timesteps: 40, beta_schedule: 'squaredcos_cap_v2' }, scheduleFromDiffusersConfig, {
      eta: 1,
      numInferenceSteps: 8,
    });
    expect(ddim).toBeInstanceOf(DDIMSampler);
    expect((ddim as DDIMSampler).eta).toBe(1);
    expect(ddim.timesteps).toEqual([35, 30, 25, 20, 15, 10, 5, 0]);
    expect(Array.from(ddim.schedule.alphasCumprod)).toEqual(Array.from(cosineSchedule(40).alphasCumprod));
    const ddpm = fromDiffusersConfig({ _class_name: 'DDPMScheduler' }, linearSchedule(1000));
    expect(ddpm).toBeInstanceOf(DDPMSampler);
  });

  it('names the supported classes for an unknown one', () => {
    const err = (() => {
      try {
        fromDiffusersConfig({ _class_name: 'KDPM2DiscreteScheduler' }, scheduleFromDiffusersConfig);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toBe(
      `scheduler_config._class_name: unsupported scheduler "KDPM2DiscreteScheduler"; supported: ${SUPPORTED_DIFFUSERS_SCHEDULERS.join(', ')}`,
    );
    expect(SUPPORTED_DIFFUSERS_SCHEDULERS).toContain('EulerDiscreteScheduler');
    expect(() => fromDiffusersConfig([], scheduleFromDiffusersConfig)).toThrow('scheduler_config: must be a JSON object');
  });

  it('reads a real scheduler_config.json with only the JSON (as a plain Node script would), keeps unknown keys and writes them back', () => {
    // Stable Diffusion 1.x's scheduler_config.json, with the class switched (what users do)
    const sd = {
      _class_name: 'EulerDiscreteScheduler',
      _diffusers_version: '0.8.0',
      beta_end: 0.012,
      beta_schedule: 'scaled_linear',
      beta_start: 0.00085,
      clip_sample: false,
      num_train_timesteps: 1000,
      prediction_type: 'epsilon',
      set_alpha_to_one: false,
      skip_prk_steps: true,
      steps_offset: 1,
      trained_betas: null,
    };
    const s = fromDiffusersConfig(sd);
    expect(s).toBeInstanceOf(EulerSampler);
    expect((s as EulerSampler).unknownDiffusersKeys).toEqual(expect.arrayContaining(['clip_sample', 'set_alpha_to_one', 'skip_prk_steps']));
    s.setTimesteps(10);
    expect(s.timesteps).toHaveLength(10);
    let x = tf.mul(tf.randomNormal([4, 2], 0, 1, 'float32', 1), s.initNoiseSigma);
    for (const t of s.timesteps) {
      const next = tf.tidy(() => s.step(tf.mul(s.scaleModelInput(x, t), 0.1), t, x).prevSample);
      x.dispose();
      x = next;
    }
    expect(x.shape).toEqual([4, 2]);
    expect(Array.from(x.dataSync()).every(Number.isFinite)).toBe(true);
    x.dispose();
    const back = s.toDiffusersConfig();
    expect(back).toMatchObject({ _class_name: 'EulerDiscreteScheduler', skip_prk_steps: true, set_alpha_to_one: false, steps_offset: 1, beta_schedule: 'scaled_linear' });
    // the same for the alpha-bar samplers
    const ddim = fromDiffusersConfig({ ...sd, _class_name: 'DDIMScheduler' }) as DDIMSampler;
    expect(ddim.unknownDiffusersKeys.sort()).toEqual(['_diffusers_version', 'skip_prk_steps']);
    expect(ddim.toDiffusersConfig()).toMatchObject({ _class_name: 'DDIMScheduler', _diffusers_version: '0.8.0', skip_prk_steps: true, set_alpha_to_one: false, steps_offset: 1 });
  });

  it('round-trips every supported class: fromDiffusersConfig(toDiffusersConfig()) gives the same timesteps and config', () => {
    const sched = linearSchedule(1000, 1e-4, 0.02);
    for (const cls of SUPPORTED_DIFFUSERS_SCHEDULERS) {
      const a = fromDiffusersConfig({ _class_name: cls, num_train_timesteps: 1000, beta_schedule: 'linear', beta_start: 1e-4, beta_end: 0.02 }, sched, { numInferenceSteps: 12 });
      const cfg = a.toDiffusersConfig();
      expect(cfg._class_name).toBe(cls);
      const b = fromDiffusersConfig(JSON.parse(JSON.stringify(cfg)), sched, { numInferenceSteps: 12 });
      expect(b.timesteps).toEqual(a.timesteps);
      expect(b.initNoiseSigma).toBe(a.initNoiseSigma);
      expect(b.toDiffusersConfig()).toEqual(cfg);
    }
  });
});
