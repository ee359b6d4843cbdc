/**
 * Cross-check of the sigma samplers (Euler, Euler ancestral, Heun, LMS) against an independent
 * PyTorch re-implementation of diffusers' schedulers in float32 (tools/reference/sigma_samplers_reference.py;
 * regenerate with `/usr/bin/python3 tools/reference/sigma_samplers_reference.py`). Three parts:
 *
 * - tables: `set_timesteps` for every class, spacing, Karras on/off and several (T, n), plus the state
 *   after `__init__`: timesteps, sigmas, init_noise_sigma;
 * - loops: full sampling loops in pipeline order (the model sees scale_model_input(x), `step` gets x)
 *   with diffusers' test model x * t / (t + 1) from a fixed x_T, the reference's per-step noise fed
 *   through StepOptions.noise (ancestral, churn), LMS's integrated coefficients step by step;
 * - parity: diffusers' own published full-loop numbers (tests/schedulers/test_scheduler_*.py), which the
 *   reference reproduces (it refuses to write the fixture otherwise): the same loops here, quirk
 *   included (diffusers' tests hand the *scaled* sample to `step`).
 *
 * Samplers are built from the case's diffusers `scheduler_config.json` with each class's public
 * `fromDiffusersConfig` + `scheduleFromDiffusersConfig`, twice: from the config as is (difflab's own
 * beta tables) and with torch's own float32 betas passed as `trained_betas` ("torch tables").
 *
 * What was measured (and is asserted below):
 * - On torch's tables every table, model input, x_0 estimate, sample and LMS coefficient is bit-for-bit
 *   diffusers', except where numpy's SIMD float32 `np.log` enters (Karras timesteps through
 *   `_sigma_to_t`, log-linear sigmas): numpy's log is up to ~2 ulp from the correctly rounded one, which
 *   moves Karras timesteps by <= 6.1e-5 (a few float32 ulps) and log-linear sigmas by 1 ulp; the loops
 *   then stay within 5e-7 (relative to max(1, |x|)).
 * - On difflab's own tables, whose linspace-based betas differ from torch's vectorised linspace by 1-3
 *   ulps in a few entries (tools/reference/README.md), sigmas are within 4 ulps and loops within 3.8e-6
 *   (the worst entry is x_0 at sigma ~ 15-160, where x - sigma eps cancels), 2.7e-6 beyond the
 *   reference's own float32-vs-float64 gap; LMS coefficients within 2e-6 relative.
 */
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { scheduleFromDiffusersConfig } from '@difflab/schedulers';
import { describe, expect, it } from 'vitest';
import { EulerSampler } from './euler.js';
import { EulerAncestralSampler } from './euler-ancestral.js';
import { HeunSampler } from './heun.js';
import { LMSSampler } from './lms.js';
import type { SigmaSampler } from './sigma-sampler.js';

const f = Math.fround;

type Config = { _class_name: string; [k: string]: unknown };
interface TableCase {
  name: string;
  config: Config;
  num_inference_steps: number | null;
  timesteps: number[];
  sigmas: number[];
  init_noise_sigma: number;
}
interface LoopStep {
  index: number;
  t: number;
  model_input: number[];
  prev_sample: number[];
  pred_original_sample: number[];
  prev_sample_float64: number[];
  pred_original_sample_float64: number[];
}
interface LoopCase {
  name: string;
  config: Config;
  num_inference_steps: number;
  step_options: { s_churn?: number; s_tmin?: number; s_tmax?: number; s_noise?: number; order?: number };
  timesteps: number[];
  sigmas: number[];
  init_noise_sigma: number;
  noise_set: string | null;
  noise_used: boolean[];
  lms_coefficients: number[][] | null;
  steps: LoopStep[];
  final: number[];
  final_float64: number[];
}
interface ParityCase {
  name: string;
  config: Config;
  num_inference_steps: number;
  with_noise: boolean;
  sum: number;
  mean: number;
  published_sum: number;
  published_sum_tolerance: number;
  published_mean: number;
  published_mean_tolerance: number;
  final: number[];
}
const fixture = JSON.parse(readFileSync(new URL('./__fixtures__/sigma-loops.json', import.meta.url), 'utf8')) as {
  lms_quadrature: string;
  lms_quad_neval_max: number;
  x_unit: number[];
  shape: number[];
  noise_sets: Record<string, number[][]>;
  tables: TableCase[];
  loops: LoopCase[];
  torch_betas: Record<string, number[]>;
  parity_shape: number[];
  parity_ancestral_noise: number[][];
  parity: ParityCase[];
};

