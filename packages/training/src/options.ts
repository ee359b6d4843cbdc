/**
 * Training options as a config section (zod, strict, a default for every field). Defaults follow
 * tiny-diffusion's run (AdamW 1e-3, batch 256, clip 1.0, constant lr) plus an EMA of the weights.
 */
import { z } from 'zod';
import { EMA_WARMUPS } from './ema.js';
import { LR_DECAYS } from './lr-schedule.js';

export const emaOptionsSchema = z
  .object({
    decay: z.number().min(0).max(1).default(0.995),
    minDecay: z.number().min(0).max(1).default(0),
    updateAfterStep: z.number().int().min(0).default(0),
    warmup: z.enum(EMA_WARMUPS).default('ramp'),
    invGamma: z.number().positive().default(1),
    power: z.number().positive().default(2 / 3),
  })
  .strict();

export const trainingOptionsSchema = z
  .object({
    batchSize: z.number().int().positive().max(65_536).default(256),
    steps: z.number().int().min(1).max(100_000_000).default(10_000),
    lr: z.number().positive().default(1e-3),
    optimizer: z.enum(['adam', 'adamw']).default('adamw'),
    /** Default: 0.01 for AdamW, 0 for Adam (torch's defaults). */
    weightDecay: z.number().min(0).optional(),
    beta1: z.number().min(0).lt(1).default(0.9),
    beta2: z.number().min(0).lt(1).default(0.999),
    eps: z.number().positive().default(1e-8),
    /** Max global gradient norm; 0 turns clipping off. */
    gradClip: z.number().min(0).default(1),
    /** Fraction of each batch trained with the null condition (classifier-free guidance; used with a conditioner). */
    condDropout: z.number().min(0).max(1).default(0.1),
    /**
     * Min-SNR-gamma loss weighting (Hang et al. 2023; diffusers' `--snr_gamma`, 5 suggested):
     * each row's loss is weighted by min(SNR_t, gamma) / SNR_t (epsilon), / (SNR_t + 1)
     * (v_prediction) or 1 (sample), SNR_t = abar_t / (1 - abar_t). null: plain MSE.
     */
    snrGamma: z.number().positive().max(1e6).nullable().default(null),
    warmupSteps: z.number().int().min(0).default(0),
    decay: z.enum(LR_DECAYS).default('constant'),
    /** EMA of the weights; false turns it off. */
    ema: z.union([z.literal(false), emaOptionsSchema]).default(() => emaOptionsSchema.parse({})),
    /** run(): read losses back from the device every this many steps. */
    logEvery: z.number().int().positive().default(50),
    /** run(): emit a progress event every this many steps. */
    progressEvery: z.number().int().positive().default(100),
  })
  .strict();

export type TrainingOptions = z.output<typeof trainingOptionsSchema>;
export type TrainingOptionsInput = z.input<typeof trainingOptionsSchema>;
