import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, createRootContainer, provide, Rng, registryOf, TOKENS } from '@difflab/core';
import { cosineSchedule, linearSchedule, scheduleFromDiffusersConfig } from '@difflab/schedulers';
import { describe, expect, it } from 'vitest';
import { DDIMSampler } from './ddim.js';
import { denoise } from './denoise.js';
import { DPMSolverMultistepSampler } from './dpm-solver-multistep.js';
import { torchExpm1 } from './torch-float32.js';
import { solveF32, type UniPCOptions, UniPCSampler, unipcPlugin } from './unipc.js';

const f = Math.fround;
const lin = linearSchedule(1000, 1e-4, 0.02);
const fixture = JSON.parse(readFileSync(new URL('./__fixtures__/multistep-loops.json', import.meta.url), 'utf8')) as {
  torch_math: { expm1_x: number[]; expm1: number[] };
  linalg_solve: { A: number[][]; b: number[]; x: number[] }[];
};

const dummy = (x: tf.Tensor, t: number) => tf.tidy(() => tf.div(tf.mul(x, t), t + 1));
const X2 = [
  [0.5, -1],
  [1.2, 0.3],
];

/** A whole loop by hand; the final sample, and each step's predictor order and whether UniC ran. */
function loop(s: UniPCSampler, x0: number[][], model = dummy) {
  let x: tf.Tensor = tf.tensor2d(x0);
  const orders: number[] = [];
  const corrected: boolean[] = [];
  for (const t of s.timesteps) {
    const out = model(x, t);
    const r = s.step(out, t, x);
    orders.push(s.lastOrder);
    corrected.push(s.lastCorrected);
    tf.dispose([out, x, r.predOriginalSample]);
    x = r.prevSample;
  }
  const final = Array.from(x.dataSync());
  x.dispose();
  return { final, orders, corrected };
}