/**
 * The case's config, or (torchTables) the same config with torch's own float32 betas as `trained_betas`:
 * torch.linspace's vectorised kernel rounds a few betas 1 ulp away from the scalar formula difflab uses
 * (tools/reference/README.md), so on torch's tables only the sampler arithmetic is compared.
 */
function configFor(config: Config, torchTables: boolean): Config {
  if (!torchTables) return config;
  const key = `${config.beta_schedule}-${config.num_train_timesteps}-${config.beta_start}-${config.beta_end}`;
  const betas = fixture.torch_betas[key];
  if (!betas) throw new Error(`no torch betas for ${key}`);
  return { ...config, trained_betas: betas };
}

function build(config: Config, extra: LoopCase['step_options'] & { numInferenceSteps?: number | null } = {}, torchTables = false): SigmaSampler {
  const json = configFor(config, torchTables);
  const base = { numInferenceSteps: extra.numInferenceSteps ?? null };
  switch (config._class_name) {
    case 'EulerDiscreteScheduler':
      return EulerSampler.fromDiffusersConfig(json, scheduleFromDiffusersConfig, {
        ...base,
        ...(extra.s_churn !== undefined ? { sChurn: extra.s_churn, sTmin: extra.s_tmin, sTmax: extra.s_tmax, sNoise: extra.s_noise } : {}),
      });
    case 'EulerAncestralDiscreteScheduler':
      return EulerAncestralSampler.fromDiffusersConfig(json, scheduleFromDiffusersConfig, base);
    case 'HeunDiscreteScheduler':
      return HeunSampler.fromDiffusersConfig(json, scheduleFromDiffusersConfig, base);
    case 'LMSDiscreteScheduler':
      return LMSSampler.fromDiffusersConfig(json, scheduleFromDiffusersConfig, { ...base, ...(extra.order !== undefined ? { lmsOrder: extra.order } : {}) });
    default:
      throw new Error(`unknown class ${config._class_name}`);
  }
}

/** Distance in float32 ulps between two float32 values (0 when equal). */
function ulps(a: number, b: number): number {
  if (a === b) return 0;
  const buf = new DataView(new ArrayBuffer(8));
  buf.setFloat32(0, a);
  buf.setFloat32(4, b);
  const ia = buf.getInt32(0);
  const ib = buf.getInt32(4);
  const oa = ia < 0 ? -2147483648 - ia : ia;
  const ob = ib < 0 ? -2147483648 - ib : ib;
  return Math.abs(oa - ob);
}

interface Diff {
  /** worst float32 ulp distance */
  ulp: number;
  /** worst |got - want| / max(1, |want|) */
  rel: number;
  /** worst (|got - want| - 2 |want - want64|) / max(1, |want|): error beyond the reference's own float32 noise */
  excess: number;
  /** entries that differ at all */
  differing: number;
}

function diff(got: ArrayLike<number>, want: number[], want64?: number[]): Diff {
  expect(got.length).toBe(want.length);
  const d: Diff = { ulp: 0, rel: 0, excess: 0, differing: 0 };
  for (let i = 0; i < want.length; i++) {
    const w = f(want[i]);
    const g = got[i];
    if (!Number.isFinite(g) && !(Number.isNaN(g) && Number.isNaN(w))) return { ulp: Number.POSITIVE_INFINITY, rel: Number.POSITIVE_INFINITY, excess: Number.POSITIVE_INFINITY, differing: want.length };
    const e = Math.abs(g - w);
    const scale = Math.max(1, Math.abs(w));
    if (e > 0) d.differing++;
    d.ulp = Math.max(d.ulp, ulps(g, w));
    d.rel = Math.max(d.rel, e / scale);
    d.excess = Math.max(d.excess, (e - (want64 ? 2 * Math.abs(w - want64[i]) : 0)) / scale);
  }
  return d;
}

