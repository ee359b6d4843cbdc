import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, type Denoiser, NumericalError, type Rng, type Sampler } from '@difflab/core';

/** What the loop needs of a model: a Denoiser, or any object with its `predict`. */
export type DenoiseModel = Pick<Denoiser, 'predict' | 'predictAt'>;

/** The model's output at one shared timestep: `predictAt` when the model has it, else `predict` with t filled. */
function predictShared(model: DenoiseModel, x: tf.Tensor, t: number, cond?: tf.Tensor): tf.Tensor {
  return model.predictAt ? model.predictAt(x, t, cond) : model.predict(x, tf.fill([x.shape[0]], t, 'float32'), cond);
}

export interface DenoiseOptions {
  sampler: Sampler;
  /** Called as predictAt(x_t, t, cond?) when it has one, else predict(x_t, t [B] float32, cond?), on the batch (2B rows under guidance). */
  model: DenoiseModel;
  /** Shape [B, ...sampleShape] of x_T, drawn from N(0, initNoiseSigma^2 I) with `rng`. */
  shape?: readonly number[];
  /** A given x_T instead of `shape` (used as is; the caller owns it and the loop never disposes it). */
  xT?: tf.Tensor;
  /** Inference steps (sampler.setTimesteps(numSteps)); default the sampler's current count, else T. */
  numSteps?: number;
  /** Draws x_T and every step's noise. */
  rng: Rng;
  /** Condition [B, ...] passed to the model. */
  cond?: tf.Tensor;
  /** Classifier-free guidance scale s: eps = eps_u + s (eps_c - eps_u) (Ho & Salimans 2022). Needs `cond`; 1 or absent: conditional only. */
  guidanceScale?: number;
  /** The null condition for guidance, [1, ...] or [B, ...]; default zeros like `cond`. The caller owns it. */
  nullCond?: tf.Tensor;
  /**
   * Guidance rescale phi in [0, 1] (Lin et al. 2023, "Common Diffusion Noise Schedules and Sample
   * Steps are Flawed", sec. 3.4; diffusers' `guidance_rescale`): the guided output is rescaled to
   * the per-sample standard deviation of the conditional one and mixed back with weight phi,
   * which counters the over-exposure of large guidance scales. 0 or absent: off.
   */
  guidanceRescale?: number;
}

/** One step of the loop: x_t in, x_{t'} (prevSample) and the x_0 estimate out. */
export interface DenoiseStep {
  /** 0-based step index. */
  index: number;
  /** The timestep t of this step. */
  t: number;
  /** The sample entering this step (x_T at index 0). */
  xt: tf.Tensor;
  /** The sample after this step (the next step's xt; x_0 after the last). */
  prevSample: tf.Tensor;
  /** The sampler's x_0 estimate at this step. */
  predOriginalSample: tf.Tensor;
}

/** Standard deviation of each row of x [B, ...] over all its other axes: [B, 1, ..., 1]. */
function rowStd(x: tf.Tensor): tf.Tensor {
  const axes = Array.from({ length: x.rank - 1 }, (_, i) => i + 1);
  const { variance } = tf.moments(x, axes, true);
  return tf.sqrt(variance);
}

/**
 * Guidance rescale (Lin et al. 2023, eqs. 15-16; diffusers' `rescale_noise_cfg`):
 * g' = phi (std(c) / std(g)) g + (1 - phi) g, the standard deviations per sample over all
 * its values. (diffusers' torch.std is the unbiased estimate; the ratio is the same.)
 */
export function rescaleGuidance(guided: tf.Tensor, conditional: tf.Tensor, phi: number): tf.Tensor {
  return tf.tidy(() => {
    const rescaled = tf.mul(guided, tf.div(rowStd(conditional), rowStd(guided)));
    return tf.add(tf.mul(rescaled, phi), tf.mul(guided, 1 - phi));
  });
}

/**
 * Model output for a batch, with classifier-free guidance when a scale != 1 is given with a
 * condition, and guidance rescale `phi` > 0 then (diffusers applies it only under guidance too).
 */
export function guidedModelOutput(model: DenoiseModel, x: tf.Tensor, t: number, cond?: tf.Tensor, guidanceScale?: number, nullCond?: tf.Tensor, phi = 0): tf.Tensor {
  return tf.tidy(() => {
    const B = x.shape[0];
    if (!cond || guidanceScale === undefined || guidanceScale === 1) return predictShared(model, x, t, cond);
    let nc = nullCond ?? tf.zerosLike(cond);
    if (nc.shape[0] === 1 && B > 1) nc = tf.tile(nc, [B, ...new Array(nc.rank - 1).fill(1)]);
    const out = predictShared(model, tf.concat([x, x], 0), t, tf.concat([cond, nc], 0));
    const [c, u] = tf.split(out, 2, 0);
    const guided = tf.add(u, tf.mul(tf.sub(c, u), guidanceScale));
    return phi > 0 ? rescaleGuidance(guided, c, phi) : guided;
  });
}

