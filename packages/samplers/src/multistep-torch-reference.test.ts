/**
 * Cross-check of full DPM-Solver / PNDM / UniPC sampling loops against an independent PyTorch float32
 * re-implementation of diffusers' DPMSolverMultistepScheduler, PNDMScheduler and UniPCMultistepScheduler
 * (tools/reference/multistep_reference.py; regenerate with `/usr/bin/python3 tools/reference/multistep_reference.py`).
 *
 * Each loop starts from a fixed x_T ('small': [4, 2, 4] N(0, 1) draws; 'deter': diffusers' dummy_sample_deter
 * [4, 3, 8, 8]) and uses diffusers' test model `model(x, t) = x * t / (t + 1)` in float32 (negated in the
 * `neg` cases, so that thresholding clips). Samplers are built from the case's diffusers `scheduler_config.json`
 * with the public `fromDiffusersConfig` + `scheduleFromDiffusersConfig`. The reference first reproduces
 * diffusers' own published full-loop numbers (test_scheduler_dpm_multi.py, test_scheduler_pndm.py, ...).
 */
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import type { NoiseSchedule } from '@difflab/core';
import { explicitSchedule, scheduleFromDiffusersConfig } from '@difflab/schedulers';
import { describe, expect, it } from 'vitest';
import { DPMSolverMultistepSampler } from './dpm-solver-multistep.js';
import { PNDMSampler } from './pndm.js';
import { UniPCSampler } from './unipc.js';

interface RecordedStep {
  index: number;
  t: number;
  prev_sample: number[];
  pred_original_sample: number[];
  prev_sample_gap: number[];
  pred_original_sample_gap: number[];
}
interface LoopCase {
  name: string;
  config: { _class_name: string; [k: string]: unknown };
  schedule: string;
  table_sensitivity: number;
  num_inference_steps: number;
  x_T: string;
  negate_model: boolean;
  timesteps: number[];
  sigmas: number[] | null;
  /** the loop starts at this index of `timesteps`, from add_noise(x_T, noise_deter, timesteps[start]) (diffusers' test_full_loop_with_noise) */
  start_index: number;
  orders: (number | null)[] | null;
  correctors: boolean[] | null;
  steps: RecordedStep[];
  final: number[];
  final_gap: number[];
  published?: { mean: number; sum?: number; got_mean: number };
}
const fixture = JSON.parse(readFileSync(new URL('./__fixtures__/multistep-loops.json', import.meta.url), 'utf8')) as {
  torch: string;
  x_T: Record<string, { shape: number[]; values: number[] }>;
  schedules: Record<string, { config: { beta_schedule: string }; rescale_betas_zero_snr: boolean; betas: number[] }>;
  loops: LoopCase[];
  add_noise: { config: Record<string, unknown>; num_inference_steps: number; noise: number[]; cases: { t: number; noisy: number[] }[] };
};

/**
 * Two comparisons per loop.
 *
 * 1. On torch's own tables (the fixture's float32 betas, through `explicitSchedule`; cosine tables are already
 *    bit-exact): this isolates the sampler. Tolerance per entry |got - want| <= ATOL max(1, |want|) + 2 gap,
 *    where want is the torch float32 value and gap = |want - want64| its distance to the same recursion in
 *    float64 on the same tables and sigmas, i.e. the float32 rounding noise of the reference itself. Every
 *    scalar coefficient here is rounded to float32 as torch rounds it on 0-d tensors, so most entries agree to
 *    the bit (the summary counts them); the rest differ by an ulp where a libm exp / log or numpy's float32 log
 *    rounds differently, which the recursion carries on and amplifies where a step is ill-conditioned (x_0 at
 *    high noise: x - sigma eps cancels ~150x with this model). ATOL = 2e-6 is ~16 float32 ulps at 1.
 * 2. Through the public path (`scheduleFromDiffusersConfig`): difflab's linspace-based tables are torch's up
 *    to an ulp per beta (torch's vectorised linspace; tools/reference/README.md), which moves whole loops.
 *    The reference measures that by rerunning each loop on difflab's tables (`table_sensitivity`, the worst
 *    scaled change); the allowance is ATOL + 2 table_sensitivity (up to 3e-5 for PNDM with beta_start 0.01,
 *    where 279 of the 1000 betas differ by an ulp).
 */
