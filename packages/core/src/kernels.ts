/**
 * Names of difflab's own fused tfjs kernels. A backend package registers kernels under these
 * names where it has a fast implementation (`@difflab/runtime` does for the wasm backend); the
 * code that uses them checks `tf.getKernel(name, tf.getBackend())` and otherwise runs the same
 * math as ordinary tfjs ops. Inputs, attributes and outputs of each:
 *
 * - `DifflabGelu`: inputs { x } (float32) -> [y, cdf], cdf = Phi(x) = (1 + erf(x / sqrt 2)) / 2,
 *   y = x cdf (the exact GELU and what its derivative needs).
 * - `DifflabGeluGrad`: inputs { dy, x, cdf } -> dx = dy (cdf + x phi(x)), phi(x) = exp(-x^2/2) / sqrt(2 pi).
 * - `DifflabAdam`: inputs { p, g, m, v } (flat float32 vectors of one size), attrs { beta1, beta2,
 *   eps, stepSize = lr / (1 - beta1^t), invSqrtBc2 = 1 / sqrt(1 - beta2^t), mode, decay } ->
 *   [p', m', v'] of one Adam step; mode 0: no weight decay, 1: L2 (g += decay p), 2: decoupled
 *   AdamW (p *= decay, decay = 1 - lr wd). Same float32 operations as `@difflab/training`'s ops.
 * - `DifflabOptimizerStep`: a training step's gradient clip, Adam step and EMA update over K tensors
 *   in one kernel (torch's fused / multi-tensor AdamW plus clip_grad_norm_). Inputs { p0 .. p{K-1}
 *   (the variables' values, any shapes), g0 .. g{K-1} (their gradients, same shapes), m, v (flat
 *   [N], N the K tensors' total size, in order), shadow [N] (only when ema is 1 or 2) }, attrs
 *   `DifflabAdam`'s plus { count: K, maxNorm, ema, emaWeight } -> [p'0 .. p'{K-1}, m', v', norm,
 *   shadow' (when ema)]: norm = ||concat(g)||_2 (float32 scalar); when maxNorm > 0 the gradients
 *   are first multiplied by min(maxNorm / (norm + 1e-6), 1); then `DifflabAdam`'s step on
 *   concat(p); ema 1: shadow' = concat(p'), ema 2: shadow' = shadow - (shadow - concat(p'))
 *   emaWeight (`@difflab/training`'s EMA with emaWeight = 1 - decay), ema 0: no shadow.
 * - `DifflabLayerNorm`: inputs { x } (float32, normalised over its last axis), attrs { eps } ->
 *   [xhat, rstd], rstd = 1 / sqrt(mean((x - mean x)^2) + eps) with shape [..., 1], xhat = (x - mean x) rstd.
 * - `DifflabLayerNormGrad`: inputs { dy, xhat, rstd } -> dx = rstd (dy - mean(dy) - xhat mean(dy xhat)).
 *
 * - `DifflabConv2DFilterGrad`: inputs { x [B, H, W, Cin], dy [B, Ho, Wo, Cout] }, attrs { filterHeight,
 *   filterWidth, strideHeight, strideWidth, padTop, padLeft } -> dW [filterHeight, filterWidth, Cin, Cout],
 *   dW[kh, kw, ci, co] = sum_{b, oh, ow} x[b, oh strideHeight + kh - padTop, ow strideWidth + kw - padLeft, ci]
 *   dy[b, oh, ow, co] (x is zero outside its bounds): the filter gradient of an NHWC convolution.
 * - `DifflabConv2DInputGrad`: inputs { dy [B, Ho, Wo, Cout], filter [kh, kw, Cin, Cout] }, attrs
 *   { inputShape [B, H, W, Cin], strideHeight, strideWidth, padTop, padLeft } -> dx [B, H, W, Cin],
 *   dx[b, ih, iw, ci] = sum of dy[b, oh, ow, co] filter[kh, kw, ci, co] over oh strideHeight + kh -
 *   padTop = ih, ow strideWidth + kw - padLeft = iw: the input gradient of the same convolution.
 * - `DifflabConv2DAdd`: inputs { x [B, H, W, Cin], filter [kh, kw, Cin, Cout], bias [Cout], addend
 *   [B, 1, 1, Cout] or [B, outHeight, outWidth, Cout] }, attrs { strideHeight, strideWidth, padTop,
 *   padLeft, outHeight, outWidth } -> y [B, outHeight, outWidth, Cout] = conv(x, filter) + bias +
 *   addend (NHWC cross-correlation, zero padding): a UNet ResBlock's convolution with its time
 *   embedding (per image) or its residual (per pixel) added in the same pass. No gradient kernel:
 *   the gradients are the convolution's, the bias's and the addend's (dy, summed over the spatial
 *   axes for a per-image addend).
 *
 * - `DifflabGroupNorm`: inputs { x [B, M, C], gamma [C], beta [C] }, attrs { groups, eps } -> [y, stats]:
 *   stats [B, groups, 2] = (mean, rstd = 1 / sqrt(var + eps)) of each sample's group (M C / groups
 *   values, biased variance), y = (x - mean) rstd gamma + beta (torch nn.GroupNorm on NHWC x
 *   reshaped to [B, H W, C]).
 * - `DifflabGroupNormGrad`: inputs { dy, x, stats, gamma }, attrs { groups } -> [dx, dgamma, dbeta]
 *   of that y.
 * - `DifflabGroupNormSilu`: as `DifflabGroupNorm`, y = silu(group norm) (the norm-then-SiLU of a
 *   UNet's ResBlock in one kernel); `DifflabGroupNormSiluGrad`: inputs { dy, x, stats, gamma, beta },
 *   attrs { groups } -> [dx, dgamma, dbeta] of that y.
 *
 * - `DifflabSilu`: inputs { x } -> y = x sigmoid(x) (torch nn.SiLU); `DifflabSiluGrad`: inputs { dy, x }
 *   -> dx = dy s (1 + x (1 - s)), s = sigmoid(x) recomputed.
 *
 * - `DifflabSinusoidal`: inputs { x [N], freqs [F] } (float32), attrs { cosFirst } -> [N, 2F] =
 *   [sin(x f), cos(x f)] per row ([cos, sin] when cosFirst), x f the float32 product: the
 *   sinusoidal features of @difflab/embeddings in one kernel instead of Mul, Sin, Cos and Concat.
 *   No gradient (the features of timesteps and noisy inputs are constants of the model).
 *
 * - `DifflabResidualMlp`: inputs { x [N, D0], w0 [D0, H], b0 [H], w1, b1, .. (K blocks [H, H], [H]),
 *   w{K+1} [H, Dout], b{K+1} [Dout] }, attrs { act: 'gelu' | 'silu' | 'relu', blocks: K } ->
 *   [y [N, Dout], saved [K+1, 3, N, H]]: h_0 = act(x w0 + b0), h_l = h_{l-1} + act(h_{l-1} wl + bl),
 *   y = h_K w{K+1} + b{K+1} (tiny-diffusion's MLP; GELU exact). saved[l] = (z_l, Phi(z_l) for GELU,
 *   h_l), z_l the pre-activation: what the gradient kernel reads, opaque otherwise.
 * - `DifflabResidualMlpGrad`: inputs { dy [N, Dout], x, saved, w0 .. w{K+1} }, attrs { act, blocks,
 *   inputGrad } -> [dw0, db0, .., dw{K+1}, db{K+1}] and, when inputGrad, dx [N, D0] last.
 *
 * - `DifflabAttention`: inputs { qkv [B N, 3 W] } (a fused q, k, v projection, columns ordered
 *   (3, heads, d) as torch's `qkv(x).reshape(B, N, 3, heads, d)`, W = heads d), attrs { batch: B,
 *   heads } -> [out [B N, W], weights [B heads, N, N]]: per sample and head, weights =
 *   softmax(q k^T / sqrt(d)) over the last axis and out = weights v, heads side by side.
 * - `DifflabAttentionGrad`: inputs { dy [B N, W], qkv, weights }, attrs { batch, heads } -> dqkv [B N, 3 W].
 *
 * `@difflab/runtime` registers them for the webgpu backend (WGSL; all but the input gradient, for
 * which tfjs-webgpu's Conv2DBackpropInput is used, and the optimizer step), and for wasm the first
 * three (WebAssembly SIMD) and, in Node with its native addon (OpenBLAS, vectorised C), all of them.
 */
