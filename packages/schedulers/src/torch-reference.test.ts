/**
 * Cross-check against an independent PyTorch re-implementation of diffusers' schedule code
 * (tools/reference/diffusers_reference.py, torch float32 exactly as DDPMScheduler / DDIMScheduler
 * build betas, alphas_cumprod and set_timesteps). Regenerate the fixture with
 * `/usr/bin/python3 tools/reference/diffusers_reference.py`.
 */
import { readFileSync } from 'node:fs';
import type { ScheduleConfig, TimestepSpacing } from '@difflab/core';
import { describe, expect, it } from 'vitest';
import { createSchedule, cumprodF32, inferenceTimesteps, oneMinusF32, rescaleZeroTerminalSnr, scheduleFromDiffusersConfig } from './index.js';

interface ScheduleCase {
  name: string;
  config: ScheduleConfig;
  betas: number[];
  alphas_cumprod: number[];
}
interface TimestepCase {
  T: number;
  n: number;
  spacing: TimestepSpacing;
  steps_offset: number;
  timesteps: number[];
}
const fixture = JSON.parse(readFileSync(new URL('./__fixtures__/diffusers-schedules.json', import.meta.url), 'utf8')) as {
  schedules: ScheduleCase[];
  timesteps: TimestepCase[];
};

/** Distance in float32 ulps between two float32 values (both finite, same sign or zero). */
function ulps(a: number, b: number): number {
  const buf = new DataView(new ArrayBuffer(8));
  buf.setFloat32(0, a);
  buf.setFloat32(4, b);
  return Math.abs(buf.getInt32(0) - buf.getInt32(4));
}

function maxUlps(got: ArrayLike<number>, want: number[]): number {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    expect(Math.fround(got[i])).toBe(got[i]); // the tables hold float32 values
    worst = Math.max(worst, ulps(got[i], want[i]));
  }
  return worst;
}

/** Largest |got - want| / |want| over entries with want != 0 (entries with want = 0 must match exactly). */
function maxRel(got: ArrayLike<number>, want: number[]): number {
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    if (want[i] === 0) expect(got[i]).toBe(0);
    else worst = Math.max(worst, Math.abs(got[i] - want[i]) / Math.abs(want[i]));
  }
  return worst;
}

