import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, createRootContainer, type Denoiser, provide, Rng, registryOf, TOKENS } from '@difflab/core';
import { cosineSchedule, linearSchedule, scaledLinearSchedule, scheduleFromDiffusersConfig, sigmoidSchedule } from '@difflab/schedulers';
import { describe, expect, it } from 'vitest';
import { DDIMSampler } from './ddim.js';
import { denoise } from './denoise.js';
import { type PNDMOptions, PNDMSampler, pndmPlugin } from './pndm.js';

const lin = linearSchedule(1000, 1e-4, 0.02);
const ac = lin.alphasCumprod;

/** diffusers' test model x * t / (t + 1). */
const dummy = (x: tf.Tensor, t: number) => tf.tidy(() => tf.div(tf.mul(x, t), t + 1));

/** One model call per timestep, by hand; returns the final sample. */
function loop(s: PNDMSampler, x0: number[], model = dummy) {
  let x: tf.Tensor = tf.tensor2d(x0, [2, 2]);
  for (const t of s.timesteps) {
    const out = model(x, t);
    const r = s.step(out, t, x);
    tf.dispose([out, x, r.predOriginalSample]);
    x = r.prevSample;
  }
  const final = Array.from(x.dataSync());
  x.dispose();
  return final;
}

const X = [0.5, -1, 1.2, 0.3];

describe('PNDMSampler timesteps (diffusers PNDMScheduler.set_timesteps)', () => {
  it('PRK: the last three intervals at their midpoints (12 calls), then PLMS; diffusers test_steps_offset', () => {
    const s = new PNDMSampler(lin, { numInferenceSteps: 10, stepsOffset: 1 });
    expect(s.timesteps).toEqual([901, 851, 851, 801, 801, 751, 751, 701, 701, 651, 651, 601, 601, 501, 401, 301, 201, 101, 1]);
    expect([s.prkTimestepList.length, s.plmsTimestepList.length, s.numInferenceSteps]).toEqual([12, 7, 10]);
    expect(new PNDMSampler(lin, { numInferenceSteps: 25 }).timesteps.length).toBe(25 + 9);
  });

  it('PLMS only (skipPrkSteps): n + 1 calls, the second timestep twice', () => {
    const s = new PNDMSampler(lin, { numInferenceSteps: 10, skipPrkSteps: true });
    expect(s.timesteps).toEqual([900, 800, 800, 700, 600, 500, 400, 300, 200, 100, 0]);
    expect(new PNDMSampler(lin, { numInferenceSteps: 1, skipPrkSteps: true }).timesteps).toEqual([0]);
  });

  it("'linspace' and 'trailing' spacing; the previous timestep stays t - T // n, as in diffusers", () => {
    expect(new PNDMSampler(lin, { numInferenceSteps: 10, skipPrkSteps: true, timestepSpacing: 'linspace' }).timesteps).toEqual([
      999, 888, 888, 777, 666, 555, 444, 333, 222, 111, 0,
    ]);
    expect(new PNDMSampler(lin, { numInferenceSteps: 10, skipPrkSteps: true, timestepSpacing: 'trailing' }).timesteps).toEqual([
      999, 899, 899, 799, 699, 599, 499, 399, 299, 199, 99,
    ]);
  });
});

