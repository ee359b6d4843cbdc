import { ConfigError, createRootContainer, type NoiseSchedule, registryOf } from '@difflab/core';
import { describe, expect, it } from 'vitest';
import { createSchedule, plugins, register, scheduleFromDiffusersConfig } from './index.js';
import { linearSchedule } from './linear.js';

function setup() {
  const c = createRootContainer();
  register(c);
  return { c, reg: registryOf(c) };
}

describe('schedule plugins', () => {
  it('registers six schedule plugins', () => {
    const { reg } = setup();
    expect(reg.ids('schedule')).toEqual(['cosine', 'explicit', 'linear', 'quadratic', 'scaled-linear', 'sigmoid']);
    expect(plugins.every((p) => p.kind === 'schedule')).toBe(true);
  });

  it('fills diffusers defaults (T = 1000, 1e-4..0.02, no rescale)', () => {
    const { c, reg } = setup();
    expect(reg.parseOptions('schedule', 'linear', {})).toEqual({ T: 1000, betaStart: 1e-4, betaEnd: 0.02, rescaleZeroSnr: false });
    expect(reg.parseOptions('schedule', 'cosine', {})).toEqual({ T: 1000, rescaleZeroSnr: false });
    const s = reg.create<NoiseSchedule>('schedule', 'linear', c);
    expect(s.numTrainTimesteps).toBe(1000);
    expect(Array.from(s.alphasCumprod)).toEqual(Array.from(linearSchedule().alphasCumprod));
  });

  it('creates every kind from options', () => {
    const { c, reg } = setup();
    for (const id of ['linear', 'scaled-linear', 'quadratic', 'sigmoid']) {
      const s = reg.create<NoiseSchedule>('schedule', { id, options: { T: 50, betaStart: 1e-4, betaEnd: 0.2, rescaleZeroSnr: true } }, c);
      expect(s.id).toBe(id);
      expect(s.numTrainTimesteps).toBe(50);
      expect(s.alphasCumprod[49]).toBe(0);
    }
    const cos = reg.create<NoiseSchedule>('schedule', { id: 'cosine', options: { T: 40 } }, c);
    expect(cos.alphasCumprod[37]).toBeCloseTo(0.00606, 4);
    const ex = reg.create<NoiseSchedule>('schedule', { id: 'explicit', options: { betas: [0.1, 0.2, 0.5] } }, c);
    expect(ex.numTrainTimesteps).toBe(3);
    expect(ex.alphasCumprod[2]).toBeCloseTo(0.9 * 0.8 * 0.5, 6);
    expect(ex.config.trained_betas).toEqual([0.1, 0.2, 0.5]);
  });

  it('reports bad options with one-line messages naming the field', () => {
    const { c, reg } = setup();
    const msg = (ref: unknown) => {
      try {
        reg.create('schedule', ref as never, c);
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        return (e as Error).message;
      }
      return 'no error';
    };
    expect(msg({ id: 'linear', options: { T: 1 } })).toMatch(/^schedule\.options\.T: /);
    expect(msg({ id: 'linear', options: { betaStart: 0.1, betaEnd: 0.01 } })).toBe('schedule.options.betaEnd: betaEnd must be >= betaStart');
    expect(msg({ id: 'linear', options: { beta_start: 0.1 } })).toBe("schedule.options: unknown option(s) 'beta_start'");
    expect(msg({ id: 'cosine', options: { betaStart: 0.1 } })).toBe("schedule.options: unknown option(s) 'betaStart'");
    expect(msg({ id: 'explicit' })).toBe('schedule.options.betas: give at least 2 betas, each in (0, 1)');
    expect(msg({ id: 'explicit', options: { betas: [0.1, 1.5] } })).toMatch(/^schedule\.options\.betas\.1: /);
    expect(msg('warped')).toMatch(/unknown schedule 'warped'; available: cosine, explicit, linear, quadratic, scaled-linear, sigmoid/);
    for (const m of [msg({ id: 'linear', options: { T: 1 } }), msg('warped')]) expect(m).not.toContain('\n');
  });
});

describe('createSchedule / scheduleFromDiffusersConfig', () => {
  it('reads a Stable Diffusion scheduler_config.json', () => {
    const s = scheduleFromDiffusersConfig({
      _class_name: 'PNDMScheduler',
      beta_start: 0.00085,
      beta_end: 0.012,
      beta_schedule: 'scaled_linear',
      num_train_timesteps: 1000,
      skip_prk_steps: true,
    });
    expect(s.id).toBe('scaled-linear');
    expect(s.betas[0]).toBeCloseTo(0.00085, 9);
    expect(s.alphasCumprod[999]).toBeCloseTo(0.00466, 5);
  });

  it('uses diffusers defaults for missing keys, and trained_betas over beta_schedule', () => {
    expect(Array.from(scheduleFromDiffusersConfig({}).alphasCumprod)).toEqual(Array.from(linearSchedule().alphasCumprod));
    const s = createSchedule({ beta_schedule: 'linear', trained_betas: [0.01, 0.02, 0.03] });
    expect(s.id).toBe('explicit');
    expect(s.numTrainTimesteps).toBe(3);
    expect(createSchedule({ beta_schedule: 'squaredcos_cap_v2', num_train_timesteps: 40 }).id).toBe('cosine');
    expect(createSchedule({ beta_schedule: 'quadratic', num_train_timesteps: 10 }).id).toBe('quadratic');
    expect(createSchedule({ beta_schedule: 'sigmoid', num_train_timesteps: 10, rescale_betas_zero_snr: true }).alphasCumprod[9]).toBe(0);
  });

  it('round-trips a schedule config', () => {
    for (const s of [linearSchedule(50, 1e-4, 0.2, true), createSchedule({ beta_schedule: 'squaredcos_cap_v2', num_train_timesteps: 40 })]) {
      expect(Array.from(createSchedule(s.config).alphasCumprod)).toEqual(Array.from(s.alphasCumprod));
    }
  });

  it('names the bad key', () => {
    expect(() => scheduleFromDiffusersConfig({ beta_schedule: 'exponential' })).toThrow(
      /^scheduler_config\.beta_schedule: unknown beta schedule "exponential"; supported: linear, scaled_linear, quadratic, squaredcos_cap_v2, sigmoid, explicit$/,
    );
    expect(() => scheduleFromDiffusersConfig({ num_train_timesteps: 0 })).toThrow(/^scheduler_config\.num_train_timesteps: must be an integer >= 2/);
    expect(() => scheduleFromDiffusersConfig({ beta_end: 2 })).toThrow(/^scheduler_config\.beta_end: must be a number in \(0, 1\)/);
    expect(() => scheduleFromDiffusersConfig({ trained_betas: [0.1], num_train_timesteps: 1 })).toThrow(/trained_betas: needs an array of at least 2 betas/);
    expect(() => scheduleFromDiffusersConfig({ trained_betas: [0.1, 0.2], num_train_timesteps: 1000 })).toThrow(
      /num_train_timesteps: is 1000 but trained_betas has 2 entries/,
    );
    expect(() => scheduleFromDiffusersConfig({ rescale_betas_zero_snr: 'yes' })).toThrow(/rescale_betas_zero_snr: must be true or false/);
  });
});