const ATOL = 2e-6;
/** Relative tolerance of the inference sigmas against torch's on difflab's own tables (a few ulps, as above). */
const SIGMA_RTOL = 1e-6;

/** The case's schedule built from torch's own float32 betas (cosine: difflab's, which are bit-exact). */
function torchTables(c: LoopCase): NoiseSchedule | null {
  const sch = fixture.schedules[c.schedule];
  if (sch.config.beta_schedule === 'squaredcos_cap_v2') return null;
  return explicitSchedule(sch.betas, sch.rescale_betas_zero_snr);
}

type Sampler = DPMSolverMultistepSampler | PNDMSampler | UniPCSampler;

function buildSampler(c: LoopCase, schedule: NoiseSchedule | null): Sampler {
  const extra = { numInferenceSteps: c.num_inference_steps };
  const sch = schedule ?? scheduleFromDiffusersConfig;
  switch (c.config._class_name) {
    case 'DPMSolverMultistepScheduler':
      return DPMSolverMultistepSampler.fromDiffusersConfig(c.config, sch, extra);
    case 'PNDMScheduler':
      return PNDMSampler.fromDiffusersConfig(c.config, sch, extra);
    case 'UniPCMultistepScheduler':
      return UniPCSampler.fromDiffusersConfig(c.config, sch, extra);
    default:
      throw new Error(`no sampler for ${c.config._class_name}`);
  }
}

interface Errors {
  /** worst (|got - want| - 2 gap) / max(1, |want|) over the compared entries */
  excess: number;
  /** worst |got - want| / max(1, |want|) */
  plain: number;
  /** entries compared, and how many were bit-identical to torch float32 */
  entries: number;
  exact: number;
}

function compare(e: Errors, got: ArrayLike<number>, want: number[], gap: number[]): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const w = Math.fround(want[i]);
    const g = got[i];
    if (!Number.isFinite(g)) {
      e.excess = Number.POSITIVE_INFINITY;
      continue;
    }
    const scale = Math.max(1, Math.abs(w));
    const d = Math.abs(g - w);
    e.plain = Math.max(e.plain, d / scale);
    e.excess = Math.max(e.excess, (d - 2 * gap[i]) / scale);
    e.entries++;
    if (g === w) e.exact++;
  }
}

/** Run the loop through the public API; compare timesteps, sigmas, recorded steps and the final sample. */
function runCase(c: LoopCase, schedule: NoiseSchedule | null): Errors {
  const sampler = buildSampler(c, schedule);
  expect([...sampler.timesteps]).toEqual(c.timesteps);
  if (c.sigmas && !(sampler instanceof PNDMSampler)) {
    const got = Array.from(sampler.sigmas);
    expect(got.length).toBe(c.sigmas.length);
    if (schedule) expect(got).toEqual(c.sigmas.map(Math.fround));
    else {
      got.forEach((g, i) => {
        expect(Math.abs(g - c.sigmas![i])).toBeLessThanOrEqual(SIGMA_RTOL * c.sigmas![i]);
      });
    }
  }
  const xT = fixture.x_T[c.x_T];
  const recorded = new Map(c.steps.map((s) => [s.index, s]));
  const e: Errors = { excess: 0, plain: 0, entries: 0, exact: 0 };
  const before = tf.memory().numTensors;
  let x: tf.Tensor = tf.tensor(xT.values, xT.shape);
  if (c.start_index > 0) {
    const x0 = x;
    const noise = tf.tensor(fixture.x_T.noise_deter.values, fixture.x_T.noise_deter.shape);
    x = (sampler as DPMSolverMultistepSampler | UniPCSampler).addNoise(x0, noise, c.timesteps[c.start_index]);
    tf.dispose([x0, noise]);
  }
  c.timesteps.slice(c.start_index).forEach((t, i) => {
    // diffusers' dummy_model in float32: sample * t / (t + 1)
    const out = tf.tidy(() => {
      const y = tf.div(tf.mul(x, t), t + 1);
      return c.negate_model ? tf.neg(y) : y;
    });
    const r = sampler.step(out, t, sampler.scaleModelInput(x, t));
    if (c.orders && !(sampler instanceof PNDMSampler)) expect(sampler.lastOrder).toBe(c.orders[i]);
    if (c.correctors && sampler instanceof UniPCSampler) expect(sampler.lastCorrected).toBe(c.correctors[i]);
    const rec = recorded.get(i);
    if (rec) {
      expect(rec.t).toBe(t);
      compare(e, r.prevSample.dataSync(), rec.prev_sample, rec.prev_sample_gap);
      compare(e, r.predOriginalSample.dataSync(), rec.pred_original_sample, rec.pred_original_sample_gap);
    }
    tf.dispose([out, x, r.predOriginalSample]);
    x = r.prevSample;
  });
  compare(e, x.dataSync(), c.final, c.final_gap);
  if (c.published) {
    const got = tf.tidy(() => tf.mean(tf.abs(x)).dataSync()[0]);
    // diffusers' own test asserts |mean - published| < 1e-3
    expect(Math.abs(got - c.published.mean)).toBeLessThan(1e-3);
  }
  x.dispose();
  expect(tf.memory().numTensors).toBe(before);
  return e;
}

