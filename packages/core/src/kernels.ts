/**
 * Names of difflab's own fused tfjs kernels. A backend package registers kernels under these
 * names where it has a fast implementation (`@difflab/runtime` does for the wasm backend); the
 * code that uses them checks `tf.getKernel(name, tf.getBackend())` and otherwise runs the same
 * math as ordinary tfjs ops. Inputs, attributes and outputs of each:
 *
 * - `DifflabGelu`: inputs { x } (float32) -> [y, cdf], cdf = Phi(x) = (1 + erf(x / sqrt 2)) / 2,
 *   y = x cdf (the exact GELU and what its derivative needs).
 * - `DifflabGeluGrad`: inputs { dy, x, cdf } -> dx = dy (cdf + x phi(x)), phi(x) = exp(-x^2/2) / sqrt(2 pi).
 */
export const DIFFLAB_KERNELS = {
  gelu: 'DifflabGelu',
  geluGrad: 'DifflabGeluGrad',
} as const;