describe('UniPCSampler tables and stepping (Zhao et al. 2023; diffusers UniPCMultistepScheduler)', () => {
  it("timesteps as DPM-Solver's (no lambda clipping); Karras timesteps always rounded, 'sigma_min' ends at the last Karras sigma", () => {
    expect(new UniPCSampler(lin, { numInferenceSteps: 10 }).timesteps).toEqual(new DPMSolverMultistepSampler(lin, { numInferenceSteps: 10 }).timesteps);
    const k = new UniPCSampler(lin, { numInferenceSteps: 12, useKarrasSigmas: true, finalSigmasType: 'sigma_min' });
    expect(k.sigmas[12]).toBe(k.sigmas[11]);
    const cos = cosineSchedule(1000);
    // DPM-Solver (main) truncates squaredcos_cap_v2 Karras timesteps, UniPC rounds them
    expect(new UniPCSampler(cos, { numInferenceSteps: 25, useKarrasSigmas: true }).timesteps.slice(0, 2)).toEqual([999, 999]);
    expect(new DPMSolverMultistepSampler(cos, { numInferenceSteps: 25, useKarrasSigmas: true }).timesteps.slice(0, 2)).toEqual([999, 998]);
  });

  it('predictor orders warm up and come down at the end; the corrector runs from the second step unless disabled', () => {
    const run = (o: UniPCOptions) => loop(new UniPCSampler(lin, { numInferenceSteps: 10, ...o }), X2);
    expect(run({})).toMatchObject({ orders: [1, 2, 2, 2, 2, 2, 2, 2, 2, 1], corrected: [false, ...new Array(9).fill(true)] });
    expect(run({ solverOrder: 3 }).orders).toEqual([1, 2, 3, 3, 3, 3, 3, 3, 2, 1]);
    expect(run({ solverOrder: 3, lowerOrderFinal: false, finalSigmasType: 'sigma_min' }).orders).toEqual([1, 2, 3, 3, 3, 3, 3, 3, 3, 3]);
    expect(run({ disableCorrector: [0, 3] }).corrected).toEqual([false, false, true, true, false, true, true, true, true, true]);
    // the corrector changes the result (it is not a no-op), disabling it everywhere gives the plain predictor
    const all = run({}).final;
    const none = run({ disableCorrector: [...Array(10).keys()] }).final;
    expect(none).not.toEqual(all);
  });

  it('the first step (UniP-1, bh2) is the first-order exponential integrator, i.e. DPM-Solver++ / DDIM', () => {
    const u = new UniPCSampler(lin, { numInferenceSteps: 10 });
    const d = new DPMSolverMultistepSampler(lin, { numInferenceSteps: 10 });
    const mo = tf.tensor2d([0.1, 0.2, -0.3, 0.4], [2, 2]);
    const x = tf.tensor2d(X2);
    const before = tf.memory().numTensors;
    const ru = u.step(mo, 999, x);
    // two outputs, the kept model output and the kept sample
    expect(tf.memory().numTensors).toBe(before + 4);
    const rd = d.step(mo, 999, x);
    const a = Array.from(ru.prevSample.dataSync());
    Array.from(rd.prevSample.dataSync()).forEach((v, i) => {
      expect(a[i]).toBeCloseTo(v, 6);
    });
    expect(Array.from(ru.predOriginalSample.dataSync())).toEqual(Array.from(rd.predOriginalSample.dataSync()));
    tf.dispose([mo, x, ru.prevSample, ru.predOriginalSample, rd.prevSample, rd.predOriginalSample]);
    u.reset();
    d.reset();
    expect(tf.memory().numTensors).toBe(before - 2);
  });

  it('a constant x_0 prediction makes every order, with or without the corrector, land exactly on it', () => {
    const c = [
      [0.3, -0.2],
      [0.1, 0.7],
    ];
    const model = () => tf.tensor2d(c);
    for (const o of [{ solverOrder: 1 }, { solverOrder: 2 }, { solverOrder: 3 }, { solverOrder: 3, solverType: 'bh1', finalSigmasType: 'sigma_min' }] as UniPCOptions[]) {
      const fin = loop(new UniPCSampler(lin, { numInferenceSteps: 8, predictionType: 'sample', ...o }), X2, model).final;
      const target = o.finalSigmasType === 'sigma_min' ? null : c.flat();
      if (target) {
        fin.forEach((v, i) => {
          expect(v).toBeCloseTo(target[i], 6);
        });
      } else expect(fin.every(Number.isFinite)).toBe(true);
    }
  });

  it("torch's expm1 (SLEEF) and torch.linalg.solve's float32 LU (OpenBLAS) are reproduced to the bit", () => {
    const m = fixture.torch_math;
    m.expm1_x.forEach((x, i) => {
      expect(torchExpm1(x)).toBe(f(m.expm1[i]));
    });
    for (const c of fixture.linalg_solve) expect(solveF32(c.A, c.b)).toEqual(c.x.map(f));
    expect(fixture.linalg_solve.filter((c) => c.b.length === 3).length).toBeGreaterThanOrEqual(100);
  });

  it('reset() mid-loop releases the state and restarts; step index checks', () => {
    const full = loop(new UniPCSampler(lin, { numInferenceSteps: 10, solverOrder: 3 }), X2).final;
    const s = new UniPCSampler(lin, { numInferenceSteps: 10, solverOrder: 3 });
    const before = tf.memory().numTensors;
    let x: tf.Tensor = tf.tensor2d(X2);
    for (const t of s.timesteps.slice(0, 5)) {
      const out = dummy(x, t);
      const r = s.step(out, t, x);
      tf.dispose([out, x, r.predOriginalSample]);
      x = r.prevSample;
    }
    // x, three model outputs and the last (corrected) sample
    expect(tf.memory().numTensors).toBe(before + 5);
    expect(() => s.step(x, 999, x)).toThrow('unipc: step 5 is at timestep 500, got 999; call reset() to start a new loop');
    x.dispose();
    s.reset();
    expect([tf.memory().numTensors, s.stepIndex, s.lastOrder]).toEqual([before, null, 0]);
    expect(loop(s, X2).final).toEqual(full);
    expect(tf.memory().numTensors).toBe(before);
    expect(() => new UniPCSampler(lin).step(x, 999, x)).toThrow('numInferenceSteps: unipc: call setTimesteps(n) before step()');
  });

  it('no tensor leaks in denoise loops (orders 1-3, noise prediction, thresholding, breaking out + reset); deterministic', () => {
    const model = { predict: (x: tf.Tensor, t: tf.Tensor) => tf.tidy(() => tf.mul(x, tf.reshape(tf.div(t, 2000), [-1, 1, 1]))) };
    const run = (o: UniPCOptions) => {
      const s = new UniPCSampler(lin, { numInferenceSteps: 12, ...o });
      const before = tf.memory().numTensors;
      let out: number[] = [];
      for (const st of denoise({ sampler: s, model, shape: [3, 2, 4], rng: new Rng(9) })) if (st.index === 11) out = Array.from(st.prevSample.dataSync());
      expect(tf.memory().numTensors).toBe(before);
      for (const st of denoise({ sampler: s, model, shape: [3, 2, 4], rng: new Rng(9) })) if (st.index === 4) break;
      s.reset();
      expect(tf.memory().numTensors).toBe(before);
      return out;
    };
    for (const o of [
      { solverOrder: 1 },
      { solverOrder: 3 },
      { predictX0: false, finalSigmasType: 'sigma_min', solverType: 'bh1' },
      { thresholding: true, sampleMaxValue: 1.5, dynamicThresholdingRatio: 0.9, disableCorrector: [2] },
    ] as UniPCOptions[]) {
      const a = run(o);
      expect(a.every(Number.isFinite)).toBe(true);
      expect(run(o)).toEqual(a);
    }
  });
});