export const DIFFLAB_KERNELS = {
  gelu: 'DifflabGelu',
  geluGrad: 'DifflabGeluGrad',
  adam: 'DifflabAdam',
  optimizerStep: 'DifflabOptimizerStep',
  layerNorm: 'DifflabLayerNorm',
  layerNormGrad: 'DifflabLayerNormGrad',
  conv2dFilterGrad: 'DifflabConv2DFilterGrad',
  conv2dInputGrad: 'DifflabConv2DInputGrad',
  conv2dAdd: 'DifflabConv2DAdd',
  groupNorm: 'DifflabGroupNorm',
  groupNormGrad: 'DifflabGroupNormGrad',
  groupNormSilu: 'DifflabGroupNormSilu',
  groupNormSiluGrad: 'DifflabGroupNormSiluGrad',
  silu: 'DifflabSilu',
  siluGrad: 'DifflabSiluGrad',
  sinusoidal: 'DifflabSinusoidal',
  residualMlp: 'DifflabResidualMlp',
  residualMlpGrad: 'DifflabResidualMlpGrad',
  attention: 'DifflabAttention',
  attentionGrad: 'DifflabAttentionGrad',
} as const;

/**
 * The mark @difflab/runtime sets on the kernelFunc of each wasm kernel that runs on its native
 * addon (`kernelFunc[NATIVE_KERNEL_MARK] === true`): how model code tells a native Sum from
 * tfjs-backend-wasm's where the choice of formulation depends on it (see `isNativeKernel`).
 */
export const NATIVE_KERNEL_MARK: unique symbol = Symbol.for('difflab.wasmNativeKernel');

/** Whether `kernel` carries NATIVE_KERNEL_MARK. */
export function isNativeKernel(kernel: { kernelFunc: unknown } | undefined): boolean {
  return !!kernel && (kernel.kernelFunc as Record<symbol, unknown>)[NATIVE_KERNEL_MARK] === true;
}
