/**
 * The training loop (Ho et al. 2020, Algorithm 1) for any Denoiser / NoiseSchedule / Dataset:
 *
 *   x_0 ~ dataset, t ~ U{0..T-1}, eps ~ N(0, I)
 *   loss = || target(eps, x_0, t) - model(sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps, t) ||^2
 *          (per row times the Min-SNR-gamma weight when `snrGamma` is set)
 *   g = clip(grad loss); AdamW step with lr(step); EMA update
 *
 * One `step()` runs entirely inside `tf.tidy`; randomness comes from the trainer's `Rng`
 * (the batch, the timesteps, and a seed for `tf.randomNormal`), so a run is reproducible from its
 * seed and resumable from `getState()`.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  type Conditioner,
  type Dataset,
  type Denoiser,
  FileFormatError,
  formatZodIssue,
  type NoiseSchedule,
  NumericalError,
  type Rng,
  type RngState,
} from '@difflab/core';
import { type Adam, createOptimizer, type OptimizerState } from './adam.js';
import { clipFlatByGlobalNorm } from './clip.js';
import { EMA, type EmaState } from './ema.js';
import { flatten } from './flat.js';
import { minSnrWeights, mseLoss, predictionTarget } from './loss.js';
import { learningRateAt } from './lr-schedule.js';
import { type TrainingOptions, type TrainingOptionsInput, trainingOptionsSchema } from './options.js';

export interface TrainerInit extends TrainingOptionsInput {
  model: Denoiser;
  schedule: NoiseSchedule;
  dataset: Dataset;
  rng: Rng;
  /**
   * Turns each batch's labels or captions into the model's condition; its variables train with
   * the model, and `condDropout` of the rows get the null condition (classifier-free guidance).
   */
  conditioner?: Conditioner;
}

export interface ProgressEvent {
  /** Completed steps. */
  step: number;
  /** Total steps of the run. */
  steps: number;
  /** Mean loss over the steps since the previous event. */
  loss: number;
  /** Learning rate of the last step. */
  lr: number;
  /** Steps per second since the previous event. */
  stepsPerSec: number;
  /** Estimated seconds to the end at that rate. */
  etaSec: number;
  /** Seconds since run() started. */
  elapsedSec: number;
}

export interface RunOptions {
  /** Stop (at a step boundary) when aborted; the trainer can resume with another run(). */
  signal?: AbortSignal;
  /**
   * Stop after this step (default: options.steps), e.g. to save a checkpoint and go on with
   * another run(); the learning-rate schedule still spans options.steps.
   */
  until?: number;
}

export interface RunResult {
  /** Completed steps (== steps unless aborted). */
  step: number;
  aborted: boolean;
  /** Losses of the steps done in this run() call. */
  losses: number[];
  seconds: number;
}

export interface TrainerState {
  version: 1;
  step: number;
  rng: RngState;
  optimizer: OptimizerState;
  ema: EmaState | null;
  lossHistory: number[];
}

export class Trainer {
  readonly model: Denoiser;
  readonly schedule: NoiseSchedule;
  readonly dataset: Dataset;
  readonly rng: Rng;
  readonly options: TrainingOptions;
  readonly optimizer: Adam;
  /** EMA of the weights, or null when `ema: false`. */
  readonly ema: EMA | null;
  /** Loss of every completed step (read back in batches of `logEvery` by run()). */
  readonly lossHistory: number[] = [];
  /** The conditioner trained with the model, or null for unconditional training. */
  readonly conditioner: Conditioner | null;
  private readonly variables: tf.Variable[];
  private stepIndex = 0;
  private lastLr = 0;

