import { definePlugin, type NoiseSchedule } from '@difflab/core';
import { z } from 'zod';
import { DiscreteSchedule } from './discrete-schedule.js';
import { toFloat32Values } from './float32.js';
import { RESCALE_OPTION, T_OPTION } from './options.js';

/** The cosine alpha-bar of Nichol & Dhariwal 2021, eq. 17, with offset s = 0.008 (unnormalised). */
export function cosineAlphaBar(u: number, s = 0.008): number {
  return Math.cos(((u + s) / (1 + s)) * (Math.PI / 2)) ** 2;
}

/**
 * Betas that discretise a continuous alpha-bar(u), u in [0, 1]: beta_i = min(1 - abar((i+1)/T) /
 * abar(i/T), maxBeta) (Nichol & Dhariwal 2021, sec. 3.2; diffusers `betas_for_alpha_bar`), in
 * float64 and then cast to float32.
 */
export function betasForAlphaBar(T: number, alphaBar: (u: number) => number = cosineAlphaBar, maxBeta = 0.999): Float64Array {
  const out = new Float64Array(T);
  for (let i = 0; i < T; i++) out[i] = Math.min(1 - alphaBar((i + 1) / T) / alphaBar(i / T), maxBeta);
  return toFloat32Values(out);
}

/** Cosine betas: diffusers `beta_schedule="squaredcos_cap_v2"` (max beta 0.999). */
export function cosineBetas(T: number): Float64Array {
  return betasForAlphaBar(T, cosineAlphaBar, 0.999);
}

export function cosineSchedule(T = 1000, rescaleZeroSnr = false): DiscreteSchedule {
  return new DiscreteSchedule(
    'cosine',
    // beta_start / beta_end are unused by this kind; diffusers still writes its defaults.
    { num_train_timesteps: T, beta_schedule: 'squaredcos_cap_v2', beta_start: 0.0001, beta_end: 0.02, trained_betas: null, rescale_betas_zero_snr: rescaleZeroSnr },
    cosineBetas(T),
  );
}

export const cosineOptions = z.object({ T: T_OPTION, rescaleZeroSnr: RESCALE_OPTION }).strict();

export const cosinePlugin = definePlugin<NoiseSchedule, typeof cosineOptions>({
  kind: 'schedule',
  id: 'cosine',
  summary: 'cosine alpha-bar of Nichol & Dhariwal 2021 (diffusers "squaredcos_cap_v2", max beta 0.999)',
  options: cosineOptions,
  create: (o) => cosineSchedule(o.T, o.rescaleZeroSnr),
});