describe('UniPCSampler diffusers config', () => {
  const KEYS = [
    '_class_name',
    'num_train_timesteps',
    'beta_start',
    'beta_end',
    'beta_schedule',
    'trained_betas',
    'rescale_betas_zero_snr',
    'solver_order',
    'prediction_type',
    'thresholding',
    'dynamic_thresholding_ratio',
    'sample_max_value',
    'predict_x0',
    'solver_type',
    'lower_order_final',
    'disable_corrector',
    'solver_p',
    'use_karras_sigmas',
    'use_exponential_sigmas',
    'use_beta_sigmas',
    'use_flow_sigmas',
    'flow_shift',
    'timestep_spacing',
    'steps_offset',
    'final_sigmas_type',
    'use_dynamic_shifting',
    'time_shift_type',
  ];

  it('writes every UniPCMultistepScheduler key (diffusers main) and reads it back (round trip)', () => {
    const s = new UniPCSampler(lin, {
      numInferenceSteps: 12,
      solverOrder: 3,
      solverType: 'bh1',
      predictX0: false,
      lowerOrderFinal: false,
      disableCorrector: [1, 4],
      useKarrasSigmas: true,
      finalSigmasType: 'sigma_min',
      timestepSpacing: 'trailing',
      predictionType: 'v_prediction',
    });
    const cfg = s.toDiffusersConfig();
    expect(Object.keys(cfg).sort()).toEqual([...KEYS].sort());
    expect(cfg).toMatchObject({ _class_name: 'UniPCMultistepScheduler', solver_type: 'bh1', predict_x0: false, disable_corrector: [1, 4], solver_p: null, flow_shift: 1 });
    const back = UniPCSampler.fromDiffusersConfig(JSON.parse(JSON.stringify(cfg)), scheduleFromDiffusersConfig, { numInferenceSteps: 12 });
    expect(back.toDiffusersConfig()).toEqual(cfg);
    expect([back.timesteps, Array.from(back.sigmas), back.unknownDiffusersKeys]).toEqual([s.timesteps, Array.from(s.sigmas), []]);
  });

  it("diffusers' defaults; solver_type aliases (a DPM-Solver config switched over); unknown keys kept and written back", () => {
    const json = { _class_name: 'UniPCMultistepScheduler', _diffusers_version: '0.30.0', algorithm_type: 'dpmsolver++', solver_type: 'midpoint', euler_at_final: false };
    const s = UniPCSampler.fromDiffusersConfig(json, scheduleFromDiffusersConfig);
    expect([s.solverOrder, s.solverType, s.predictX0, s.lowerOrderFinal, s.finalSigmasType, s.timestepSpacing, s.disableCorrector]).toEqual([
      2,
      'bh2',
      true,
      true,
      'zero',
      'linspace',
      [],
    ]);
    expect(s.unknownDiffusersKeys).toEqual(['_diffusers_version', 'algorithm_type', 'euler_at_final']);
    const out = s.toDiffusersConfig();
    expect(out).toMatchObject({ _diffusers_version: '0.30.0', algorithm_type: 'dpmsolver++', euler_at_final: false, solver_type: 'bh2' });
    expect(UniPCSampler.fromDiffusersConfig(out, scheduleFromDiffusersConfig).toDiffusersConfig()).toEqual(out);
  });

  it('rejects bad options and the combinations on which diffusers itself breaks, with one-line errors', () => {
    const bad = (json: Record<string, unknown>) => () => UniPCSampler.fromDiffusersConfig({ _class_name: 'UniPCMultistepScheduler', ...json }, scheduleFromDiffusersConfig);
    const cases: [() => unknown, string | RegExp][] = [
      [bad({ solver_type: 'bh1' }), "finalSigmasType: 'zero' with solverType 'bh1' makes diffusers' last step NaN (B(h) = h is infinite); use 'sigma_min' or 'bh2'"],
      [bad({ predict_x0: false }), "finalSigmasType: 'zero' with predictX0 false makes diffusers' last step NaN (sigma_t (e^h - 1) = 0 x inf); use 'sigma_min'"],
      [bad({ lower_order_final: false }), /^lowerOrderFinal: false with finalSigmasType 'zero' and solverOrder > 1 breaks diffusers' last step/],
      [bad({ solver_order: 4 }), 'scheduler_config.solver_order: must be 1, 2 or 3, got 4'],
      [bad({ solver_type: 'rk4' }), 'scheduler_config.solver_type: unsupported value "rk4"; supported: bh1, bh2, midpoint, heun, logrho'],
      [bad({ solver_p: { _class_name: 'DDIMScheduler' } }), 'scheduler_config.solver_p: unsupported value {"_class_name":"DDIMScheduler"}; supported: null'],
      [bad({ disable_corrector: [1, -2] }), 'scheduler_config.disable_corrector: must be a list of step indices (integers >= 0), got [1,-2]'],
      [bad({ use_flow_sigmas: true }), 'scheduler_config.use_flow_sigmas: is not supported; set it to false (got true)'],
      [bad({ prediction_type: 'flow_prediction' }), 'scheduler_config.prediction_type: unsupported value "flow_prediction"; supported: epsilon, v_prediction, sample'],
      [() => new UniPCSampler(lin, { solverOrder: 0 }), 'solverOrder: must be 1, 2 or 3, got 0'],
      [() => new UniPCSampler(lin, { disableCorrector: [0.5] }), 'disableCorrector: must be a list of step indices (integers >= 0), got [0.5]'],
      [() => new UniPCSampler(lin, { numInferenceSteps: 0 }), 'numInferenceSteps: must be an integer in [1, 1000] (the number of training timesteps), got 0'],
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

describe("plugin 'unipc'", () => {
  it("fills diffusers' defaults (min(20, T) steps, order 2, bh2, x_0) and passes options through", () => {
    const root = createRootContainer();
    registryOf(root).add(unipcPlugin);
    const c = root.createChildContainer();
    provide(c, TOKENS.Schedule, linearSchedule(50, 1e-4, 0.2));
    const reg = registryOf(c);
    const s = reg.create<UniPCSampler>('sampler', 'unipc', c);
    expect([s.id, s.numInferenceSteps, s.solverOrder, s.solverType, s.predictX0, s.finalSigmasType, s.timestepSpacing]).toEqual(['unipc', 20, 2, 'bh2', true, 'zero', 'linspace']);
    const o = reg.create<UniPCSampler>('sampler', { id: 'unipc', options: { numInferenceSteps: 9, solverOrder: 3, solverType: 'bh1', finalSigmasType: 'sigma_min', disableCorrector: [0] } }, c);
    expect([o.numInferenceSteps, o.solverOrder, o.solverType, o.disableCorrector]).toEqual([9, 3, 'bh1', [0]]);
    expect(() => reg.create('sampler', { id: 'unipc', options: { solverType: 'bh1' } }, c)).toThrow(/^finalSigmasType: 'zero' with solverType 'bh1'/);
  });
});

describe('quality: exact Gaussian denoiser (see dpm-solver-multistep.test.ts)', () => {
  it('UniPC (bh2, order 2) with 10 steps lands over 10x closer to the true mean and std than DDIM', () => {
    const MU = 1;
    const S = 2;
    const eps = (x: tf.Tensor, t: number) =>
      tf.tidy(() => {
        const abar = lin.alphasCumprod[t];
        return tf.mul(tf.sub(x, Math.sqrt(abar) * MU), Math.sqrt(1 - abar) / (abar * S * S + 1 - abar));
      });
    const model = { predictAt: eps, predict: (x: tf.Tensor, t: tf.Tensor) => eps(x, t.dataSync()[0]) };
    const errors = (sampler: UniPCSampler | DDIMSampler) => {
      const xT = tf.tidy(() => tf.randomNormal([4096, 1], 0, 1, 'float32', 17));
      let got = [0, 0];
      for (const st of denoise({ sampler, model, xT, numSteps: 10, rng: new Rng(0) })) {
        if (st.index === 9) {
          const m = tf.moments(st.prevSample);
          got = [m.mean.dataSync()[0], Math.sqrt(m.variance.dataSync()[0])];
          tf.dispose([m.mean, m.variance]);
        }
      }
      const m = tf.moments(xT);
      const [xm, xs] = [m.mean.dataSync()[0], Math.sqrt(m.variance.dataSync()[0])];
      tf.dispose([xT, m.mean, m.variance]);
      const aT = Math.sqrt(lin.alphasCumprod[999]);
      const r = Math.sqrt(aT * aT * S * S + 1 - aT * aT);
      return [Math.abs(got[0] - (MU + (S * (xm - aT * MU)) / r)), Math.abs(got[1] - (S * xs) / r)];
    };
    const u = errors(new UniPCSampler(lin));
    const d = errors(new DDIMSampler(lin, { clipSample: false, timestepSpacing: 'trailing' }));
    console.log(`10 steps: |mean error| UniPC ${u[0].toExponential(2)} DDIM ${d[0].toExponential(2)}; |std error| ${u[1].toExponential(2)} vs ${d[1].toExponential(2)}`);
    expect(u[0] * 10).toBeLessThan(d[0]);
    expect(u[1] * 10).toBeLessThan(d[1]);
  });
});
