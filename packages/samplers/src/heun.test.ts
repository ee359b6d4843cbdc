import * as tf from '@tensorflow/tfjs-core';
import { createRootContainer, provide, Rng, registryOf, TOKENS } from '@difflab/core';
import { linearSchedule, scheduleFromDiffusersConfig } from '@difflab/schedulers';
import { describe, expect, it } from 'vitest';
import { denoise } from './denoise.js';
import { HEUN_DIFFUSERS_KEYS, HeunSampler, heunPlugin } from './heun.js';

const lin = linearSchedule(1000, 1e-4, 0.02);
const X = [0.5, -1, 1.2, 0.3];

function close(a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-6): void {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < b.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(b[i])));
}

/** eps(x, sigma) = c x / sqrt(sigma^2 + 1) evaluated on the scaled input, as a model would see it. */
const C = 0.3;

describe('HeunSampler (Karras et al. 2022 Algorithm 1; diffusers HeunDiscreteScheduler)', () => {
  it('interleaves timesteps and sigmas: t0, t1, t1, ..., t_{n-1}, t_{n-1} and s0, s1, s1, ..., 0 (2n - 1 model calls)', () => {
    const s = new HeunSampler(lin, { numInferenceSteps: 4 });
    expect(s.order).toBe(2);
    expect([...s.timesteps]).toEqual([999, 666, 666, 333, 333, 0, 0]);
    expect(s.sigmas).toEqual([lin.sigmas[999], lin.sigmas[666], lin.sigmas[666], lin.sigmas[333], lin.sigmas[333], lin.sigmas[0], lin.sigmas[0], 0]);
    // diffusers calls set_timesteps(T) in __init__: 2T - 1 entries right away
    const init = new HeunSampler(linearSchedule(50, 1e-4, 0.2));
    expect([init.numInferenceSteps, init.timesteps.length]).toEqual([50, 99]);
    // a one-step loop is a single Euler step to sigma 0
    expect(new HeunSampler(lin, { numInferenceSteps: 1 }).sigmas).toEqual([lin.sigmas[0], 0]);
  });

  it('predictor then corrector: x_{i+1} = x_i + (s_{i+1} - s_i) (d_i + d_i\') / 2, the state held in between and dropped after', () => {
    const s = new HeunSampler(lin, { numInferenceSteps: 4 });
    const [s0, s1] = [s.sigmas[0], s.sigmas[1]];
    const eps = (x: number[], sig: number) => x.map((v) => (C * v) / Math.sqrt(sig * sig + 1));
    const x = tf.tensor1d(X);
    const before = tf.memory().numTensors;
    expect(s.stateInFirstOrder).toBe(true);
    const out1 = tf.tensor1d(eps(X, s0));
    const r1 = s.step(out1, 999, x);
    // predictor: Euler with d_0 = eps
    const d0 = eps(X, s0);
    const xp = X.map((v, i) => v + (s1 - s0) * d0[i]);
    close(r1.prevSample.dataSync(), xp);
    expect(s.stateInFirstOrder).toBe(false);
    expect(tf.memory().numTensors).toBe(before + 1 + 2 + 2); // out1, the results, and the kept d_0 and x_0
    const out2 = tf.tensor1d(eps(xp, s1));
    const r2 = s.step(out2, 666, r1.prevSample);
    const d1 = eps(xp, s1);
    close(r2.prevSample.dataSync(), X.map((v, i) => v + ((s1 - s0) * (d0[i] + d1[i])) / 2));
    // x0 of the corrector uses sigma_{i+1}
    close(r2.predOriginalSample.dataSync(), xp.map((v, i) => v - s1 * d1[i]));
    expect(s.stateInFirstOrder).toBe(true);
    tf.dispose([out1, out2, r1.prevSample, r1.predOriginalSample, r2.prevSample, r2.predOriginalSample]);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });

  it('v_prediction, sample and clip_sample convert with sigma_input (sigma, then sigma_next in the corrector)', () => {
    const out = [0.1, 0.2, -0.3, 4];
    const v = new HeunSampler(lin, { numInferenceSteps: 4, predictionType: 'v_prediction' });
    const s0 = v.sigmas[0];
    const mo = tf.tensor1d(out);
    const x = tf.tensor1d(X);
    const r = v.step(mo, 999, x);
    close(r.predOriginalSample.dataSync(), X.map((xv, i) => (-s0 / Math.sqrt(s0 * s0 + 1)) * out[i] + xv / (s0 * s0 + 1)));
    tf.dispose([r.prevSample, r.predOriginalSample]);
    const c = new HeunSampler(lin, { numInferenceSteps: 4, predictionType: 'sample', clipSample: true, clipSampleRange: 2 });
    const rc = c.step(mo, 999, x);
    expect(Array.from(rc.predOriginalSample.dataSync())).toEqual(out.map((o) => Math.max(-2, Math.min(2, Math.fround(o)))));
    // 'sample' without clipping returns a copy of the model output, not the output itself
    const u = new HeunSampler(lin, { numInferenceSteps: 4, predictionType: 'sample' });
    const ru = u.step(mo, 999, x);
    expect(ru.predOriginalSample).not.toBe(mo);
    tf.dispose([mo, x, rc.prevSample, rc.predOriginalSample, ru.prevSample, ru.predOriginalSample]);
    c.reset();
    u.reset();
  });

  it('denoise runs it unchanged (one model call per timestep entry) and leaves no tensor behind; reset() drops a half step', () => {
    const calls: number[] = [];
    const model = {
      predict: (x: tf.Tensor, t: tf.Tensor) => {
        calls.push(t.dataSync()[0]);
        return tf.tidy(() => tf.mul(x, C));
      },
    };
    const s = new HeunSampler(lin, { numInferenceSteps: 5 });
    const before = tf.memory().numTensors;
    let last: number[] = [];
    for (const st of denoise({ sampler: s, model, shape: [3, 2], rng: new Rng(2) })) last = Array.from(st.prevSample.dataSync());
    expect(calls).toEqual([...s.timesteps]);
    expect(calls).toHaveLength(9);
    expect(last.every(Number.isFinite)).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
    // abandon a loop after a predictor step: reset() disposes the held derivative and sample
    const x = tf.ones([3, 2]);
    s.reset();
    const r = s.step(x, s.timesteps[0], x);
    tf.dispose([r.prevSample, r.predOriginalSample]);
    expect(tf.memory().numTensors).toBe(before + 1 + 2);
    s.reset();
    expect(tf.memory().numTensors).toBe(before + 1);
    x.dispose();
  });

  it("config: Heun's own defaults (beta_start 0.00085, beta_end 0.012), every key, round trip; rescale is not a Heun key", () => {
    const d = HeunSampler.fromDiffusersConfig({ _class_name: 'HeunDiscreteScheduler' }, scheduleFromDiffusersConfig, { numInferenceSteps: 3 });
    expect(d.schedule.config).toMatchObject({ beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'linear' });
    const cfg = d.toDiffusersConfig();
    expect(Object.keys(cfg).sort()).toEqual(['_class_name', ...HEUN_DIFFUSERS_KEYS].sort());
    expect(cfg).toMatchObject({ clip_sample: false, clip_sample_range: 1, use_karras_sigmas: false, timestep_spacing: 'linspace' });
    const k = new HeunSampler(lin, { numInferenceSteps: 6, useKarrasSigmas: true, clipSample: true, clipSampleRange: 3, predictionType: 'v_prediction' });
    const back = HeunSampler.fromDiffusersConfig(k.toDiffusersConfig(), scheduleFromDiffusersConfig, { numInferenceSteps: 6 });
    expect(back.toDiffusersConfig()).toEqual(k.toDiffusersConfig());
    expect(back.timesteps).toEqual(k.timesteps);
    // diffusers ignores rescale_betas_zero_snr in a Heun config: kept as an unknown key, not applied
    const r = HeunSampler.fromDiffusersConfig({ rescale_betas_zero_snr: true }, scheduleFromDiffusersConfig, { numInferenceSteps: 3 });
    expect(r.schedule.config.rescale_betas_zero_snr).toBe(false);
    expect(r.unknownDiffusersKeys).toEqual(['rescale_betas_zero_snr']);
    expect(r.toDiffusersConfig().rescale_betas_zero_snr).toBe(true);
    // ... and a rescaled schedule cannot be used with it
    const z = scheduleFromDiffusersConfig({ rescale_betas_zero_snr: true });
    expect(() => new HeunSampler(z)).toThrow(
      'schedule.rescale_betas_zero_snr: HeunDiscreteScheduler has no zero-terminal-SNR support; use a schedule without rescale (or euler / euler-ancestral)',
    );
    expect(() => HeunSampler.fromDiffusersConfig({ beta_schedule: 'exp' }, scheduleFromDiffusersConfig)).toThrow(
      'scheduler_config.beta_schedule: unsupported value "exp"; supported: linear, scaled_linear, squaredcos_cap_v2',
    );
    expect(() => new HeunSampler(lin, { clipSampleRange: 0 })).toThrow('clipSampleRange: must be a finite number > 0, got 0');
  });

  it("plugin 'heun': defaults and options", () => {
    const root = createRootContainer();
    registryOf(root).add(heunPlugin);
    const c = root.createChildContainer();
    provide(c, TOKENS.Schedule, linearSchedule(50, 1e-4, 0.2));
    const reg = registryOf(c);
    const s = reg.create<HeunSampler>('sampler', 'heun', c);
    expect([s.id, s.order, s.numInferenceSteps, s.timesteps.length, s.clipSample]).toEqual(['heun', 2, 50, 99, false]);
    const o = reg.create<HeunSampler>('sampler', { id: 'heun', options: { numInferenceSteps: 5, useKarrasSigmas: true, clipSample: true, clipSampleRange: 2 } }, c);
    expect([o.useKarrasSigmas, o.clipSample, o.clipSampleRange, o.timesteps.length]).toEqual([true, true, 2, 9]);
  });
});
