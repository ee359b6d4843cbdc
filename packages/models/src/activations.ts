/**
 * Point-wise activations with hand-written derivatives, for the dense layers in `dense.ts`.
 *
 * Each activation maps the pre-activation z to y and keeps what its derivative needs, so the
 * backward pass is a few element-wise ops instead of tfjs' op-by-op autodiff of the formula.
 *
 * - `gelu`: the exact GELU, y = z Phi(z) = 0.5 z (1 + erf(z / sqrt 2)) (Hendrycks & Gimpel 2016),
 *   which is torch's default `nn.GELU()` (approximate='none'); tfjs-core's `tf.erf` (kernel on
 *   wasm, cpu and webgpu) computes erf. dy/dz = Phi(z) + z phi(z). Where the backend has
 *   difflab's fused kernels (`DIFFLAB_KERNELS`: @difflab/runtime registers them for wasm) the
 *   forward and backward passes are one kernel each, with the same formulas.
 * - `gelu_tanh`: torch's `nn.GELU(approximate='tanh')`,
 *   0.5 z (1 + tanh(sqrt(2/pi) (z + 0.044715 z^3))).
 * - `relu`: fused into the matmul kernel (`tf.fused.matMul` activation 'relu').
 * - `silu`: z sigmoid(z) (torch `nn.SiLU`); d/dz = s (1 + z (1 - s)). With `DifflabSilu` /
 *   `DifflabSiluGrad` (@difflab/runtime registers them for WebGPU) one kernel each.
 */
import * as tf from '@tensorflow/tfjs-core';
import { DIFFLAB_KERNELS } from '@difflab/core';

export const ACTIVATIONS = ['gelu', 'gelu_tanh', 'relu', 'silu'] as const;
export type ActivationName = (typeof ACTIVATIONS)[number];

/** The activation a dense layer applies; 'linear' for the output layer. */
export type DenseActivation = ActivationName | 'linear';

const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const GELU_TANH_C = 0.044715;

/** Whether the current backend has a kernel registered under `name` (difflab's fused kernels). */
function hasKernel(name: string): boolean {
  return tf.getKernel(name, tf.getBackend()) !== undefined;
}

export interface ActivationForward {
  y: tf.Tensor2D;
  /** Tensors the derivative needs (kept by tfjs for the backward pass). */
  saved: tf.Tensor[];
}

/** y = act(z); for 'relu' and 'linear', z is already the fused matmul output. */
export function activationForward(act: DenseActivation, z: tf.Tensor2D): ActivationForward {
  switch (act) {
    case 'linear':
      return { y: z, saved: [] };
    case 'relu':
      // z is relu(x W + b) already (fused kernel); its mask is y > 0.
      return { y: z, saved: [z] };
    case 'gelu': {
      if (hasKernel(DIFFLAB_KERNELS.gelu)) {
        const [y, cdf] = tf.engine().runKernel(DIFFLAB_KERNELS.gelu, { x: z }, {}) as unknown as tf.Tensor2D[];
        return { y, saved: [z, cdf] };
      }
      const cdf = tf.add(tf.mul(tf.erf(tf.mul(z, SQRT1_2)), 0.5), 0.5) as tf.Tensor2D;
      return { y: tf.mul(z, cdf), saved: [z, cdf] };
    }
    case 'gelu_tanh': {
      const inner = tf.mul(tf.add(z, tf.mul(tf.mul(tf.square(z), z), GELU_TANH_C)), SQRT_2_OVER_PI);
      const th = tf.tanh(inner) as tf.Tensor2D;
      return { y: tf.mul(tf.mul(z, 0.5), tf.add(th, 1)), saved: [z, th] };
    }
    case 'silu': {
      // WebGPU (@difflab/runtime): one program; the gradient recomputes the sigmoid.
      if (hasKernel(DIFFLAB_KERNELS.silu) && hasKernel(DIFFLAB_KERNELS.siluGrad)) return { y: tf.engine().runKernel(DIFFLAB_KERNELS.silu, { x: z }, {}) as tf.Tensor2D, saved: [z] };
      const s = tf.sigmoid(z) as tf.Tensor2D;
      return { y: tf.mul(z, s), saved: [z, s] };
    }
  }
}

/** dL/dz from dL/dy and the tensors saved by `activationForward`. */
export function activationBackward(act: DenseActivation, dy: tf.Tensor2D, saved: tf.Tensor[]): tf.Tensor2D {
  switch (act) {
    case 'linear':
      return dy;
    case 'relu':
      return tf.mul(dy, tf.step(saved[0]));
    case 'gelu': {
      const [z, cdf] = saved;
      if (hasKernel(DIFFLAB_KERNELS.geluGrad)) return tf.engine().runKernel(DIFFLAB_KERNELS.geluGrad, { dy, x: z, cdf }, {}) as tf.Tensor2D;
      // Phi(z) + z phi(z), phi(z) = exp(-z^2 / 2) / sqrt(2 pi)
      const zPdf = tf.mul(tf.mul(z, INV_SQRT_2PI), tf.exp(tf.mul(tf.square(z), -0.5)));
      return tf.mul(dy, tf.add(cdf, zPdf));
    }
    case 'gelu_tanh': {
      const [z, th] = saved;
      const z2 = tf.square(z);
      const dInner = tf.mul(tf.add(tf.mul(z2, 3 * GELU_TANH_C), 1), SQRT_2_OVER_PI);
      const sech2 = tf.sub(1, tf.square(th));
      const d = tf.add(tf.mul(tf.add(th, 1), 0.5), tf.mul(tf.mul(tf.mul(z, 0.5), sech2), dInner));
      return tf.mul(dy, d);
    }
    case 'silu': {
      if (saved.length === 1) return tf.engine().runKernel(DIFFLAB_KERNELS.siluGrad, { dy, x: saved[0] }, {}) as tf.Tensor2D;
      const [z, s] = saved;
      // s (1 + z (1 - s))
      const d = tf.mul(s, tf.add(tf.mul(z, tf.sub(1, s)), 1));
      return tf.mul(dy, d);
    }
  }
}