  constructor(init: TrainerInit) {
    const { model, schedule, dataset, rng, conditioner, ...rest } = init;
    for (const [k, v] of Object.entries({ model, schedule, dataset, rng })) {
      if (v === undefined || v === null) throw new TypeError(`Trainer: '${k}' is ${v}`);
    }
    const parsed = trainingOptionsSchema.safeParse(rest);
    if (!parsed.success) throw formatZodIssue('training', parsed.error);
    this.options = parsed.data;
    this.model = model;
    this.schedule = schedule;
    this.dataset = dataset;
    this.rng = rng;
    this.conditioner = conditioner ?? null;
    // the conditioner's variables train with the model (and are averaged by the EMA with it)
    this.variables = [...model.trainableVariables, ...(conditioner?.trainableVariables ?? [])];
    if (this.variables.length === 0) throw new TypeError('Trainer: the model has no trainable variables');
    const o = this.options;
    this.optimizer = createOptimizer(o.optimizer, this.variables, { lr: o.lr, beta1: o.beta1, beta2: o.beta2, eps: o.eps, weightDecay: o.weightDecay });
    this.ema = o.ema === false ? null : new EMA(this.variables, o.ema);
  }

  /** Completed steps. */
  get stepCount(): number {
    return this.stepIndex;
  }

  /** Learning rate for the next step. */
  get learningRate(): number {
    const o = this.options;
    return learningRateAt(this.stepIndex, { lr: o.lr, totalSteps: o.steps, warmupSteps: o.warmupSteps, decay: o.decay });
  }

  /** One training step; returns its loss (one device read-back). */
  step(): number {
    const loss = this.stepTensor();
    const v = loss.dataSync()[0];
    loss.dispose();
    this.record([v]);
    return v;
  }

  /**
   * Train until `options.steps`, emitting a progress event every `progressEvery` steps (and at
   * the end). Losses are read back every `logEvery` steps; the event loop gets a turn at each
   * progress event.
   */
  async run(onProgress?: (e: ProgressEvent) => void, opts: RunOptions = {}): Promise<RunResult> {
    const { steps, logEvery, progressEvery } = this.options;
    const end = Math.min(steps, opts.until ?? steps);
    const t0 = performance.now();
    let tPrev = t0;
    let stepPrev = this.stepIndex;
    const startLen = this.lossHistory.length;
    let pending: tf.Scalar[] = [];
    let windowStart = this.lossHistory.length;
    // Asynchronous read-back: WebGPU cannot read synchronously in Node, and on every backend it
    // lets the device run ahead of the host.
    const flush = async () => {
      if (pending.length === 0) return;
      const stacked = tf.stack(pending);
      tf.dispose(pending);
      pending = [];
      const vals = await stacked.data();
      stacked.dispose();
      this.record(Array.from(vals));
    };
    let aborted = false;
    try {
      while (this.stepIndex < end) {
        if (opts.signal?.aborted) {
          aborted = true;
          break;
        }
        pending.push(this.stepTensor());
        const done = this.stepIndex === end;
        if (pending.length >= logEvery || done || this.stepIndex % progressEvery === 0) await flush();
        if (this.stepIndex % progressEvery === 0 || done) {
          const now = performance.now();
          const window = this.lossHistory.slice(windowStart);
          windowStart = this.lossHistory.length;
          const stepsPerSec = ((this.stepIndex - stepPrev) * 1000) / Math.max(1e-9, now - tPrev);
          tPrev = now;
          stepPrev = this.stepIndex;
          onProgress?.({
            step: this.stepIndex,
            steps,
            loss: window.reduce((a, b) => a + b, 0) / Math.max(1, window.length),
            lr: this.lastLr,
            stepsPerSec,
            etaSec: (steps - this.stepIndex) / Math.max(1e-9, stepsPerSec),
            elapsedSec: (now - t0) / 1000,
          });
          await new Promise((r) => setTimeout(r, 0));
        }
      }
    } finally {
      await flush();
    }
    return { step: this.stepIndex, aborted, losses: this.lossHistory.slice(startLen), seconds: (performance.now() - t0) / 1000 };
  }

  /** Optimizer, EMA, step, rng and loss history as plain data (the weights are saved apart). */
  getState(): TrainerState {
    return {
      version: 1,
      step: this.stepIndex,
      rng: this.rng.getState(),
      optimizer: this.optimizer.getState(),
      ema: this.ema ? this.ema.getState() : null,
      lossHistory: [...this.lossHistory],
    };
  }

