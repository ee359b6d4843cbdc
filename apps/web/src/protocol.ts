/** Messages between the page (main thread) and the lab worker, which owns TensorFlow.js. */
export type ToWorker =
  | { type: 'init'; backend: 'auto' | 'webgpu' | 'wasm'; preset: string; dataset?: string; sampler?: string; steps: number }
  | { type: 'train' }
  | { type: 'sample'; n: number };

export type FromWorker =
  | {
      type: 'ready';
      backend: string;
      adapter?: string;
      notes: string[];
      menus: { presets: string[]; datasets: string[]; samplers: string[] };
      config: { preset: string; dataset: string; sampler: string; steps: number; T: number };
      /** Data points [n, 2], flat. */
      data: Float32Array;
      /** alpha-bar_t for t = 0..T-1 (the forward process is drawn on the page from it). */
      alphasCumprod: Float64Array;
    }
  | { type: 'progress'; step: number; steps: number; loss: number; etaSec: number; stepsPerSec: number }
  | { type: 'trained'; losses: number[]; seconds: number }
  | { type: 'sampled'; points: Float32Array; metric: { name: string; value: number; floor: number }; seconds: number }
  | { type: 'error'; message: string };