describe('PNDMSampler step (Liu et al. 2022; diffusers step_prk / step_plms)', () => {
  it("the first PLMS call is DDIM's deterministic step t -> t - T // n (PNDM's transfer, eq. 9), with alpha-bar_0 at the end", () => {
    const s = new PNDMSampler(lin, { numInferenceSteps: 10, skipPrkSteps: true });
    const ddim = new DDIMSampler(lin, { numInferenceSteps: 10, clipSample: false });
    const mo = tf.tensor2d([0.1, 0.2, -0.3, 0.4], [2, 2]);
    const x = tf.tensor2d(X, [2, 2]);
    const before = tf.memory().numTensors;
    const r = s.step(mo, 900, x);
    // two outputs, the kept model output and the kept warm-up sample
    expect(tf.memory().numTensors).toBe(before + 4);
    const d = ddim.step(mo, 900, x);
    Array.from(r.prevSample.dataSync()).forEach((v, i) => {
      expect(v).toBeCloseTo(d.prevSample.dataSync()[i], 5);
    });
    Array.from(r.predOriginalSample.dataSync()).forEach((v, i) => {
      expect(v).toBeCloseTo(d.predOriginalSample.dataSync()[i], 5);
    });
    tf.dispose([mo, x, r.prevSample, r.predOriginalSample, d.prevSample, d.predOriginalSample]);
    s.reset();
    expect(tf.memory().numTensors).toBe(before - 2);
  });

  it('v_prediction: the first call converts v to eps at (x, t) and matches the epsilon model', () => {
    const t = 900;
    const a = ac[t];
    const eps = [0.1, 0.2, -0.3, 0.4];
    const x0 = [0.3, -0.7, 0.9, 0.05];
    const xt = x0.map((v, i) => Math.sqrt(a) * v + Math.sqrt(1 - a) * eps[i]);
    const v = x0.map((v0, i) => Math.sqrt(a) * eps[i] - Math.sqrt(1 - a) * v0);
    const first = (predictionType: 'epsilon' | 'v_prediction', out: number[]) => {
      const s = new PNDMSampler(lin, { numInferenceSteps: 10, skipPrkSteps: true, predictionType });
      const mo = tf.tensor2d(out, [2, 2]);
      const x = tf.tensor2d(xt, [2, 2]);
      const r = s.step(mo, t, x);
      const res = [Array.from(r.prevSample.dataSync()), Array.from(r.predOriginalSample.dataSync())];
      tf.dispose([mo, x, r.prevSample, r.predOriginalSample]);
      s.reset();
      return res;
    };
    const [pe, xe] = first('epsilon', eps);
    const [pv, xv] = first('v_prediction', v);
    pe.forEach((p, i) => {
      expect(pv[i]).toBeCloseTo(p, 5);
      expect(xv[i]).toBeCloseTo(x0[i], 5);
      expect(xe[i]).toBeCloseTo(x0[i], 4);
    });
  });

  it('PRK: a model with a constant eps makes all four evaluations agree, so each RK step equals one DDIM step', () => {
    const eps = [0.1, 0.2, -0.3, 0.4];
    const model = () => tf.tensor2d(eps, [2, 2]);
    const s = new PNDMSampler(lin, { numInferenceSteps: 10, setAlphaToOne: true });
    let x: tf.Tensor = tf.tensor2d(X, [2, 2]);
    for (const t of s.timesteps.slice(0, 4)) {
      const out = model();
      const r = s.step(out, t, x);
      tf.dispose([out, x, r.predOriginalSample]);
      x = r.prevSample;
    }
    // after the first RK step (4 calls) x is at 800: x = sqrt(abar_800) x0 + sqrt(1 - abar_800) eps
    const a = ac[900];
    const x0 = X.map((v, i) => (v - Math.sqrt(1 - a) * eps[i]) / Math.sqrt(a));
    Array.from(x.dataSync()).forEach((v, i) => {
      expect(v).toBeCloseTo(Math.sqrt(ac[800]) * x0[i] + Math.sqrt(1 - ac[800]) * eps[i], 4);
    });
    x.dispose();
    s.reset();
  });

  it('reset() mid-loop releases the state and restarts; a finished loop holds no tensors; calls are checked', () => {
    for (const o of [{}, { skipPrkSteps: true }] as PNDMOptions[]) {
      const full = loop(new PNDMSampler(lin, { numInferenceSteps: 10, ...o }), X);
      const s = new PNDMSampler(lin, { numInferenceSteps: 10, ...o });
      const before = tf.memory().numTensors;
      let x: tf.Tensor = tf.tensor2d(X, [2, 2]);
      for (const t of s.timesteps.slice(0, 6)) {
        const out = dummy(x, t);
        const r = s.step(out, t, x);
        tf.dispose([out, x, r.predOriginalSample]);
        x = r.prevSample;
      }
      expect(s.stepCount).toBe(6);
      expect(tf.memory().numTensors).toBeGreaterThan(before + 1);
      x.dispose();
      s.reset();
      expect([tf.memory().numTensors, s.stepCount]).toEqual([before, 0]);
      expect(loop(s, X)).toEqual(full);
      expect(tf.memory().numTensors).toBe(before);
    }
    const s = new PNDMSampler(lin, { numInferenceSteps: 10 });
    const x = tf.tensor2d(X, [2, 2]);
    expect(() => s.step(x, 800, x)).toThrow('pndm: call 0 is at timestep 900, got 800; call reset() to start a new loop');
    expect(() => new PNDMSampler(lin).step(x, 900, x)).toThrow('numInferenceSteps: pndm: call setTimesteps(n) before step()');
    const one = new PNDMSampler(lin, { numInferenceSteps: 1, skipPrkSteps: true });
    tf.dispose(Object.values(one.step(x, 0, x)));
    expect(() => one.step(x, 0, x)).toThrow('pndm: all 1 model calls are done; call reset() to start a new loop');
    x.dispose();
  });

  it('no tensor leaks in denoise loops (one model call per timestep), breaking out + reset; deterministic', () => {
    let calls = 0;
    const model = {
      predict: (x: tf.Tensor, t: tf.Tensor) => {
        calls++;
        return tf.tidy(() => tf.mul(x, tf.reshape(tf.div(t, 2000), [-1, 1])));
      },
    };
    for (const o of [{}, { skipPrkSteps: true, predictionType: 'v_prediction' }] as PNDMOptions[]) {
      const s = new PNDMSampler(lin, { numInferenceSteps: 8, ...o });
      const run = () => {
        const before = tf.memory().numTensors;
        calls = 0;
        let out: number[] = [];
        for (const st of denoise({ sampler: s, model, shape: [4, 2], rng: new Rng(3) })) if (st.index === s.timesteps.length - 1) out = Array.from(st.prevSample.dataSync());
        expect(calls).toBe(s.timesteps.length);
        expect(tf.memory().numTensors).toBe(before);
        for (const st of denoise({ sampler: s, model, shape: [4, 2], rng: new Rng(3) })) if (st.index === 5) break;
        s.reset();
        expect(tf.memory().numTensors).toBe(before);
        return out;
      };
      const a = run();
      expect(a.every(Number.isFinite)).toBe(true);
      expect(run()).toEqual(a);
    }
  });

  it('addNoise: sqrt(abar_t) x0 + sqrt(1 - abar_t) noise', () => {
    const s = new PNDMSampler(lin);
    const x0 = tf.tensor1d([1, -2]);
    const noise = tf.tensor1d([0.5, 0.25]);
    const y = s.addNoise(x0, noise, 500);
    expect(Array.from(y.dataSync())[1]).toBeCloseTo(-2 * Math.sqrt(ac[500]) + 0.25 * Math.sqrt(1 - ac[500]), 6);
    expect(() => s.addNoise(x0, noise, -1)).toThrow('pndm.addNoise: timestep -1 must be an integer in [0, 999]');
    tf.dispose([x0, noise, y]);
  });
});

