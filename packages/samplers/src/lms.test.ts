import * as tf from '@tensorflow/tfjs-core';
import { createRootContainer, provide, Rng, registryOf, TOKENS } from '@difflab/core';
import { linearSchedule, scaledLinearSchedule, scheduleFromDiffusersConfig } from '@difflab/schedulers';
import { describe, expect, it } from 'vitest';
import { denoise } from './denoise.js';
import { LMS_DIFFUSERS_KEYS, LMSSampler, lmsPlugin } from './lms.js';

const lin = linearSchedule(1000, 1e-4, 0.02);
const sd = scaledLinearSchedule(1000, 0.00085, 0.012);

/** Exact float64 integral of the Lagrange basis polynomial l_j over [a, b] for nodes xs (by expanding it, no quadrature). */
function lagrangeIntegral(xs: number[], j: number, a: number, b: number): number {
  // coefficients of prod_{m != j} (s - x_m) / (x_j - x_m), lowest degree first
  let poly = [1];
  for (let m = 0; m < xs.length; m++) {
    if (m === j) continue;
    const d = xs[j] - xs[m];
    const next = new Array(poly.length + 1).fill(0);
    poly.forEach((c, k) => {
      next[k + 1] += c / d;
      next[k] -= (c * xs[m]) / d;
    });
    poly = next;
  }
  return poly.reduce((acc, c, k) => acc + (c * (b ** (k + 1) - a ** (k + 1))) / (k + 1), 0);
}

