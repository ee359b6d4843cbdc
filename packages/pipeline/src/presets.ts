/**
 * Shipped pipeline configs. `spiral-default` is the lab's setting (DESIGN.md, "The default
 * spiral setting"): linear betas 1e-4..0.2 over T = 50, so that t = 1 is barely noisy
 * (alpha-bar 0.996), t = 37 is a round disk (0.048) and x_{T-1} is N(0, I) (0.005).
 */
const swissRoll = { id: 'swiss-roll', options: { noise: 0.5, scale: 0.1, size: 10_000, seed: 0 } };
const mlp = { id: 'mlp', options: { hidden: 128, blocks: 3, predictionType: 'epsilon' } };
const tEmb = { id: 'sinusoidal', options: { dim: 128 } };
const xEmb = { id: 'sinusoidal', options: { scale: 25, dim: 128 } };
const ddpm = { id: 'ddpm', options: { clipSample: true, clipSampleRange: 2 } };
const train = { steps: 10_000, batchSize: 256, lr: 1e-3, optimizer: 'adamw', weightDecay: 0.01, gradClip: 1, warmupSteps: 100, decay: 'cosine', ema: { decay: 0.995 } };

/** A swiss-roll config that differs from the others only in its schedule and shown timesteps. */
function spiral(name: string, description: string, schedule: { id: string; options: Record<string, number> }, forwardT: number[]) {
  return {
    name,
    description,
    seed: 0,
    dataset: swissRoll,
    schedule,
    timestepEmbedding: tEmb,
    inputEmbedding: xEmb,
    model: mlp,
    sampler: ddpm,
    train,
    sample: { n: 10_000, steps: null, useEma: true },
    forward: { t: forwardT, n: 10_000 },
  };
}

/**
 * An image config (lab Part 2): a text-conditioned patch transformer (chosen over the conv UNet
 * by measurement: 4.6x less time per training step at batch 64 on the wasm backend, see
 * tools/bench/RESULTS.md), cosine schedule at T = 1000, DDIM with 50 steps, Adam with an EMA,
 * 10% conditioning dropout for classifier-free guidance.
 *
 * mnist-text predicts v (Salimans & Ho 2022) rather than epsilon, by measurement: with the same
 * network and 1,500 training steps, class-conditioned, DDIM 50 steps, 20 images per digit, the
 * judged accuracy at guidance 3 was 84.5% with v against 21.5% with epsilon (the PyTorch twin,
 * tools/reference/mnist_dit_reference.py, which reproduces difflab's epsilon run: loss 0.0765
 * against 0.0763). And its DDIM recomputes epsilon from the clipped x_0 (diffusers'
 * `use_clipped_model_output`, off by default there): under guidance the predicted x_0 leaves
 * [-1, 1], and stepping with the clipped x_0 but the unclipped epsilon wrecked the guided samples
 * (the 6,000-step v weights: 8.5% at guidance 3 without it, 99% with it, 20 per digit).
 * faces-text does the same: its shipped weights trained with epsilon (5,000 steps) judged 28.3%
 * on expression at guidance 3; with v and the clipped-epsilon step (6,000 steps) 79.2%, and
 * 100% on color, eyes and accessory (packages/pipeline/weights/faces-text/README.md).
 */
function images(
  name: string,
  description: string,
  dataset: { id: string; options: Record<string, unknown> },
  size: number,
  channels: number,
  steps: number,
  predictionType: 'epsilon' | 'v_prediction',
  clippedEps: boolean,
) {
  return {
    name,
    description,
    seed: 0,
    dataset,
    schedule: { id: 'cosine', options: { T: 1000 } },
    timestepEmbedding: tEmb,
    inputEmbedding: xEmb,
    model: { id: 'patch-transformer', options: { patch: 4, width: 96, depth: 4, heads: 4, mlpRatio: 4, imageSize: size, imageChannels: channels, predictionType, conditioning: 'adaln' } },
    conditioner: { id: 'text', options: { dim: 128 } },
    sampler: { id: 'ddim', options: { numInferenceSteps: 50, clipSample: true, clipSampleRange: 1, useClippedModelOutput: clippedEps } },
    metrics: [],
    train: { steps, batchSize: 64, lr: 1e-3, optimizer: 'adam', gradClip: 1, warmupSteps: 200, decay: 'cosine', condDropout: 0.1, ema: { decay: 0.999 } },
    sample: { n: 64, steps: null, useEma: true },
    forward: { t: [0, 50, 200, 500, 800, 999], n: 16 },
  };
}

export const PRESETS = {
  'spiral-default': spiral(
    'spiral-default',
    'Swiss roll, linear betas 1e-4..0.2 at T = 50: t = 37 is a round disk and x_T is real noise',
    { id: 'linear', options: { T: 50, betaStart: 1e-4, betaEnd: 0.2 } },
    [0, 1, 10, 25, 37, 49],
  ),
  'spiral-cosine': spiral('spiral-cosine', 'Swiss roll, cosine (squaredcos_cap_v2) schedule at T = 40', { id: 'cosine', options: { T: 40 } }, [0, 1, 10, 25, 37, 39]),
  'spiral-common': spiral(
    'spiral-common',
    'The common 2-D setting, linear 1e-4..0.02 at T = 50: alpha-bar ends at 0.60, so sampling starts from the wrong distribution (for the ablation)',
    { id: 'linear', options: { T: 50, betaStart: 1e-4, betaEnd: 0.02 } },
    [0, 1, 10, 25, 37, 49],
  ),
  'spiral-t1000': spiral(
    'spiral-t1000',
    'Swiss roll, linear 1e-4..0.02 at T = 1000 (DDPM paper setting)',
    { id: 'linear', options: { T: 1000, betaStart: 1e-4, betaEnd: 0.02 } },
    [0, 1, 50, 250, 500, 999],
  ),
  'mnist-text': images('mnist-text', 'MNIST digits (28x28), text prompts ("a handwritten 7"), classifier-free guidance', { id: 'mnist', options: { split: 'train' } }, 28, 1, 6000, 'v_prediction', true), // shipped: its weights at step 6,000 (weights/mnist-text/README.md)
  'faces-text': images('faces-text', 'Procedural 32x32 faces, text prompts ("a happy yellow face with closed eyes"), classifier-free guidance', { id: 'faces', options: { split: 'train' } }, 32, 3, 6000, 'v_prediction', true),
};

export type PresetName = keyof typeof PRESETS;
export const PRESET_NAMES = Object.keys(PRESETS) as PresetName[];
