import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, createRootContainer, provide, Rng, registryOf, TOKENS } from '@difflab/core';
import { linearSchedule, scaledLinearSchedule, scheduleFromDiffusersConfig } from '@difflab/schedulers';
import { describe, expect, it } from 'vitest';
import { denoise } from './denoise.js';
import { EULER_ANCESTRAL_DIFFUSERS_KEYS, EulerAncestralSampler, eulerAncestralPlugin } from './euler-ancestral.js';

const f = Math.fround;
const lin = linearSchedule(1000, 1e-4, 0.02);
const sd = scaledLinearSchedule(1000, 0.00085, 0.012);
const X = [0.5, -1, 1.2, 0.3];
const OUT = [0.1, 0.2, -0.3, 0.4];
const Z = [1, -0.5, 0.25, 2];

function close(a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-6): void {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < b.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(b[i])));
}

function stepAt(s: EulerAncestralSampler, k: number, noise: number[] | null = Z) {
  const mo = tf.tensor1d(OUT);
  const xt = tf.tensor1d(X);
  const z = noise ? tf.tensor1d(noise) : undefined;
  s.reset();
  s.setBeginIndex(k);
  const before = tf.memory().numTensors;
  const r = s.step(mo, s.timesteps[k], xt, z ? { noise: z } : undefined);
  expect(tf.memory().numTensors).toBe(before + 2);
  const res = { prev: Array.from(r.prevSample.dataSync()), x0: Array.from(r.predOriginalSample.dataSync()) };
  tf.dispose([mo, xt, r.prevSample, r.predOriginalSample, ...(z ? [z] : [])]);
  return res;
}

