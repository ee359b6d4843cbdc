/**
 * Convolutions for tfjs-backend-wasm in Node on difflab-blas (native/conv.c), in place in the wasm
 * heap: where the addon was built with AVX-512 and Cout is a multiple of 16 (from 8 input
 * channels), direct loops with no im2col matrix (output rows accumulated tap by tap, 6-24 pixels
 * x 16-64 channels in registers; dx of a stride-1 conv as the forward conv of dy with the flipped
 * filter; dW in 8 fixed row blocks summed in order); otherwise im2col rows of a few images at a
 * time, then OpenBLAS's sgemm. `DIFFLAB_DIRECT_CONV=0` (read once) takes the second path always.
 *
 * - Conv2D / FusedConv2D (NHWC, dilation 1; bias of Cout values, linear or relu): replace
 *   tfjs-backend-wasm's XNNPACK convolution (WebAssembly SIMD, 128-bit, ~5x slower here);
 *   anything else goes to the kernel registered before.
 * - `DifflabConv2DFilterGrad` and `DifflabConv2DInputGrad` (names and contracts in
 *   @difflab/core's DIFFLAB_KERNELS): a convolution's dW = im2col(x)^T dy and dx = col2im(dy W^T),
 *   which @difflab/models uses when registered (otherwise it computes both as forward convolutions
 *   of transposed / dilated tensors).
 */
import { DIFFLAB_KERNELS } from '@difflab/core';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import type { NativeBlas } from './native-blas.js';
import { heapF32 } from './native-matmul.js';
import type { WasmBackend } from './speed-heap.js';
import type { Conv2DFilterGradAttrs } from '../webgpu-conv-filter-grad.js';

const off = (backend: WasmBackend, t: TensorInfo) => backend.dataIdMap.get(t.dataId).memoryOffset >>> 2;

interface ConvAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat?: 'NHWC' | 'NCHW';
  dilations?: number | [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  activation?: string;
}

/** Conv2D or FusedConv2D on OpenBLAS; `fallback` (the kernel registered before) for the rest. */
export function makeNativeConv(kernelName: typeof tf.Conv2D | typeof tf.FusedConv2D, blas: NativeBlas, fallback: KernelConfig): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const { x, filter, bias, preluActivationWeights } = args.inputs as { x: TensorInfo; filter: TensorInfo; bias?: TensorInfo; preluActivationWeights?: TensorInfo };
    const attrs = args.attrs as unknown as ConvAttrs;
    const act = attrs.activation ?? 'linear';
    const dil = attrs.dilations ?? 1;
    const plain =
      x.dtype === 'float32' &&
      filter.dtype === 'float32' &&
      x.shape.length === 4 &&
      filter.shape.length === 4 &&
      (attrs.dataFormat ?? 'NHWC') === 'NHWC' &&
      (dil === 1 || (Array.isArray(dil) && dil[0] === 1 && dil[1] === 1)) &&
      !preluActivationWeights &&
      (act === 'linear' || act === 'relu') &&
      x.shape[3] === filter.shape[2] &&
      (!bias || (bias.dtype === 'float32' && tf.util.sizeFromShape(bias.shape) === filter.shape[3]));
    if (!plain) return fallback.kernelFunc(args);
    const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filter.shape as [number, number, number, number], attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, 'channelsLast');
    if (info.outHeight < 1 || info.outWidth < 1 || info.padInfo.top < 0 || info.padInfo.left < 0) return fallback.kernelFunc(args);
    const backend = args.backend as WasmBackend;
    const [B, H, W, Cin] = x.shape;
    const [kh, kw, , Cout] = filter.shape;
    const out = backend.makeOutput([B, info.outHeight, info.outWidth, Cout], 'float32');
    const heap = heapF32(backend);
    try {
      blas.conv2d(heap, off(backend, x), B, H, W, Cin, off(backend, filter), kh, kw, Cout, info.strideHeight, info.strideWidth, info.padInfo.top, info.padInfo.left, info.outHeight, info.outWidth, off(backend, out), bias ? off(backend, bias) : -1, act === 'relu' ? 4 : 0, -1, 0);
    } catch (e) {
      backend.disposeData(out.dataId);
      throw e;
    }
    return out;
  };
  return { kernelName, backendName: 'wasm', setupFunc: fallback.setupFunc, kernelFunc };
}

/** `DifflabConv2DAdd`'s attributes (the contract in @difflab/core). */
interface ConvAddAttrs {
  strideHeight: number;
  strideWidth: number;
  padTop: number;
  padLeft: number;
  outHeight: number;
  outWidth: number;
}

/**
 * `DifflabConv2DAdd`: y = conv(x, filter) + bias + addend in one pass, the addend [B, 1, 1, Cout]
 * (per image: a UNet's time embedding) or [B, Ho, Wo, Cout] (a residual); the output starts as
 * bias + addend and the convolution accumulates onto it.
 */