describe('schedule tables vs diffusers (torch float32)', () => {
  it('covers the intended schedules', () => {
    expect(fixture.schedules.map((s) => s.name)).toEqual([
      'linear-1000',
      'linear-spiral-50',
      'scaled-linear-1000',
      'cosine-1000',
      'cosine-40',
      'sigmoid-1000',
      'scaled-linear-1000-zero-snr',
    ]);
  });

  // Measured (torch 1.13, AVX2 build): tables computed from torch's own betas are bit-exact for every
  // schedule, the cosine betas (float64 Python math cast to float32) are bit-exact, and the only
  // differences come from torch's vectorised CPU kernels for the betas themselves:
  // - torch.linspace's AVX2 path (8-wide vectors, base fused start + step * idx, lanes base + step * j)
  //   rounds some entries 1 ulp away from the scalar formula linspaceF32 uses;
  // - scaled_linear squares those (<= 3 ulps); sigmoid(x) amplifies a 1-ulp x by up to |x| (1 - s) ~ 6
  //   and torch's vectorised sigmoid/exp is not correctly rounded (<= 6 ulps);
  // - rescale_betas_zero_snr amplifies a 1-ulp alpha-bar difference by cancellation (1 - ratio), so
  //   its tables get relative errors ~1e-4 (betas) and ~4e-5 (alpha-bar) though the function itself is exact.
  // Bounds below are the measured maxima (ulps of float32), asserted as such.
  const BETA_ULPS: Record<string, number> = {
    'linear-1000': 1,
    'linear-spiral-50': 1,
    'scaled-linear-1000': 3,
    'cosine-1000': 0,
    'cosine-40': 0,
    'sigmoid-1000': 6,
  };
  const ABAR_ULPS: Record<string, number> = {
    'linear-1000': 1,
    'linear-spiral-50': 2,
    'scaled-linear-1000': 3,
    'cosine-1000': 0,
    'cosine-40': 0,
    'sigmoid-1000': 1,
  };
  for (const c of fixture.schedules.filter((x) => x.name in BETA_ULPS)) {
    it(`${c.name}: betas within ${BETA_ULPS[c.name]} ulp, alphas_cumprod within ${ABAR_ULPS[c.name]} ulp of torch`, () => {
      const s = createSchedule(c.config);
      expect(maxUlps(s.betas, c.betas)).toBeLessThanOrEqual(BETA_ULPS[c.name]);
      expect(maxUlps(s.alphasCumprod, c.alphas_cumprod)).toBeLessThanOrEqual(ABAR_ULPS[c.name]);
      // the scheduler_config.json route builds the same tables
      const j = scheduleFromDiffusersConfig({ _class_name: 'DDPMScheduler', ...c.config });
      expect(Array.from(j.alphasCumprod)).toEqual(Array.from(s.alphasCumprod));
    });

    it(`${c.name}: from torch's betas, alphas and alphas_cumprod are bit-exact`, () => {
      const s = createSchedule({ trained_betas: c.betas });
      expect(Array.from(s.betas)).toEqual(c.betas);
      expect(Array.from(s.alphasCumprod)).toEqual(c.alphas_cumprod);
    });
  }

  it('cosine (squaredcos_cap_v2) tables are bit-exact end to end', () => {
    for (const name of ['cosine-1000', 'cosine-40']) {
      const c = fixture.schedules.find((x) => x.name === name)!;
      const s = createSchedule(c.config);
      expect(Array.from(s.betas)).toEqual(c.betas);
      expect(Array.from(s.alphasCumprod)).toEqual(c.alphas_cumprod);
    }
  });

  it('alphas_cumprod follows torch CPU cumprod (float64 accumulator, float32 outputs), not a float32 running product', () => {
    const c = fixture.schedules.find((x) => x.name === 'linear-1000')!;
    const ac = cumprodF32(oneMinusF32(c.betas));
    expect(Array.from(ac)).toEqual(c.alphas_cumprod);
    let acc = 1;
    let differ = 0;
    for (let i = 0; i < 1000; i++) {
      acc = Math.fround(acc * Math.fround(1 - c.betas[i]));
      if (acc !== c.alphas_cumprod[i]) differ++;
    }
    expect(differ).toBeGreaterThan(500); // a float32 accumulator drifts from torch by up to ~20 ulps
  });

  it('zero-terminal-SNR: rescaleZeroTerminalSnr of torch scaled_linear betas is bit-exact; tables within 2e-4 / 5e-5 relative', () => {
    const base = fixture.schedules.find((x) => x.name === 'scaled-linear-1000')!;
    const z = fixture.schedules.find((x) => x.name === 'scaled-linear-1000-zero-snr')!;
    const rescaled = rescaleZeroTerminalSnr(base.betas);
    expect(Array.from(rescaled)).toEqual(z.betas);
    expect(Array.from(cumprodF32(oneMinusF32(rescaled)))).toEqual(z.alphas_cumprod);
    const s = createSchedule(z.config);
    expect(maxRel(s.betas, z.betas)).toBeLessThan(2e-4);
    expect(maxRel(s.alphasCumprod, z.alphas_cumprod)).toBeLessThan(5e-5);
  });

  it('zero-terminal-SNR rescale ends at alpha-bar 0 and beta 1, like torch', () => {
    const c = fixture.schedules.find((s) => s.name === 'scaled-linear-1000-zero-snr')!;
    expect(c.alphas_cumprod[999]).toBe(0);
    expect(c.betas[999]).toBe(1);
    const s = createSchedule(c.config);
    expect(s.alphasCumprod[999]).toBe(0);
    expect(s.betas[999]).toBe(1);
  });
});

describe('set_timesteps vs diffusers (numpy)', () => {
  it(`has ${fixture.timesteps.length} cases over the three spacings`, () => {
    expect(new Set(fixture.timesteps.map((c) => c.spacing))).toEqual(new Set(['leading', 'linspace', 'trailing']));
    expect(fixture.timesteps.length).toBeGreaterThan(60);
  });

  it('every (T, n, spacing, steps_offset) gives exactly diffusers timesteps', () => {
    const mismatches: string[] = [];
    for (const c of fixture.timesteps) {
      const got = inferenceTimesteps(c.T, c.n, c.spacing, c.steps_offset);
      // numpy's float arange makes n + 1 'trailing' entries for some (T, n) (e.g. 1000/61, 50/29): the
      // extra last entry is -1, an invalid timestep; difflab keeps exactly n. Compare the first n.
      const want = c.timesteps.length === c.n + 1 && c.spacing === 'trailing' && c.timesteps[c.n] === -1 ? c.timesteps.slice(0, c.n) : c.timesteps;
      if (JSON.stringify(got) !== JSON.stringify(want)) mismatches.push(`${c.T}/${c.n}/${c.spacing}/${c.steps_offset}`);
      const s = createSchedule({ num_train_timesteps: c.T });
      expect(s.timesteps(c.n, c.spacing, c.steps_offset)).toEqual(got);
    }
    expect(mismatches).toEqual([]);
  });

  it("diffusers' extra trailing -1 shows up exactly where numpy's arange overshoots", () => {
    const extra = fixture.timesteps.filter((c) => c.timesteps.length !== c.n).map((c) => `${c.T}/${c.n}`);
    expect(extra).toEqual(['1000/61', '50/29']);
    for (const c of fixture.timesteps.filter((x) => x.timesteps.length !== x.n)) {
      expect(c.spacing).toBe('trailing');
      expect(c.timesteps.at(-1)).toBe(-1);
    }
  });
});
