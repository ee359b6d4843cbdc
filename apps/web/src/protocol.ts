/** Messages between the page (main thread) and the lab worker, which owns TensorFlow.js. */
export type ToWorker =
  | {
      type: 'init';
      /** Echoed in 'ready': the page ignores the answer to an older init (its settings changed since). */
      seq: number;
      backend: 'auto' | 'webgpu' | 'wasm';
      preset: string;
      dataset?: string;
      sampler?: string;
      steps: number;
      /** Schedule id and T (default: the preset's). */
      schedule?: string;
      T?: number;
      /** Timestep embedding id. */
      embedding?: string;
      /** MLP width (model.options.hidden). */
      hidden?: number;
    }
  | { type: 'train' }
  | { type: 'sample'; n: number }
  /** The spiral run's resolved config, or its weights (EMA when training kept one) as model.json + weights.bin. */
  | { type: 'export'; what: 'config' | 'weights' }
  /** Weights written by `difflab train` (model.json text, weights.bin bytes) into the spiral model. */
  | { type: 'import-weights'; modelJson: string; weightsBin: ArrayBuffer }
  /** Train the current spiral config with `slot` set to each value (same seed and steps), sample each. */
  | { type: 'ablate'; slot: string; values: [string, string]; n: number }
  /** Load a shipped image model (its id in the `models` list of 'images-ready'). */
  | { type: 'images-load'; model: string }
  /** Which words of a prompt the model's tokenizer does not know. */
  | { type: 'images-check'; prompt: string }
  /** n images for the prompt at guidance `guidance` beside n for the empty prompt, from the same x_T. */
  | { type: 'images-sample'; prompt: string; guidance: number; steps: number; n: number; sampler: string };

export type FromWorker =
  | {
      type: 'ready';
      seq: number;
      backend: string;
      adapter?: string;
      notes: string[];
      menus: { presets: string[]; datasets: string[]; samplers: string[]; schedules: string[]; embeddings: string[] };
      /** Plugin ids per config slot (for the ablation's value lists). */
      slots: Record<string, string[]>;
      config: { preset: string; dataset: string; sampler: string; steps: number; T: number; schedule: string; embedding: string; hidden: number };
      /** Data points [n, 2], flat. */
      data: Float32Array;
      /** alpha-bar_t for t = 0..T-1 (the forward process is drawn on the page from it). */
      alphasCumprod: Float64Array;
    }
  | { type: 'progress'; step: number; steps: number; loss: number; etaSec: number; stepsPerSec: number }
  | { type: 'trained'; losses: number[]; seconds: number }
  | {
      type: 'sampled';
      points: Float32Array;
      metric: { name: string; value: number; floor: number };
      seconds: number;
      /** Every reverse step: its t, the x_t entering it and the predicted x_0, each [steps, n, 2] flat. */
      trace: { t: number[]; xt: Float32Array; x0: Float32Array };
    }
  | {
      type: 'images-ready';
      model: string;
      /** The shipped models (presets with weights in the site). */
      models: string[];
      /** [H, W, C] of one image. */
      shape: number[];
      samplers: string[];
      sampler: string;
      steps: number;
      /** Prompts the model was trained on, one per class, as examples. */
      examples: string[];
    }
  | { type: 'images-words'; prompt: string; unknown: string[] }
  | { type: 'ablate-progress'; variant: number; step: number; steps: number; loss: number }
  | {
      type: 'ablate-variant';
      variant: number;
      value: string;
      losses: number[];
      trainSeconds: number;
      points: Float32Array;
      /** The variant's data points (up to 4,000), flat. */
      data: Float32Array;
      metric: { name: string; value: number; floor: number };
    }
  | { type: 'exported'; what: 'config'; json: string }
  | { type: 'exported'; what: 'weights'; modelJson: string; weightsBin: Uint8Array }
  | { type: 'imported'; tensors: number }
  | {
      type: 'images-step';
      index: number;
      total: number;
      t: number;
      /** x_t entering this step, [2n, H, W, C]: the prompt's n images, then the empty prompt's n. */
      xt: Float32Array;
      /** The sampler's x_0 estimate at this step, same layout. */
      x0: Float32Array;
    }
  | { type: 'images-done'; images: Float32Array; seconds: number; unknown: string[] }
  | { type: 'error'; message: string };