function worst(a: Diff, b: Diff): Diff {
  return { ulp: Math.max(a.ulp, b.ulp), rel: Math.max(a.rel, b.rel), excess: Math.max(a.excess, b.excess), differing: a.differing + b.differing };
}

const ZERO: Diff = { ulp: 0, rel: 0, excess: 0, differing: 0 };

/**
 * Tables: Karras timesteps within 2e-4 (measured 6.1e-5: numpy's float32 log), sigmas within 2 ulps on
 * torch's tables (measured 1, log-linear) and 8 on difflab's own (measured 4, from 1-3 ulp betas).
 */
const TABLE_TOL = { timestep: 2e-4, sigmaUlpTorch: 2, sigmaUlpOwn: 8 };

/**
 * Loop tolerances, per entry, relative to max(1, |diffusers' value|):
 * - torchNumpyLog 1e-6 (measured 4.8e-7): Karras / log-linear loops on torch's tables, where only the
 *   timesteps (hence the model's t) and log-linear sigmas differ in the last bits (numpy's float32 log).
 * - ownRel 1e-5 (measured 3.8e-6) and ownExcess 5e-6 (the same less twice the reference's own
 *   float32-vs-float64 gap; measured 2.7e-6): difflab's own tables, sigmas a few ulps from torch's.
 * - ownCoeff 1e-5 relative (measured 2e-6) for LMS coefficients from those sigmas. On torch's tables the
 *   coefficients equal scipy.integrate.quad's bit for bit (asserted above).
 */
const LOOP_TOL = { torchNumpyLog: 1e-6, ownRel: 1e-5, ownExcess: 5e-6, ownCoeff: 1e-5 };

/** diffusers' dummy model in float32: sample * t / (t + 1), t the float32 timestep. */
function dummyModel(x: tf.Tensor, t: number): tf.Tensor {
  return tf.tidy(() => tf.div(tf.mul(x, f(t)), f(f(t) + 1)));
}

/** Cases whose tables depend on numpy's SIMD float32 log (Karras timesteps via _sigma_to_t, log_linear sigmas). */
function usesNumpyLog(c: { config: Config }): boolean {
  return c.config.use_karras_sigmas === true || c.config.interpolation_type === 'log_linear';
}

/** Largest |difflab - diffusers| over the timesteps. */
function timestepError(got: readonly number[], want: number[]): number {
  return Math.max(0, ...want.map((t, i) => Math.abs(got[i] - f(t))));
}

describe('sigma sampler tables vs diffusers set_timesteps (torch / numpy)', () => {
  it('covers every class, spacing, Karras on/off and the state after __init__', () => {
    const names = fixture.tables.map((c) => c.name);
    for (const cls of ['EulerDiscreteScheduler', 'EulerAncestralDiscreteScheduler', 'HeunDiscreteScheduler', 'LMSDiscreteScheduler']) {
      expect(names.filter((n) => n.startsWith(`${cls}-`)).length).toBeGreaterThanOrEqual(25);
      expect(names).toContain(`${cls}-spiral50-init`);
    }
  });

  for (const c of fixture.tables) {
    it(`${c.name}`, () => {
      for (const torchTables of [true, false]) {
        const s = build(c.config, { numInferenceSteps: c.num_inference_steps }, torchTables);
        expect(s.timesteps.length).toBe(c.timesteps.length);
        const sig = diff(s.sigmas, c.sigmas);
        const init = diff([s.initNoiseSigma], [c.init_noise_sigma]);
        if (torchTables && !usesNumpyLog(c)) {
          // np.linspace, np.interp, the float32 casts and Heun's interleaving reproduced exactly
          expect([...s.timesteps]).toEqual(c.timesteps.map(f));
          expect(sig.differing + init.differing).toBe(0);
        } else {
          expect(timestepError(s.timesteps, c.timesteps)).toBeLessThanOrEqual(TABLE_TOL.timestep);
          expect(sig.ulp).toBeLessThanOrEqual(torchTables ? TABLE_TOL.sigmaUlpTorch : TABLE_TOL.sigmaUlpOwn);
          expect(init.ulp).toBeLessThanOrEqual(torchTables ? TABLE_TOL.sigmaUlpTorch : TABLE_TOL.sigmaUlpOwn);
        }
      }
    });
  }
});

