import type { Tensor1D, Tensor2D, Variable } from '@tensorflow/tfjs-core';

/** Maps timesteps t [B] to features [B, dim]. Tells every denoiser which step it is at. */
export interface TimestepEmbedding {
  readonly id: string;
  readonly dim: number;
  embed(t: Tensor1D): Tensor2D;
  /** Learnable parameters (empty for fixed embeddings). */
  readonly trainableVariables: Variable[];
  dispose(): void;
}

/** Maps input points x [B, inDim] to features [B, outDim] (e.g. sinusoidal features of 2-D points). */
export interface InputEmbedding {
  readonly id: string;
  readonly inDim: number;
  readonly outDim: number;
  embed(x: Tensor2D): Tensor2D;
  readonly trainableVariables: Variable[];
  dispose(): void;
}

/** 2-D positional embedding for an h x w grid of pixels or patches: [h*w, dim], row-major. */
export interface PositionalEmbedding2D {
  readonly id: string;
  readonly dim: number;
  embed(height: number, width: number): Tensor2D;
}