  /** `getState` with asynchronous read-backs, for every backend (WebGPU included). */
  async getStateAsync(): Promise<TrainerState> {
    return {
      version: 1,
      step: this.stepIndex,
      rng: this.rng.getState(),
      optimizer: await this.optimizer.getStateAsync(),
      ema: this.ema ? await this.ema.getStateAsync() : null,
      lossHistory: [...this.lossHistory],
    };
  }

  /** Restore a state from `getState()` (with the model's weights restored separately). */
  setState(state: TrainerState): void {
    if (state?.version !== 1) throw new FileFormatError('checkpoint', `unsupported trainer state version ${state?.version}; expected 1`);
    if (!Number.isInteger(state.step) || state.step < 0) throw new FileFormatError('checkpoint', `trainer step must be a non-negative integer, got ${state.step}`);
    if (this.ema && !state.ema) throw new FileFormatError('checkpoint', 'has no EMA state but this trainer keeps an EMA');
    this.optimizer.setState(state.optimizer);
    if (this.ema && state.ema) this.ema.setState(state.ema);
    this.rng.setState(state.rng);
    this.stepIndex = state.step;
    this.lossHistory.length = 0;
    this.lossHistory.push(...(state.lossHistory ?? []));
  }

  /** Dispose the optimizer and EMA state (not the model). */
  dispose(): void {
    this.optimizer.dispose();
    this.ema?.dispose();
  }

  /**
   * One step without a read-back: returns the loss as a kept scalar tensor, which the caller
   * disposes (or reads with `await loss.data()`). On WebGPU this lets the device run ahead of the
   * host, and it is the only synchronous step there in Node (`step()` reads back synchronously,
   * which tfjs-webgpu cannot do outside a browser). The loss is not added to `lossHistory`.
   */
  stepTensor(): tf.Scalar {
    const o = this.options;
    const lr = this.learningRate;
    const T = this.schedule.numTrainTimesteps;
    const loss = tf.tidy(() => {
      const batch = this.dataset.sample(o.batchSize, this.rng);
      const t = Array.from({ length: o.batchSize }, () => this.rng.int(T));
      const noise = tf.randomNormal(batch.x.shape, 0, 1, 'float32', this.rng.tfSeed());
      // Noising and target stay outside the taped function: nothing there depends on a variable.
      const xt = this.schedule.addNoise(batch.x, noise, t);
      const target = predictionTarget(this.model.predictionType, this.schedule, batch.x, noise, t);
      const tT = tf.tensor1d(t, 'float32');
      // Conditioning dropout: the same rng decides which rows see the null condition.
      const drop = this.conditioner ? Array.from({ length: o.batchSize }, () => this.rng.uniform() < o.condDropout) : null;
      const cond = () => (this.conditioner ? this.conditioner.encodeBatch(batch, drop!) : batch.cond);
      const weights = o.snrGamma === null ? undefined : minSnrWeights(this.schedule, t, o.snrGamma, this.model.predictionType);
      const { value, grads } = tf.variableGrads(() => mseLoss(this.model.predict(xt, tT, cond()), target, weights), this.variables);
      const gs = this.variables.map((v) => grads[v.name] ?? tf.zerosLike(v));
      // clip, AdamW and EMA in one kernel where the backend has one; else op by op
      if (this.optimizer.applyFused(gs, lr, o.gradClip, this.ema) === null) {
        let g = flatten(gs);
        if (o.gradClip > 0) g = clipFlatByGlobalNorm(g, o.gradClip).grad;
        const params = this.optimizer.applyFlat(g, lr);
        this.ema?.update(params);
      }
      return value;
    });
    this.stepIndex += 1;
    this.lastLr = lr;
    return loss;
  }

  private record(values: number[]): void {
    for (let i = 0; i < values.length; i++) {
      if (!Number.isFinite(values[i])) {
        const at = this.stepIndex - values.length + i + 1;
        throw new NumericalError(`training loss is ${values[i]} at step ${at}; lower the learning rate or enable gradClip`);
      }
    }
    this.lossHistory.push(...values);
  }
}