describe('LMSSampler (k-diffusion sample_lms; diffusers LMSDiscreteScheduler)', () => {
  it('lmsCoefficient: the integral of each Lagrange basis polynomial over [sigma_i, sigma_{i+1}]', () => {
    const s = new LMSSampler(sd, { numInferenceSteps: 10 });
    const sig = s.sigmas;
    for (const [order, t] of [
      [1, 0],
      [2, 1],
      [3, 5],
      [4, 3],
      [4, 9],
    ] as const) {
      const nodes = Array.from({ length: order }, (_, k) => sig[t - k]);
      let sum = 0;
      for (let co = 0; co < order; co++) {
        const c = s.lmsCoefficient(order, t, co);
        // the integrand is rounded to float32 as diffusers' torch scalars do: agreement to float32 level, measured
        // <= 7e-8 of the step sigma_{i+1} - sigma_i
        expect(Math.abs(c - lagrangeIntegral(nodes, co, sig[t], sig[t + 1]))).toBeLessThan(5e-7 * Math.abs(sig[t + 1] - sig[t]));
        sum += c;
      }
      // the basis sums to 1: the coefficients sum to sigma_{i+1} - sigma_i
      expect(sum).toBeCloseTo(sig[t + 1] - sig[t], 5);
    }
    expect(() => s.lmsCoefficient(4, 2, 0)).toThrow('lms: step index 2 needs 4 earlier sigmas and a next one');
  });

  it('is exact when the derivative is constant: x_n = x_0 + (sigma_n - sigma_0) c for any order', () => {
    // x0_hat = x - sigma c makes d = (x - x0_hat) / sigma = c at every step
    for (const order of [1, 2, 4]) {
      const s = new LMSSampler(lin, { numInferenceSteps: 8, lmsOrder: order });
      const c = 0.7;
      let x: tf.Tensor = tf.tensor1d([2, -3]);
      for (const t of s.timesteps) {
        const i = s.stepIndex ?? 0;
        const x0 = tf.tidy(() => tf.sub(x, s.sigmas[i] * c));
        const eps = tf.tidy(() => tf.div(tf.sub(x, x0), s.sigmas[i]));
        const r = s.step(eps, t, x);
        expect(s.heldDerivatives).toBe(s.stepIndex === s.timesteps.length ? 0 : Math.min(order, s.stepIndex!));
        tf.dispose([x, x0, eps, r.predOriginalSample]);
        x = r.prevSample;
      }
      const want = [2, -3].map((v) => v + (0 - s.sigmas[0]) * c);
      const got = x.dataSync();
      for (let k = 0; k < 2; k++) expect(Math.abs(got[k] - want[k])).toBeLessThan(2e-4 * Math.abs(want[k]));
      x.dispose();
    }
  });

  it('one step with history: x + sum_j c_j d_{i-j} (newest derivative with c_0)', () => {
    const s = new LMSSampler(lin, { numInferenceSteps: 6, lmsOrder: 2 });
    const xs = [tf.tensor1d([1, 2]), tf.tensor1d([0.5, 1.5])];
    const outs = [tf.tensor1d([0.1, -0.2]), tf.tensor1d([0.3, 0.05])];
    const r0 = s.step(outs[0], s.timesteps[0], xs[0]);
    const r1 = s.step(outs[1], s.timesteps[1], xs[1]);
    // epsilon: d = eps; step 1 uses c_0 d_1 + c_1 d_0
    const c0 = s.lmsCoefficient(2, 1, 0);
    const c1 = s.lmsCoefficient(2, 1, 1);
    const want = [0.5 + c0 * 0.3 + c1 * 0.1, 1.5 + c0 * 0.05 + c1 * -0.2];
    const got = r1.prevSample.dataSync();
    for (let k = 0; k < 2; k++) expect(got[k]).toBeCloseTo(want[k], 5);
    // the first step is Euler: c_0 = sigma_1 - sigma_0
    expect(r0.prevSample.dataSync()[0]).toBeCloseTo(1 + (s.sigmas[1] - s.sigmas[0]) * 0.1, 4);
    // per-step override of the order (diffusers' step argument)
    s.reset();
    tf.dispose([r0.prevSample, r0.predOriginalSample, r1.prevSample, r1.predOriginalSample]);
    const a = s.step(outs[0], s.timesteps[0], xs[0], { order: 1 });
    const b = s.step(outs[1], s.timesteps[1], xs[1], { order: 1 });
    expect(b.prevSample.dataSync()[0]).toBeCloseTo(0.5 + (s.sigmas[2] - s.sigmas[1]) * 0.3, 5);
    expect(() => s.step(outs[1], s.timesteps[2], xs[1], { order: 0 })).toThrow('step.order: must be an integer in [1, 16], got 0');
    s.reset();
    tf.dispose([...xs, ...outs, a.prevSample, a.predOriginalSample, b.prevSample, b.predOriginalSample]);
  });

  it('denoise: the held derivatives are released after the last step; no tensor leaks; v_prediction and sample run', () => {
    const model = { predict: (x: tf.Tensor, t: tf.Tensor) => tf.tidy(() => tf.mul(x, tf.reshape(tf.div(t, 2000), [-1, 1]))) };
    for (const predictionType of ['epsilon', 'v_prediction', 'sample'] as const) {
      const s = new LMSSampler(sd, { numInferenceSteps: 12, predictionType, useKarrasSigmas: true });
      const before = tf.memory().numTensors;
      let last: number[] = [];
      for (const st of denoise({ sampler: s, model, shape: [4, 2], rng: new Rng(1) })) {
        last = Array.from(st.prevSample.dataSync());
        if (st.index === 5) expect(s.heldDerivatives).toBe(4);
      }
      expect(s.heldDerivatives).toBe(0);
      expect(last.every(Number.isFinite)).toBe(true);
      expect(tf.memory().numTensors).toBe(before);
    }
  });

  it('tables: set_timesteps(T) in __init__ (diffusers), Karras as Euler; leading with steps_offset reaches t = T as diffusers', () => {
    const init = new LMSSampler(linearSchedule(50, 1e-4, 0.2));
    expect([init.numInferenceSteps, init.timesteps.length, init.timesteps[0]]).toEqual([50, 50, 49]);
    const lead = new LMSSampler(sd, { timestepSpacing: 'leading', stepsOffset: 1 });
    // t = 1000 is past the table: np.interp clamps its sigma to sigma_999
    expect([lead.timesteps[0], lead.sigmas[0]]).toEqual([1000, sd.sigmas[999]]);
    const k = new LMSSampler(sd, { numInferenceSteps: 10, useKarrasSigmas: true });
    expect([k.sigmas[0], k.sigmas[9], k.sigmas[10]]).toEqual([sd.sigmas[999], sd.sigmas[0], 0]);
  });

  it('config: every key, round trip, lmsOrder is not a config key; errors', () => {
    const s = new LMSSampler(sd, { numInferenceSteps: 10, useKarrasSigmas: true, predictionType: 'v_prediction', timestepSpacing: 'trailing', lmsOrder: 3 });
    const cfg = s.toDiffusersConfig();
    expect(Object.keys(cfg).sort()).toEqual(['_class_name', ...LMS_DIFFUSERS_KEYS].sort());
    const back = LMSSampler.fromDiffusersConfig(cfg, scheduleFromDiffusersConfig, { numInferenceSteps: 10, lmsOrder: 3 });
    expect(back.toDiffusersConfig()).toEqual(cfg);
    expect([back.lmsOrder, back.sigmas]).toEqual([3, s.sigmas]);
    expect(() => new LMSSampler(sd, { lmsOrder: 17 })).toThrow('lmsOrder: must be an integer in [1, 16], got 17');
    expect(() => LMSSampler.fromDiffusersConfig({ use_karras_sigmas: 'no' }, scheduleFromDiffusersConfig)).toThrow('scheduler_config.use_karras_sigmas: must be true or false, got "no"');
    expect(() => LMSSampler.fromDiffusersConfig({ _class_name: 'LMSDiscreteScheduler', num_train_timesteps: 999 }, sd)).toThrow(
      'scheduler_config.num_train_timesteps: is 999 but the given schedule has T = 1000',
    );
  });

  it("plugin 'lms': defaults and options", () => {
    const root = createRootContainer();
    registryOf(root).add(lmsPlugin);
    const c = root.createChildContainer();
    provide(c, TOKENS.Schedule, linearSchedule(50, 1e-4, 0.2));
    const reg = registryOf(c);
    const s = reg.create<LMSSampler>('sampler', 'lms', c);
    expect([s.id, s.order, s.lmsOrder, s.numInferenceSteps]).toEqual(['lms', 1, 4, 50]);
    expect(reg.create<LMSSampler>('sampler', { id: 'lms', options: { lmsOrder: 2, numInferenceSteps: 10 } }, c).lmsOrder).toBe(2);
    expect(() => reg.create('sampler', { id: 'lms', options: { lmsOrder: 20 } }, c)).toThrow(/^sampler\.options\.lmsOrder: /);
  });
});