interface LoopErrors {
  prev: Diff;
  x0: Diff;
  input: Diff;
  coeffMaxRel: number;
}

function runLoop(c: LoopCase, torchTables: boolean): LoopErrors {
  const s = build(c.config, { ...c.step_options, numInferenceSteps: c.num_inference_steps }, torchTables);
  expect(s.timesteps.length).toBe(c.timesteps.length);
  const noises = c.noise_set ? fixture.noise_sets[c.noise_set] : null;
  const recorded = new Map(c.steps.map((r) => [r.index, r]));
  const before = tf.memory().numTensors;
  const xUnit = tf.tensor(fixture.x_unit, fixture.shape);
  let x: tf.Tensor = tf.mul(xUnit, s.initNoiseSigma);
  xUnit.dispose();
  const e: LoopErrors = { prev: ZERO, x0: ZERO, input: ZERO, coeffMaxRel: 0 };
  s.timesteps.forEach((t, i) => {
    if (c.lms_coefficients) {
      const want = c.lms_coefficients[i];
      want.forEach((w, co) => {
        const got = (s as LMSSampler).lmsCoefficient(want.length, i, co);
        e.coeffMaxRel = Math.max(e.coeffMaxRel, Math.abs(got - w) / Math.max(Math.abs(w), 1e-30));
      });
    }
    const input = s.scaleModelInput(x, t);
    const out = dummyModel(input, t);
    const noise = noises ? tf.tensor(noises[i], fixture.shape) : undefined;
    const r = s.step(out, t, x, noise ? { noise } : undefined);
    const rec = recorded.get(i);
    if (rec) {
      expect(Math.abs(f(rec.t) - t)).toBeLessThanOrEqual(2e-3);
      e.input = worst(e.input, diff(input.dataSync(), rec.model_input));
      e.prev = worst(e.prev, diff(r.prevSample.dataSync(), rec.prev_sample, rec.prev_sample_float64));
      e.x0 = worst(e.x0, diff(r.predOriginalSample.dataSync(), rec.pred_original_sample, rec.pred_original_sample_float64));
    }
    tf.dispose([input, out, x, r.predOriginalSample, ...(noise ? [noise] : [])]);
    x = r.prevSample;
  });
  e.prev = worst(e.prev, diff(x.dataSync(), c.final, c.final_float64));
  x.dispose();
  expect(tf.memory().numTensors).toBe(before);
  return e;
}

describe('sigma sampler loops vs diffusers (torch float32)', () => {
  it('covers the four classes: spacings, Karras, epsilon / v_prediction / sample, 10 and 25 steps, ancestral noise, churn, LMS orders', () => {
    const names = fixture.loops.map((c) => c.name);
    for (const p of ['euler-', 'ancestral-', 'heun-', 'lms-']) {
      for (const n of ['-10-', '-25-']) expect(names.filter((x) => x.startsWith(p) && x.includes(n)).length).toBeGreaterThanOrEqual(2);
      expect(names.filter((x) => x.startsWith(p) && x.includes('-v'))).not.toHaveLength(0);
    }
    expect(fixture.loops.filter((c) => c.noise_set !== null).map((c) => c.name)).toContain('euler-linear1000-10-churn');
    expect(fixture.loops.find((c) => c.name === 'euler-linear1000-10-churn')!.noise_used.filter(Boolean).length).toBeGreaterThan(0);
    // every LMS coefficient of the reference came from QUADPACK's first 21-point estimate (scipy's neval = 21)
    expect(fixture.lms_quadrature).toMatch(/scipy\.integrate\.quad/);
    expect(fixture.lms_quad_neval_max).toBe(21);
  });

  for (const c of fixture.loops) {
    it(`${c.name}: on torch's tables ${usesNumpyLog(c) ? `within ${LOOP_TOL.torchNumpyLog}` : 'bit-exact'}; on difflab's within ${LOOP_TOL.ownRel}`, () => {
      const t = runLoop(c, true);
      if (usesNumpyLog(c)) {
        for (const d of [t.input, t.prev, t.x0]) expect(d.rel).toBeLessThanOrEqual(LOOP_TOL.torchNumpyLog);
      } else {
        expect([t.input.differing, t.prev.differing, t.x0.differing]).toEqual([0, 0, 0]);
      }
      if (c.lms_coefficients) expect(t.coeffMaxRel).toBe(0);
      const o = runLoop(c, false);
      for (const d of [o.input, o.prev, o.x0]) {
        expect(d.rel).toBeLessThanOrEqual(LOOP_TOL.ownRel);
        expect(d.excess).toBeLessThanOrEqual(LOOP_TOL.ownExcess);
      }
      if (c.lms_coefficients) expect(o.coeffMaxRel).toBeLessThanOrEqual(LOOP_TOL.ownCoeff);
    });
  }
});