function checkOptions(o: DenoiseOptions): void {
  if (!o.xT === !o.shape) throw new ConfigError('denoise', 'give exactly one of shape and xT');
  const B = o.xT ? o.xT.shape[0] : o.shape![0];
  if (o.guidanceScale !== undefined && !o.cond) throw new ConfigError('denoise.guidanceScale', 'needs a condition (cond)');
  if (o.guidanceScale !== undefined && !Number.isFinite(o.guidanceScale)) throw new ConfigError('denoise.guidanceScale', `must be a finite number, got ${o.guidanceScale}`);
  if (o.guidanceRescale !== undefined && !(o.guidanceRescale >= 0 && o.guidanceRescale <= 1)) {
    throw new ConfigError('denoise.guidanceRescale', `must be a number in [0, 1], got ${o.guidanceRescale}`);
  }
  // A caller's x_T and condition must be finite (one read-back each; skipped on WebGPU, which
  // cannot read synchronously).
  if (tf.getBackend() !== 'webgpu') {
    for (const [name, t] of [['xT', o.xT], ['cond', o.cond]] as const) {
      if (t && !tf.tidy(() => tf.all(tf.isFinite(t)).dataSync()[0])) {
        throw new NumericalError(`denoise: ${name} contains NaN or Inf values; give finite input`);
      }
    }
  }
  if (o.cond && o.cond.shape[0] !== B) throw new ConfigError('denoise.cond', `has ${o.cond.shape[0]} rows for a batch of ${B}`);
}

/**
 * The reverse-process loop (diffusers' pipeline loop): x_T ~ N(0, initNoiseSigma^2 I), then for
 * each t of the sampler's timesteps x <- sampler.step(model(scaleModelInput(x, t), t), t, x).
 * It calls `sampler.reset()` and `sampler.setTimesteps(n)`.
 *
 * Ownership: every yielded tensor belongs to the loop and stays valid only until the generator is
 * resumed; the loop then disposes the step's `xt` (unless it is the caller's `xT`) and
 * `predOriginalSample`, and its `prevSample` becomes the next `xt`. When the loop ends (or is left
 * early with break/return/throw) it disposes whatever it still holds, including the final x_0.
 * Keep anything you need with `tf.clone` (or use `sampleAll`). tf.memory().numTensors is the same
 * before and after a full or abandoned loop.
 */
export function* denoise(o: DenoiseOptions): Generator<DenoiseStep, void, undefined> {
  checkOptions(o);
  const { sampler, model, rng } = o;
  sampler.reset();
  sampler.setTimesteps(o.numSteps ?? sampler.numInferenceSteps ?? sampler.schedule.numTrainTimesteps);
  const timesteps = [...sampler.timesteps];
  let x = o.xT ?? tf.randomNormal([...o.shape!], 0, sampler.initNoiseSigma, 'float32', rng.tfSeed());
  let ownsX = !o.xT;
  let pending: tf.Tensor[] = [];
  try {
    for (let index = 0; index < timesteps.length; index++) {
      const t = timesteps[index];
      const xt = x;
      const r = tf.tidy(() => {
        const input = sampler.scaleModelInput(xt, t);
        const out = guidedModelOutput(model, input, t, o.cond, o.guidanceScale, o.nullCond, o.guidanceRescale ?? 0);
        const { prevSample, predOriginalSample } = sampler.step(out, t, xt, { rng });
        return { prevSample, predOriginalSample };
      });
      pending = [r.predOriginalSample, r.prevSample];
      yield { index, t, xt, prevSample: r.prevSample, predOriginalSample: r.predOriginalSample };
      if (r.predOriginalSample !== r.prevSample) r.predOriginalSample.dispose();
      if (ownsX) xt.dispose();
      x = r.prevSample;
      ownsX = true;
      pending = [];
    }
  } finally {
    for (const p of pending) p.dispose();
    if (ownsX) x.dispose();
  }
}

export interface SampleAllOptions extends DenoiseOptions {
  /** Step indices whose entering sample x_t to keep (0 keeps x_T); out-of-range indices are ignored. */
  keep?: readonly number[];
  /** Also keep the x_0 estimate at those steps. */
  keepPredOriginal?: boolean;
}

export interface TrajectoryEntry {
  index: number;
  t: number;
  /** x_t entering step `index`. */
  xt: tf.Tensor;
  predOriginalSample?: tf.Tensor;
}

export interface SampleAllResult {
  /** The final sample x_0. */
  x0: tf.Tensor;
  /** Entries for the kept step indices, in step order. */
  trajectory: TrajectoryEntry[];
}

/**
 * Run `denoise` to the end and return x_0 and the samples at the `keep` step indices. Every
 * returned tensor is a fresh copy owned by the caller; nothing else is left allocated.
 */
export function sampleAll(o: SampleAllOptions): SampleAllResult {
  const keep = new Set(o.keep ?? []);
  const trajectory: TrajectoryEntry[] = [];
  let x0: tf.Tensor | null = null;
  try {
    for (const s of denoise(o)) {
      if (keep.has(s.index)) {
        trajectory.push({ index: s.index, t: s.t, xt: tf.clone(s.xt), ...(o.keepPredOriginal ? { predOriginalSample: tf.clone(s.predOriginalSample) } : {}) });
      }
      if (s.index === o.sampler.timesteps.length - 1) x0 = tf.clone(s.prevSample);
    }
  } catch (e) {
    x0?.dispose();
    for (const e2 of trajectory) tf.dispose([e2.xt, ...(e2.predOriginalSample ? [e2.predOriginalSample] : [])]);
    throw e;
  }
  if (!x0) throw new Error('denoise produced no steps');
  return { x0, trajectory };
}
