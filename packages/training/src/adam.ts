/**
 * Adam (Kingma & Ba 2015) and AdamW (Loshchilov & Hutter 2019) with torch.optim semantics:
 *
 *   t += 1
 *   AdamW:  p <- p (1 - lr wd)                     (decoupled decay, before the Adam step)
 *   Adam:   g <- g + wd p                          (L2 penalty folded into the gradient)
 *   m <- b1 m + (1 - b1) g
 *   v <- b2 v + (1 - b2) g^2
 *   p <- p - (lr / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 *
 * Defaults as torch: betas (0.9, 0.999), eps 1e-8, weight decay 0 (Adam) / 0.01 (AdamW).
 * All variables are updated as one flat vector; the moment estimates are our own variables,
 * so the state reads back as plain arrays for checkpoints (`getState` / `setState`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { DIFFLAB_KERNELS, FileFormatError } from '@difflab/core';
import type { EMA } from './ema.js';
import { assignFlat, flatten, totalSize, zerosVariable } from './flat.js';

export interface AdamOptions {
  /** Learning rate (default 1e-3). */
  lr?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

export interface OptimizerState {
  kind: 'adam' | 'adamw';
  /** Number of updates done (torch's `state['step']`). */
  step: number;
  /** First and second moment estimates, flat, in variable order. */
  m: number[];
  v: number[];
}

export class Adam {
  readonly kind: 'adam' | 'adamw' = 'adam';
  readonly variables: readonly tf.Variable[];
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  /** Total number of scalars updated. */
  readonly size: number;
  private m: tf.Variable;
  private v: tf.Variable;
  private t = 0;
  /**
   * The flat parameter vector written by the last update, and the data ids it gave the variables:
   * while no one else assigns a variable (ids unchanged) the next update starts from it instead
   * of concatenating the variables again.
   */
  private lastFlat: tf.Tensor1D | null = null;
  private lastIds: readonly object[] = [];

  constructor(variables: readonly tf.Variable[], options: AdamOptions = {}) {
    if (variables.length === 0) throw new RangeError('optimizer needs at least one variable');
    this.variables = [...variables];
    this.lr = options.lr ?? 1e-3;
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? this.defaultWeightDecay();
    for (const [k, val, lo, hi] of [
      ['beta1', this.beta1, 0, 1],
      ['beta2', this.beta2, 0, 1],
    ] as const) {
      if (!(val >= lo && val < hi)) throw new RangeError(`${k} must be in [0, 1), got ${val}`);
    }
    this.size = totalSize(this.variables);
    this.m = zerosVariable(this.size);
    this.v = zerosVariable(this.size);
  }

  protected defaultWeightDecay(): number {
    return 0;
  }

  protected get decoupled(): boolean {
    return false;
  }

  /** Number of updates done so far. */
  get stepCount(): number {
    return this.t;
  }

  /** One update from gradients aligned with `variables` (same shapes). */
  applyGradients(grads: readonly tf.Tensor[], lr = this.lr): void {
    if (grads.length !== this.variables.length) throw new RangeError(`got ${grads.length} gradients for ${this.variables.length} variables`);
    tf.tidy(() => {
      this.applyFlat(flatten(grads), lr);
    });
  }

  /**
   * One update from a flat gradient [size]. Assigns the variables and returns the new flat
   * parameter vector (a tensor in the caller's scope, e.g. for an EMA update).
   */
  applyFlat(grad: tf.Tensor1D, lr = this.lr): tf.Tensor1D {
    if (grad.size !== this.size) throw new RangeError(`flat gradient has ${grad.size} values; the variables hold ${this.size}`);
    this.t += 1;
    const out = tf.tidy(() => {
      if (tf.getKernel(DIFFLAB_KERNELS.adam, tf.getBackend())) {
        // one fused pass (wasm), the same float32 operations as below
        const [p, m, v] = tf.engine().runKernel(DIFFLAB_KERNELS.adam, { p: this.currentFlat(), g: grad, m: this.m, v: this.v }, this.kernelAttrs(lr)) as unknown as tf.Tensor1D[];
        this.m.assign(m);
        this.v.assign(v);
        return p;
      }
      const bc1 = 1 - this.beta1 ** this.t;
      const bc2 = 1 - this.beta2 ** this.t;
      let p = this.currentFlat();
      let g: tf.Tensor = grad;
      if (this.weightDecay !== 0) {
        if (this.decoupled) p = tf.mul(p, 1 - lr * this.weightDecay);
        else g = tf.add(g, tf.mul(p, this.weightDecay));
      }
      const m = tf.add(tf.mul(this.m, this.beta1), tf.mul(g, 1 - this.beta1));
      const v = tf.add(tf.mul(this.v, this.beta2), tf.mul(tf.square(g), 1 - this.beta2));
      this.m.assign(m);
      this.v.assign(v);
      const denom = tf.add(tf.mul(tf.sqrt(v), 1 / Math.sqrt(bc2)), this.eps);
      return tf.sub(p, tf.mul(tf.div(m, denom), lr / bc1)) as tf.Tensor1D;
    });
    assignFlat(this.variables, out);
    this.lastFlat?.dispose();
    this.lastFlat = tf.keep(tf.clone(out));
    this.lastIds = this.variables.map((v) => v.dataId);
    return out;
  }

