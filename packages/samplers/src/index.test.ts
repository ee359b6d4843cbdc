import { ConfigError, createRootContainer, type Denoiser, provide, Rng, registryOf, type Sampler, TOKENS, WiringError } from '@difflab/core';
import { cosineSchedule, linearSchedule, scheduleFromDiffusersConfig } from '@difflab/schedulers';
import { describe, expect, it } from 'vitest';
import { DDIMSampler, DDPMSampler, fromDiffusersConfig, plugins, register } from './index.js';

function job(T = 50, denoiser?: Partial<Denoiser>) {
  const root = createRootContainer();
  register(root);
  const c = root.createChildContainer();
  provide(c, TOKENS.Schedule, linearSchedule(T, 1e-4, 0.2));
  if (denoiser) provide(c, TOKENS.Denoiser, denoiser as Denoiser);
  return { c, reg: registryOf(c) };
}

describe('sampler plugins', () => {
  it("registers 'ddim' and 'ddpm'", () => {
    expect(job().reg.ids('sampler')).toEqual(['ddim', 'ddpm']);
    expect(plugins.map((p) => p.kind)).toEqual(['sampler', 'sampler']);
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
        fromDiffusersConfig({ _class_name: 'EulerDiscreteScheduler' }, scheduleFromDiffusersConfig);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toBe('scheduler_config._class_name: unsupported scheduler "EulerDiscreteScheduler"; supported: DDIMScheduler, DDPMScheduler');
    expect(() => fromDiffusersConfig([], scheduleFromDiffusersConfig)).toThrow('scheduler_config: must be a JSON object');
  });
});
