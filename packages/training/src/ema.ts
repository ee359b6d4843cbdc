/**
 * Exponential moving average of weights, with diffusers' `EMAModel` decay rule
 * (training_utils.py, `get_decay`): at optimisation step n (1-based) let s = n - updateAfterStep - 1;
 *
 *   s <= 0:          decay 0 (the average is a copy of the weights)
 *   warmup 'ramp':   (1 + s) / (10 + s)               (diffusers' default, use_ema_warmup=False)
 *   warmup 'power':  1 - (1 + s / invGamma)^(-power)  (use_ema_warmup=True; @crowsonkb's warm-up)
 *   warmup 'none':   decay
 *
 * clamped to [minDecay, decay]; then shadow <- shadow - (1 - d) (shadow - p).
 *
 * Default decay 0.995 (diffusers defaults to 0.9999 for million-step image runs; tiny-diffusion
 * keeps no EMA): with 'ramp' the decay reaches 0.995 after about 1,800 steps, so the average
 * covers the last ~200 steps of a 10,000-step run.
 */
import * as tf from '@tensorflow/tfjs-core';
import { FileFormatError } from '@difflab/core';
import { assignFlat, flatten, flatVariableFrom, totalSize } from './flat.js';

export const EMA_WARMUPS = ['ramp', 'power', 'none'] as const;
export type EmaWarmup = (typeof EMA_WARMUPS)[number];

export interface EmaOptions {
  /** Largest decay (default 0.995). */
  decay?: number;
  /** Smallest decay (default 0). */
  minDecay?: number;
  /** Steps during which the average just copies the weights (default 0). */
  updateAfterStep?: number;
  /** Decay warm-up rule (default 'ramp', diffusers' default). */
  warmup?: EmaWarmup;
  /** For warmup 'power' (defaults 1 and 2/3, as diffusers). */
  invGamma?: number;
  power?: number;
}

export interface EmaState {
  /** Number of updates done (diffusers' `optimization_step`). */
  step: number;
  /** The averaged weights, flat, in variable order. */
  shadow: number[];
}

export class EMA {
  readonly variables: readonly tf.Variable[];
  readonly options: Required<EmaOptions>;
  readonly size: number;
  private shadow: tf.Variable;
  private backup: tf.Variable | null = null;
  private n = 0;

  /** The average starts as a copy of the variables' current values. */
  constructor(variables: readonly tf.Variable[], options: EmaOptions = {}) {
    this.variables = [...variables];
    this.options = {
      decay: options.decay ?? 0.995,
      minDecay: options.minDecay ?? 0,
      updateAfterStep: options.updateAfterStep ?? 0,
      warmup: options.warmup ?? 'ramp',
      invGamma: options.invGamma ?? 1,
      power: options.power ?? 2 / 3,
    };
    const { decay, minDecay } = this.options;
    if (!(decay >= 0 && decay <= 1)) throw new RangeError(`EMA decay must be in [0, 1], got ${decay}`);
    if (!(minDecay >= 0 && minDecay <= decay)) throw new RangeError(`EMA minDecay must be in [0, decay], got ${minDecay}`);
    this.size = totalSize(this.variables);
    this.shadow = tf.tidy(() => flatVariableFrom(flatten(this.variables)));
  }

  /** Number of updates done. */
  get stepCount(): number {
    return this.n;
  }

  /** The decay used by the update at optimisation step `n` (1-based). */
  decayAt(n: number): number {
    const o = this.options;
    const s = Math.max(0, n - o.updateAfterStep - 1);
    if (s <= 0) return 0;
    let d: number;
    if (o.warmup === 'power') d = 1 - (1 + s / o.invGamma) ** -o.power;
    else if (o.warmup === 'ramp') d = (1 + s) / (10 + s);
    else d = o.decay;
    return Math.max(Math.min(d, o.decay), o.minDecay);
  }

  /** One EMA step towards `params` (flat [size]; default: the variables' current values). */
  update(params?: tf.Tensor1D): void {
    tf.tidy(() => {
      this.updateWith((shadow, d) => {
        const p = params ?? flatten(this.variables);
        if (p.size !== this.size) throw new RangeError(`EMA.update got ${p.size} values; the variables hold ${this.size}`);
        return d === 0 ? tf.reshape(p, [-1]) : tf.sub(shadow, tf.mul(tf.sub(shadow, p), 1 - d));
      });
    });
  }

  /**
   * One EMA step whose new average `next(shadow, decay)` computes (a fused kernel's output: see
   * `Adam.applyFused`), with this step's decay; `next`'s tensors live in the caller's scope.
   */
  updateWith(next: (shadow: tf.Tensor1D, decay: number) => tf.Tensor): void {
    if (this.backup) throw new Error('EMA.update called while the EMA weights are swapped in; call swapOut() first');
    const d = this.decayAt(this.n + 1);
    const s = next(this.shadow as unknown as tf.Tensor1D, d);
    if (s.size !== this.size) throw new RangeError(`EMA.update got ${s.size} values; the variables hold ${this.size}`);
    this.shadow.assign(tf.reshape(s, [-1]));
    this.n += 1;
  }

  /** Write the averaged weights into `variables` (default: the tracked ones). */
  copyTo(variables: readonly tf.Variable[] = this.variables): void {
    assignFlat(variables, this.shadow);
  }

  /** Put the averaged weights into the model, keeping the live ones aside (for sampling). */
  swapIn(): void {
    if (this.backup) return;
    this.backup = tf.tidy(() => flatVariableFrom(flatten(this.variables)));
    this.copyTo();
  }

  /** Restore the live weights put aside by `swapIn`. */
  swapOut(): void {
    if (!this.backup) return;
    assignFlat(this.variables, this.backup);
    this.backup.dispose();
    this.backup = null;
  }

  /** Run `fn` with the averaged weights in the model, then restore the live weights. */
  withAveragedWeights<T>(fn: () => T): T {
    this.swapIn();
    try {
      return fn();
    } finally {
      this.swapOut();
    }
  }

  getState(): EmaState {
    return { step: this.n, shadow: Array.from(this.shadow.dataSync()) };
  }

  /** `getState` with an asynchronous read-back (WebGPU reads synchronously only what it has read). */
  async getStateAsync(): Promise<EmaState> {
    return { step: this.n, shadow: Array.from(await this.shadow.data()) };
  }

  setState(state: EmaState): void {
    if (!state || !Number.isInteger(state.step) || state.step < 0) throw new FileFormatError('checkpoint', `EMA step must be a non-negative integer, got ${state?.step}`);
    if (!Array.isArray(state.shadow) || state.shadow.length !== this.size) {
      throw new FileFormatError('checkpoint', `EMA state has ${state.shadow?.length} values; the model has ${this.size} parameters`);
    }
    tf.tidy(() => this.shadow.assign(tf.tensor1d(state.shadow, 'float32')));
    this.n = state.step;
  }

  dispose(): void {
    this.swapOut();
    this.shadow.dispose();
  }
}
