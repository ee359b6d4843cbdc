import type { Tensor, Variable } from '@tensorflow/tfjs-core';

/** What the network predicts: the noise, the velocity v, or the clean sample x_0. */
export type PredictionType = 'epsilon' | 'v_prediction' | 'sample';
export const PREDICTION_TYPES: readonly PredictionType[] = ['epsilon', 'v_prediction', 'sample'];

/**
 * A denoising network eps_theta / v_theta / x0_theta(x_t, t, cond).
 *
 * `predict` takes a batch x_t of shape [B, ...sampleShape], integer (or fractional) timesteps
 * `t` of shape [B], and an optional condition [B, ...]. It does not dispose its inputs.
 */
export interface Denoiser {
  readonly predictionType: PredictionType;
  readonly sampleShape: readonly number[];
  predict(xt: Tensor, t: Tensor, cond?: Tensor): Tensor;
  /**
   * Optional: the same as `predict(xt, fill([B], t), cond)` when every row shares the timestep
   * `t` (a sampling step). Models implement it when a shared t saves work (the MLP embeds t
   * once and folds it into the first layer's bias); the sampling loop calls it when present.
   */
  predictAt?(xt: Tensor, t: number, cond?: Tensor): Tensor;
  /** Every variable that training updates (network and trainable embeddings). */
  readonly trainableVariables: Variable[];
  /** Named weights for save/load; names are stable across runs of the same config. */
  namedWeights(): Record<string, Variable>;
  dispose(): void;
}