describe("diffusers' published scheduler test numbers (tests/schedulers/test_scheduler_*.py)", () => {
  function deterSample(flip: boolean): tf.Tensor {
    // torch.arange(768)[.flip(-1)].reshape(3, 8, 8, 4) / 768, permuted to [4, 3, 8, 8]
    const n = 4 * 3 * 8 * 8;
    return tf.tidy(() => {
      let a = tf.range(0, n, 1, 'float32');
      if (flip) a = tf.reverse(a);
      return tf.transpose(tf.div(tf.reshape(a, [3, 8, 8, 4]), n), [3, 0, 1, 2]);
    });
  }

  for (const c of fixture.parity) {
    it(`${c.name}: sum ${c.published_sum} / mean ${c.published_mean} as diffusers' test asserts, final sample as the reference`, () => {
      const before = tf.memory().numTensors;
      const s = build(c.config, { numInferenceSteps: c.num_inference_steps });
      const unit = deterSample(false);
      let x: tf.Tensor = tf.mul(unit, s.initNoiseSigma);
      unit.dispose();
      let timesteps = [...s.timesteps];
      if (c.with_noise) {
        // t_start = n - 2; timesteps = scheduler.timesteps[t_start * scheduler.order:]; add_noise at timesteps[0]
        timesteps = timesteps.slice((c.num_inference_steps - 2) * s.order);
        const noise = deterSample(true);
        const noisy = s.addNoise(x, noise, timesteps[0]);
        tf.dispose([x, noise]);
        x = noisy;
      }
      timesteps.forEach((t, i) => {
        // diffusers' test loop: sample = scale_model_input(sample, t); out = model(sample, t); sample = step(out, t, sample)
        const scaled = s.scaleModelInput(x, t);
        x.dispose();
        const out = dummyModel(scaled, t);
        const noise = c.name.startsWith('ancestral') ? tf.tensor(fixture.parity_ancestral_noise[i], fixture.parity_shape) : undefined;
        const r = s.step(out, t, scaled, noise ? { noise } : undefined);
        tf.dispose([scaled, out, r.predOriginalSample, ...(noise ? [noise] : [])]);
        x = r.prevSample;
      });
      const vals = x.dataSync();
      let sum = 0;
      for (const v of vals) sum += Math.abs(v);
      const mean = sum / vals.length;
      expect(Math.abs(sum - c.published_sum)).toBeLessThan(c.published_sum_tolerance);
      expect(Math.abs(mean - c.published_mean)).toBeLessThan(c.published_mean_tolerance);
      // and the whole final sample against the reference (torch sums in another order: compare the sum loosely)
      const d = diff(vals, c.final);
      expect(d.rel).toBeLessThanOrEqual(LOOP_TOL.ownRel);
      expect(Math.abs(sum - c.sum)).toBeLessThanOrEqual(1e-5 * Math.max(1, c.sum));
      x.dispose();
      expect(tf.memory().numTensors).toBe(before);
    });
  }
});