  /**
   * One update from gradients aligned with `variables`, first clipped by their global norm when
   * `maxNorm` > 0 (as `clipFlatByGlobalNorm`) and followed by `ema`'s update, in one kernel
   * (`DIFFLAB_KERNELS.optimizerStep`, torch's fused AdamW with clip_grad_norm_) where the backend has
   * it. Returns the gradients' global norm before clipping (a scalar in the caller's scope), or
   * null, having done nothing, where the backend has no such kernel: then clip, `applyFlat` and
   * `ema.update` give the same update op by op.
   */
  applyFused(grads: readonly tf.Tensor[], lr: number, maxNorm: number, ema: EMA | null): tf.Scalar | null {
    if (!tf.getKernel(DIFFLAB_KERNELS.optimizerStep, tf.getBackend())) return null;
    const K = this.variables.length;
    if (grads.length !== K) throw new RangeError(`got ${grads.length} gradients for ${K} variables`);
    if (ema && ema.size !== this.size) throw new RangeError(`the EMA holds ${ema.size} values; the optimizer's variables hold ${this.size}`);
    this.t += 1;
    const attrs = { ...this.kernelAttrs(lr), count: K, maxNorm: Math.max(maxNorm, 0) };
    let norm: tf.Scalar;
    try {
      norm = this.fusedStep(attrs, grads, ema);
    } catch (e) {
      // refused before anything was assigned (the kernel's checks, or an EMA swapped in)
      this.t -= 1;
      throw e;
    }
    // the variables no longer hold the cached flat vector's values
    this.lastFlat?.dispose();
    this.lastFlat = null;
    return norm;
  }

  /** `applyFused`'s kernel call and assignments. */
  private fusedStep(attrs: Record<string, number>, grads: readonly tf.Tensor[], ema: EMA | null): tf.Scalar {
    const K = this.variables.length;
    return tf.tidy(() => {
      let result: tf.Scalar | null = null;
      const run = (shadow: tf.Tensor1D | null, decay: number): tf.Tensor1D | null => {
        const inputs: tf.NamedTensorMap = { m: this.m, v: this.v };
        for (let k = 0; k < K; k++) {
          inputs[`p${k}`] = this.variables[k];
          inputs[`g${k}`] = grads[k];
        }
        if (shadow) inputs.shadow = shadow;
        // decay 0: the average is a copy of the weights (EMA.update's first steps)
        const emaMode = shadow ? (decay === 0 ? 1 : 2) : 0;
        const outs = tf.engine().runKernel(DIFFLAB_KERNELS.optimizerStep, inputs, { ...attrs, ema: emaMode, emaWeight: 1 - decay }) as unknown as tf.Tensor[];
        for (let k = 0; k < K; k++) this.variables[k].assign(outs[k]);
        this.m.assign(outs[K]);
        this.v.assign(outs[K + 1]);
        result = outs[K + 2] as tf.Scalar;
        return shadow ? (outs[K + 3] as tf.Tensor1D) : null;
      };
      if (ema) ema.updateWith((shadow, decay) => run(shadow, decay) as tf.Tensor1D);
      else run(null, 0);
      return result as unknown as tf.Scalar;
    });
  }

  /** `DifflabAdam`'s attributes for step `t` at learning rate `lr`. */
  private kernelAttrs(lr: number) {
    const bc1 = 1 - this.beta1 ** this.t;
    const bc2 = 1 - this.beta2 ** this.t;
    const mode = this.weightDecay === 0 ? 0 : this.decoupled ? 2 : 1;
    const decay = mode === 2 ? 1 - lr * this.weightDecay : this.weightDecay;
    return { beta1: this.beta1, beta2: this.beta2, eps: this.eps, stepSize: lr / bc1, invSqrtBc2: 1 / Math.sqrt(bc2), mode, decay };
  }

  /** The variables as one flat vector (the cached one when they are unchanged since the last update). */
  private currentFlat(): tf.Tensor1D {
    const cached = this.lastFlat;
    if (cached && !cached.isDisposed && this.variables.every((v, i) => v.dataId === this.lastIds[i])) return cached;
    return flatten(this.variables);
  }

  getState(): OptimizerState {
    return { kind: this.kind, step: this.t, m: Array.from(this.m.dataSync()), v: Array.from(this.v.dataSync()) };
  }

  /** `getState` with asynchronous read-backs (WebGPU reads synchronously only what it has read). */
  async getStateAsync(): Promise<OptimizerState> {
    const [m, v] = await Promise.all([this.m.data(), this.v.data()]);
    return { kind: this.kind, step: this.t, m: Array.from(m), v: Array.from(v) };
  }

  setState(state: OptimizerState): void {
    if (!state || state.kind !== this.kind) throw new FileFormatError('checkpoint', `optimizer state is for '${state?.kind}', this optimizer is '${this.kind}'`);
    if (!Number.isInteger(state.step) || state.step < 0) throw new FileFormatError('checkpoint', `optimizer step must be a non-negative integer, got ${state.step}`);
    for (const k of ['m', 'v'] as const) {
      if (!Array.isArray(state[k]) || state[k].length !== this.size) {
        throw new FileFormatError('checkpoint', `optimizer state '${k}' has ${state[k]?.length} values; the model has ${this.size} parameters`);
      }
    }
    tf.tidy(() => {
      this.m.assign(tf.tensor1d(state.m, 'float32'));
      this.v.assign(tf.tensor1d(state.v, 'float32'));
    });
    this.t = state.step;
  }

  dispose(): void {
    this.m.dispose();
    this.v.dispose();
    this.lastFlat?.dispose();
    this.lastFlat = null;
  }
}

/** AdamW: decoupled weight decay (default 0.01), as torch.optim.AdamW. */
export class AdamW extends Adam {
  override readonly kind = 'adamw' as const;
  protected override defaultWeightDecay(): number {
    return 0.01;
  }
  protected override get decoupled(): boolean {
    return true;
  }
}

/** Adam or AdamW by name. */
export function createOptimizer(kind: 'adam' | 'adamw', variables: readonly tf.Variable[], options: AdamOptions = {}): Adam {
  return kind === 'adamw' ? new AdamW(variables, options) : new Adam(variables, options);
}
