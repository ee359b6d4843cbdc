import type { Tensor2D, Variable } from '@tensorflow/tfjs-core';
import type { DataBatch } from './dataset.js';

/**
 * Turns what a sample is about (a class label or a caption) into the condition vector a denoiser
 * gets, [n, dim]. The null condition (the empty prompt, no label) is what classifier-free
 * guidance compares with, and what training substitutes for a fraction of the batch
 * (conditioning dropout). Plugins of kind 'conditioner': 'text' (a tokenizer built from the
 * dataset's captions + learned embeddings + a small transformer) and 'class-label'.
 */
export interface Conditioner {
  readonly id: string;
  /** Width of a condition vector (the denoiser's `condDim`). */
  readonly dim: number;
  /**
   * Condition vectors [n, dim] for a training batch (its `labels` or `captions`); rows with
   * `drop[i]` true get the null condition. Throws when the batch has neither labels nor captions.
   */
  encodeBatch(batch: DataBatch, drop?: readonly boolean[]): Tensor2D;
  /** Condition vectors [n, dim] for prompts; the empty prompt '' is the null condition. */
  encodePrompts(prompts: readonly string[]): Tensor2D;
  /**
   * Words of `prompt` the conditioner does not know, to report to the user: the model draws a
   * description of a picture, it cannot answer questions. Empty for a usable prompt.
   */
  unknownWords(prompt: string): string[];
  /** Learnable parameters, trained with the denoiser. */
  readonly trainableVariables: Variable[];
  /** Stable names for save/load beside the model's weights. */
  namedWeights(): Record<string, Variable>;
  dispose(): void;
}