describe('multistep loops vs diffusers (torch float32)', () => {
  it('covers orders 1-3, both algorithms and solver types, Karras / Lu, thresholding, epsilon / v / sample, 10 and 25 steps, PNDM with and without PRK, UniPC bh1 / bh2', () => {
    const names = fixture.loops.map((c) => c.name);
    for (const p of [
      'dpm-pp-o1-',
      'dpm-pp-o2-',
      'dpm-pp-o3-',
      'dpm-dpmsolver-o1-',
      'dpm-dpmsolver-o2-',
      'dpm-dpmsolver-o3-',
      'pndm-prk-',
      'pndm-plms-',
      'unipc-bh1-o',
      'unipc-bh2-o',
      'unipc-noisepred-',
    ]) {
      expect(names.filter((n) => n.startsWith(p)).length).toBeGreaterThanOrEqual(2);
    }
    for (const s of ['-heun-', '-karras-', '-lu-', '-thres-', '-v-', '-sample-', '-10', '-25']) expect(names.some((n) => n.includes(s))).toBe(true);
    // the loops really reach order 3, and the published diffusers numbers are among the cases
    expect(fixture.loops.some((c) => c.orders?.includes(3))).toBe(true);
    expect(fixture.loops.filter((c) => c.published).length).toBeGreaterThanOrEqual(15);
    // UniPC's corrector runs, and the order-3 loops solve 2x2 / 3x3 systems
    expect(fixture.loops.some((c) => c.correctors?.includes(true) && c.orders?.includes(3))).toBe(true);
  });

  const stats: Record<string, Errors> = {};
  for (const c of fixture.loops) {
    it(`${c.name} on torch's tables: prev_sample / pred_original_sample / final within ${ATOL} (+ float32 noise allowance)`, () => {
      const e = runCase(c, torchTables(c));
      stats[c.name] = e;
      expect(e.excess).toBeLessThanOrEqual(ATOL);
    });
  }

  for (const c of fixture.loops) {
    const tol = ATOL + 2 * c.table_sensitivity;
    it(`${c.name} from its diffusers config: within ${tol.toPrecision(2)} (ATOL + 2 x the effect of the table ulps)`, () => {
      expect(runCase(c, null).excess).toBeLessThanOrEqual(tol);
    });
  }

  it('summary', () => {
    const rows = Object.entries(stats);
    const exactLoops = rows.filter(([, e]) => e.exact === e.entries).map(([n]) => n);
    const worst = rows.reduce((m, [, e]) => Math.max(m, e.plain), 0);
    const entries = rows.reduce((m, [, e]) => m + e.entries, 0);
    const exact = rows.reduce((m, [, e]) => m + e.exact, 0);
    console.log(`on torch's tables: bit-exact loops ${exactLoops.length}/${rows.length}, bit-exact entries ${exact}/${entries}; worst plain scaled error ${worst.toExponential(2)}`);
    for (const [n, e] of rows) if (e.exact !== e.entries) console.log(`${n}: plain ${e.plain.toExponential(2)} excess ${e.excess.toExponential(2)} exact ${e.exact}/${e.entries}`);
  });
});