export function makeNativeConvAdd(blas: NativeBlas): KernelConfig {
  const name = DIFFLAB_KERNELS.conv2dAdd;
  const kernelFunc: KernelFunc = ({ inputs, attrs, backend: b }) => {
    const { x, filter, bias, addend } = inputs as { x: TensorInfo; filter: TensorInfo; bias: TensorInfo; addend: TensorInfo };
    const a = attrs as unknown as ConvAddAttrs;
    for (const [k, t] of [['x', x], ['filter', filter], ['bias', bias], ['addend', addend]] as const)
      if (t.dtype !== 'float32') throw new Error(`${name}: ${k} must be float32, got ${t.dtype}`);
    if (x.shape.length !== 4 || filter.shape.length !== 4 || x.shape[3] !== filter.shape[2])
      throw new Error(`${name}: x [B, H, W, Cin] and filter [kh, kw, Cin, Cout] must agree, got [${x.shape}] and [${filter.shape}]`);
    const [B, H, W, Cin] = x.shape;
    const [kh, kw, , Cout] = filter.shape;
    const { outHeight: Ho, outWidth: Wo } = a;
    const perImage = addend.shape.length === 4 && addend.shape[0] === B && addend.shape[1] === 1 && addend.shape[2] === 1 && addend.shape[3] === Cout;
    const perPixel = addend.shape.length === 4 && addend.shape[0] === B && addend.shape[1] === Ho && addend.shape[2] === Wo && addend.shape[3] === Cout;
    if (!perImage && !perPixel) throw new Error(`${name}: addend must be [${B}, 1, 1, ${Cout}] or [${B}, ${Ho}, ${Wo}, ${Cout}], got [${addend.shape}]`);
    if (tf.util.sizeFromShape(bias.shape) !== Cout) throw new Error(`${name}: bias must hold ${Cout} values, got [${bias.shape}]`);
    const backend = b as WasmBackend;
    const out = backend.makeOutput([B, Ho, Wo, Cout], 'float32');
    const heap = heapF32(backend);
    try {
      blas.conv2d(heap, off(backend, x), B, H, W, Cin, off(backend, filter), kh, kw, Cout, a.strideHeight, a.strideWidth, a.padTop, a.padLeft, Ho, Wo, off(backend, out), off(backend, bias), 0, off(backend, addend), perImage ? 1 : 2);
    } catch (e) {
      backend.disposeData(out.dataId);
      throw e;
    }
    return out;
  };
  return { kernelName: name, backendName: 'wasm', kernelFunc };
}

/** The filter gradient's attributes (the contract of DIFFLAB_KERNELS.conv2dFilterGrad). */
type GradAttrs = Conv2DFilterGradAttrs;

/** `DifflabConv2DFilterGrad`: im2col(x)^T dy. */
export function makeNativeFilterGrad(blas: NativeBlas): KernelConfig {
  const kernelFunc: KernelFunc = ({ inputs, attrs, backend: b }) => {
    const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
    const a = attrs as unknown as GradAttrs;
    const backend = b as WasmBackend;
    const [B, H, W, Cin] = x.shape;
    const [, Ho, Wo, Cout] = dy.shape;
    const out = backend.makeOutput([a.filterHeight, a.filterWidth, Cin, Cout], 'float32');
    const heap = heapF32(backend);
    try {
      blas.convFilterGrad(heap, off(backend, x), B, H, W, Cin, off(backend, dy), Ho, Wo, Cout, a.filterHeight, a.filterWidth, a.strideHeight, a.strideWidth, a.padTop, a.padLeft, off(backend, out));
    } catch (e) {
      backend.disposeData(out.dataId);
      throw e;
    }
    return out;
  };
  return { kernelName: DIFFLAB_KERNELS.conv2dFilterGrad, backendName: 'wasm', kernelFunc };
}

/** `DifflabConv2DInputGrad`: col2im(dy W^T). */
export function makeNativeInputGrad(blas: NativeBlas): KernelConfig {
  const kernelFunc: KernelFunc = ({ inputs, attrs, backend: b }) => {
    const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
    const a = attrs as unknown as Omit<GradAttrs, 'filterHeight' | 'filterWidth'> & { inputShape: number[] };
    const backend = b as WasmBackend;
    const [B, H, W, Cin] = a.inputShape;
    const [, Ho, Wo, Cout] = dy.shape;
    const [kh, kw] = filter.shape;
    const out = backend.makeOutput([B, H, W, Cin], 'float32');
    const heap = heapF32(backend);
    try {
      blas.convInputGrad(heap, off(backend, dy), B, Ho, Wo, Cout, off(backend, filter), kh, kw, Cin, a.strideHeight, a.strideWidth, a.padTop, a.padLeft, H, W, off(backend, out));
    } catch (e) {
      backend.disposeData(out.dataId);
      throw e;
    }
    return out;
  };
  return { kernelName: DIFFLAB_KERNELS.conv2dInputGrad, backendName: 'wasm', kernelFunc };
}