describe('EulerAncestralSampler (diffusers EulerAncestralDiscreteScheduler)', () => {
  it('tables as Euler without Karras: linspace timesteps, interpolated sigmas, final 0, init noise sigma', () => {
    const s = new EulerAncestralSampler(lin, { numInferenceSteps: 10 });
    expect([...s.timesteps]).toEqual([999, 888, 777, 666, 555, 444, 333, 222, 111, 0]);
    expect(s.sigmas[0]).toBe(lin.sigmas[999]);
    expect(s.sigmas[10]).toBe(0);
    expect(s.initNoiseSigma).toBe(lin.sigmas[999]);
    const lead = new EulerAncestralSampler(sd, { numInferenceSteps: 10, timestepSpacing: 'leading', stepsOffset: 1 });
    expect(lead.timesteps[0]).toBe(901);
    expect(lead.initNoiseSigma).toBe(f(Math.sqrt(f(f(sd.sigmas[901] ** 2) + 1))));
    expect(new EulerAncestralSampler(lin).timesteps).toHaveLength(1000);
  });

  it('sigma_up^2 + sigma_down^2 = sigma_next^2 with sigma_up = sigma_next sqrt(sigma^2 - sigma_next^2) / sigma; 0 on the last step', () => {
    const s = new EulerAncestralSampler(lin, { numInferenceSteps: 10 });
    for (let k = 0; k < 10; k++) {
      const [a, b] = [s.sigmas[k], s.sigmas[k + 1]];
      const { sigmaUp, sigmaDown } = s.ancestralSigmas(k);
      expect(sigmaUp).toBeCloseTo((b * Math.sqrt(a * a - b * b)) / a, 5);
      expect(Math.abs(sigmaUp ** 2 + sigmaDown ** 2 - b * b) / (b * b || 1)).toBeLessThan(1e-6);
    }
    expect(s.ancestralSigmas(9)).toEqual({ sigmaUp: 0, sigmaDown: 0 });
  });

  it('one step: x_next = x + (sigma_down - sigma) d + sigma_up z, d = eps (epsilon) or (x - x0) / sigma (v)', () => {
    const s = new EulerAncestralSampler(lin, { numInferenceSteps: 10 });
    for (const k of [0, 4, 9]) {
      const sig = s.sigmas[k];
      const { sigmaUp, sigmaDown } = s.ancestralSigmas(k);
      const r = stepAt(s, k);
      close(r.x0, X.map((x, i) => x - sig * OUT[i]));
      close(r.prev, X.map((x, i) => x + (sigmaDown - sig) * OUT[i] + sigmaUp * Z[i]));
    }
    const v = new EulerAncestralSampler(lin, { numInferenceSteps: 10, predictionType: 'v_prediction' });
    const sig = v.sigmas[3];
    const { sigmaUp, sigmaDown } = v.ancestralSigmas(3);
    const x0 = X.map((x, i) => (-sig / Math.sqrt(sig * sig + 1)) * OUT[i] + x / (sig * sig + 1));
    const r = stepAt(v, 3);
    close(r.x0, x0);
    close(r.prev, X.map((x, i) => x + ((sigmaDown - sig) * (x - x0[i])) / sig + sigmaUp * Z[i]));
  });

  it('draws its noise from opts.rng, else its own Rng; opts.noise wins and is not disposed', () => {
    const s = new EulerAncestralSampler(lin, { numInferenceSteps: 10, seed: 5 });
    const a = stepAt(s, 2, null);
    const b = stepAt(new EulerAncestralSampler(lin, { numInferenceSteps: 10, seed: 5 }), 2, null);
    const c = stepAt(new EulerAncestralSampler(lin, { numInferenceSteps: 10, seed: 6 }), 2, null);
    expect(a.prev).toEqual(b.prev);
    expect(a.prev).not.toEqual(c.prev);
    const z = tf.tensor1d(Z);
    const mo = tf.tensor1d(OUT);
    const xt = tf.tensor1d(X);
    s.reset();
    s.setBeginIndex(2);
    const state = s.rng.getState();
    const r = s.step(mo, s.timesteps[2], xt, { noise: z, rng: new Rng(1) });
    expect(s.rng.getState()).toEqual(state);
    expect(z.isDisposed).toBe(false);
    close(r.prevSample.dataSync(), stepAt(s, 2).prev, 0);
    tf.dispose([z, mo, xt, r.prevSample, r.predOriginalSample]);
    const bad = tf.tensor1d([1, 2]);
    const mo2 = tf.tensor1d(OUT);
    s.reset();
    expect(() => s.step(mo2, s.timesteps[2], mo2, { noise: bad })).toThrow('euler-ancestral: noise shape [2] differs from sample shape [4]');
    tf.dispose([bad, mo2]);
  });

  it('denoise: deterministic under a seed, different across seeds, no tensor left behind', () => {
    const model = { predict: (x: tf.Tensor, t: tf.Tensor) => tf.tidy(() => tf.mul(x, tf.reshape(tf.div(t, 2000), [-1, 1]))) };
    const run = (seed: number) => {
      const s = new EulerAncestralSampler(lin, { numInferenceSteps: 10 });
      const before = tf.memory().numTensors;
      let out: number[] = [];
      for (const st of denoise({ sampler: s, model, shape: [6, 2], rng: new Rng(seed) })) if (st.index === 9) out = Array.from(st.prevSample.dataSync());
      expect(tf.memory().numTensors).toBe(before);
      return out;
    };
    const a = run(11);
    expect(run(11)).toEqual(a);
    expect(run(12)).not.toEqual(a);
  });

  it('addNoise: x0 + sigma(t) noise', () => {
    const s = new EulerAncestralSampler(lin, { numInferenceSteps: 10 });
    const x0 = tf.tensor1d(X);
    const n = tf.tensor1d(Z);
    const y = s.addNoise(x0, n, 555);
    close(y.dataSync(), X.map((x, i) => x + lin.sigmas[555] * Z[i]));
    tf.dispose([x0, n, y]);
  });

  it('config: every key, round trip, unknown keys kept, zero-SNR schedule', () => {
    const z = scheduleFromDiffusersConfig({ beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012, rescale_betas_zero_snr: true });
    const s = new EulerAncestralSampler(z, { numInferenceSteps: 10, predictionType: 'v_prediction', timestepSpacing: 'trailing' });
    expect(s.initNoiseSigma).toBe(f(Math.sqrt(2 ** 24 - 1)));
    const cfg = s.toDiffusersConfig();
    expect(Object.keys(cfg).sort()).toEqual(['_class_name', ...EULER_ANCESTRAL_DIFFUSERS_KEYS].sort());
    expect(cfg).toMatchObject({ _class_name: 'EulerAncestralDiscreteScheduler', rescale_betas_zero_snr: true, prediction_type: 'v_prediction', timestep_spacing: 'trailing' });
    const back = EulerAncestralSampler.fromDiffusersConfig({ ...cfg, use_karras_sigmas: false }, scheduleFromDiffusersConfig, { numInferenceSteps: 10 });
    expect(back.sigmas).toEqual(s.sigmas);
    expect(back.unknownDiffusersKeys).toEqual(['use_karras_sigmas']);
    expect(back.toDiffusersConfig()).toEqual({ ...cfg, use_karras_sigmas: false });
  });

  it("rejects 'sample' prediction (diffusers raises NotImplementedError) and bad values, in one line", () => {
    expect(() => new EulerAncestralSampler(lin, { predictionType: 'sample' })).toThrow(
      "predictionType: 'sample' is not supported by EulerAncestralDiscreteScheduler; supported: epsilon, v_prediction",
    );
    expect(() => EulerAncestralSampler.fromDiffusersConfig({ prediction_type: 'sample' }, scheduleFromDiffusersConfig)).toThrow(
      'scheduler_config.prediction_type: unsupported value "sample"; supported: epsilon, v_prediction',
    );
    expect(() => EulerAncestralSampler.fromDiffusersConfig({ steps_offset: -1 }, scheduleFromDiffusersConfig)).toThrow(ConfigError);
    expect(() => new EulerAncestralSampler(lin, { stepsOffset: 1.5 })).toThrow('stepsOffset: must be a non-negative integer, got 1.5');
  });

  it("plugin 'euler-ancestral': defaults and options", () => {
    const root = createRootContainer();
    registryOf(root).add(eulerAncestralPlugin);
    const c = root.createChildContainer();
    provide(c, TOKENS.Schedule, linearSchedule(50, 1e-4, 0.2));
    const reg = registryOf(c);
    const s = reg.create<EulerAncestralSampler>('sampler', 'euler-ancestral', c);
    expect([s.id, s.numInferenceSteps, s.predictionType, s.timestepSpacing]).toEqual(['euler-ancestral', 50, 'epsilon', 'linspace']);
    expect(reg.create<EulerAncestralSampler>('sampler', { id: 'euler-ancestral', options: { seed: 9, numInferenceSteps: 7 } }, c).rng.getState()).toEqual(new Rng(9).getState());
    expect(() => reg.create('sampler', { id: 'euler-ancestral', options: { predictionType: 'sample' } }, c)).toThrow(/^sampler\.options\.predictionType: /);
  });
});