describe('PNDMSampler diffusers config', () => {
  it('writes every PNDMScheduler key and reads it back (round trip)', () => {
    const s = new PNDMSampler(scaledLinearSchedule(1000, 0.00085, 0.012), {
      numInferenceSteps: 20,
      skipPrkSteps: true,
      setAlphaToOne: true,
      predictionType: 'v_prediction',
      timestepSpacing: 'trailing',
    });
    const cfg = s.toDiffusersConfig();
    expect(cfg).toEqual({
      _class_name: 'PNDMScheduler',
      num_train_timesteps: 1000,
      beta_start: 0.00085,
      beta_end: 0.012,
      beta_schedule: 'scaled_linear',
      trained_betas: null,
      skip_prk_steps: true,
      set_alpha_to_one: true,
      prediction_type: 'v_prediction',
      timestep_spacing: 'trailing',
      steps_offset: 0,
    });
    const back = PNDMSampler.fromDiffusersConfig(cfg, scheduleFromDiffusersConfig, { numInferenceSteps: 20 });
    expect(back.toDiffusersConfig()).toEqual(cfg);
    expect(back.timesteps).toEqual(s.timesteps);
  });

  it("diffusers' defaults for missing keys; keeps unknown keys (rescale_betas_zero_snr is not PNDM's: not applied)", () => {
    const s = PNDMSampler.fromDiffusersConfig({ _class_name: 'PNDMScheduler' }, scheduleFromDiffusersConfig);
    expect([s.skipPrkSteps, s.setAlphaToOne, s.predictionType, s.timestepSpacing, s.stepsOffset, s.finalAlphaCumprod]).toEqual([false, false, 'epsilon', 'leading', 0, ac[0]]);
    const json = { _class_name: 'PNDMScheduler', _diffusers_version: '0.6.0', clip_sample: false, rescale_betas_zero_snr: true, skip_prk_steps: true, steps_offset: 1 };
    const k = PNDMSampler.fromDiffusersConfig(json, scheduleFromDiffusersConfig, { numInferenceSteps: 10 });
    expect(k.unknownDiffusersKeys).toEqual(['_diffusers_version', 'clip_sample', 'rescale_betas_zero_snr']);
    expect(k.schedule.config.rescale_betas_zero_snr).toBe(false);
    const out = k.toDiffusersConfig();
    expect(out).toMatchObject({ _diffusers_version: '0.6.0', clip_sample: false, rescale_betas_zero_snr: true, steps_offset: 1 });
    expect(PNDMSampler.fromDiffusersConfig(out, scheduleFromDiffusersConfig).toDiffusersConfig()).toEqual(out);
  });

  it('writes a sigmoid schedule as trained_betas; cosine stays squaredcos_cap_v2', () => {
    const cfg = new PNDMSampler(sigmoidSchedule(50, 1e-4, 0.02)).toDiffusersConfig();
    expect([cfg.beta_schedule, (cfg.trained_betas as number[]).length]).toEqual(['linear', 50]);
    expect(new PNDMSampler(cosineSchedule(40)).toDiffusersConfig().beta_schedule).toBe('squaredcos_cap_v2');
  });

  it('rejects bad options and unsupported diffusers values with one-line errors naming the key', () => {
    const cases: [() => unknown, string | RegExp][] = [
      [() => PNDMSampler.fromDiffusersConfig({ prediction_type: 'sample' }, lin), 'scheduler_config.prediction_type: unsupported value "sample"; supported: epsilon, v_prediction'],
      [() => PNDMSampler.fromDiffusersConfig({ skip_prk_steps: 'yes' }, lin), 'scheduler_config.skip_prk_steps: must be true or false, got "yes"'],
      [() => PNDMSampler.fromDiffusersConfig({ beta_schedule: 'sigmoid' }, scheduleFromDiffusersConfig), /^scheduler_config\.beta_schedule: unsupported value "sigmoid"/],
      [() => PNDMSampler.fromDiffusersConfig({ _class_name: 'DDIMScheduler' }, lin), 'scheduler_config._class_name: expected \'PNDMScheduler\', got "DDIMScheduler"'],
      [() => new PNDMSampler(lin, { predictionType: 'sample' }), "predictionType: 'sample' is not supported by pndm; supported: epsilon, v_prediction"],
      [() => new PNDMSampler(lin, { numInferenceSteps: 3 }), 'numInferenceSteps: the PRK warm-up needs at least 4 steps (diffusers fails below), got 3; or set skipPrkSteps'],
      [() => new PNDMSampler(lin, { numInferenceSteps: 10, stepsOffset: 200 }), "stepsOffset: 200 puts timestep 1100 past T - 1 = 999 with 10 'leading' steps"],
      [() => new PNDMSampler(lin, { timestepSpacing: 'uniform' as never }), "timestepSpacing: unknown spacing 'uniform'; allowed: leading, linspace, trailing"],
    ];
    for (const [fn, msg] of cases) {
      expect(fn).toThrow(msg);
      try {
        fn();
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        expect((e as Error).message).not.toContain('\n');
      }
    }
  });
});

describe("plugin 'pndm'", () => {
  function job(T = 50, denoiser?: Partial<Denoiser>) {
    const root = createRootContainer();
    registryOf(root).add(pndmPlugin);
    const c = root.createChildContainer();
    provide(c, TOKENS.Schedule, linearSchedule(T, 1e-4, 0.2));
    if (denoiser) provide(c, TOKENS.Denoiser, denoiser as Denoiser);
    return { c, reg: registryOf(c) };
  }

  it("fills diffusers' defaults (min(50, T) steps, PRK, leading), passes options through, checks the Denoiser's prediction type", () => {
    const { c, reg } = job(40);
    const s = reg.create<PNDMSampler>('sampler', 'pndm', c);
    expect([s.id, s.numInferenceSteps, s.skipPrkSteps, s.setAlphaToOne, s.timestepSpacing, s.predictionType, s.timesteps.length]).toEqual([
      'pndm',
      40,
      false,
      false,
      'leading',
      'epsilon',
      49,
    ]);
    const o = reg.create<PNDMSampler>('sampler', { id: 'pndm', options: { numInferenceSteps: 10, skipPrkSteps: true, setAlphaToOne: true } }, c);
    expect([o.timesteps.length, o.finalAlphaCumprod]).toEqual([11, 1]);
    const { c: cv, reg: rv } = job(50, { predictionType: 'sample' });
    expect(() => rv.create('sampler', 'pndm', cv)).toThrow("predictionType: 'sample' is not supported by pndm; supported: epsilon, v_prediction");
  });
});
