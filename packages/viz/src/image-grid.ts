import { ConfigError } from '@difflab/core';
import type { ColorLike } from './color.js';
import { Raster } from './raster.js';

export interface ImageGridOptions {
  /** Number of images; default `images.length / (h * w * c)`. */
  n?: number;
  /** Image height in pixels. */
  h: number;
  /** Image width in pixels. */
  w: number;
  /** Channels: 1 (grey), 3 (RGB) or 4 (RGBA). */
  c: number;
  /** Images per row. Default ceil(sqrt(n)). */
  cols?: number;
  /** Integer nearest-neighbour upscaling of each image. Default 1. */
  scale?: number;
  /** Pixels between images and around the grid. Default 2. */
  padding?: number;
  /** Value range mapped to 0..255: [lo, hi], or 'auto' (default): [-1, 1] when any value
   * is negative, else [0, 1]. Values outside are clipped. */
  range?: readonly [number, number] | 'auto';
  /** Colour of the padding. Default white. */
  background?: ColorLike;
}

/**
 * Tile N images stored as NHWC floats (e.g. `await samples.data()` of an [N, H, W, C] tensor)
 * into one raster, row by row.
 */
export function imageGrid(images: ArrayLike<number>, opts: ImageGridOptions): Raster {
  const { h, w, c } = opts;
  for (const [k, v] of [
    ['h', h],
    ['w', w],
    ['c', c],
  ] as const) {
    if (!Number.isInteger(v) || v < 1) throw new ConfigError(`imageGrid.${k}`, `must be a positive integer, got ${v}`);
  }
  if (c !== 1 && c !== 3 && c !== 4) throw new ConfigError('imageGrid.c', `must be 1, 3 or 4 channels, got ${c}`);
  const per = h * w * c;
  const n = opts.n ?? Math.floor(images.length / per);
  if (!Number.isInteger(n) || n < 1) throw new ConfigError('imageGrid.n', `must be a positive integer, got ${n}`);
  if (images.length < n * per) {
    throw new ConfigError('imageGrid.images', `has ${images.length} values, fewer than n*h*w*c = ${n}*${h}*${w}*${c} = ${n * per}`);
  }
  const scale = opts.scale ?? 1;
  if (!Number.isInteger(scale) || scale < 1) throw new ConfigError('imageGrid.scale', `must be a positive integer, got ${scale}`);
  const pad = opts.padding ?? 2;
  if (!Number.isInteger(pad) || pad < 0) throw new ConfigError('imageGrid.padding', `must be a non-negative integer, got ${pad}`);
  const cols = Math.min(opts.cols ?? Math.ceil(Math.sqrt(n)), n);
  if (!Number.isInteger(cols) || cols < 1) throw new ConfigError('imageGrid.cols', `must be a positive integer, got ${opts.cols}`);
  let range: readonly [number, number];
  if (opts.range === undefined || opts.range === 'auto') {
    let neg = false;
    for (let i = 0; i < n * per && !neg; i++) if (images[i]! < 0) neg = true;
    range = neg ? [-1, 1] : [0, 1];
  } else range = opts.range;
  const [lo, hi] = range;
  if (!(Number.isFinite(lo) && Number.isFinite(hi) && hi > lo)) throw new ConfigError('imageGrid.range', `must be [lo, hi] with lo < hi, got ${JSON.stringify(range)}`);
  const rows = Math.ceil(n / cols);
  const cw = w * scale;
  const chh = h * scale;
  const out = new Raster(cols * cw + (cols + 1) * pad, rows * chh + (rows + 1) * pad, opts.background ?? '#ffffff');
  const d = out.data;
  const k = 255 / (hi - lo);
  const byte = (v: number) => (Number.isFinite(v) ? (v - lo) * k : 0); // Uint8ClampedArray rounds and clips
  for (let img = 0; img < n; img++) {
    const ox = pad + (img % cols) * (cw + pad);
    const oy = pad + Math.floor(img / cols) * (chh + pad);
    const base = img * per;
    for (let y = 0; y < chh; y++) {
      const sy = Math.floor(y / scale);
      for (let x = 0; x < cw; x++) {
        const s = base + (sy * w + Math.floor(x / scale)) * c;
        const o = ((oy + y) * out.width + ox + x) * 4;
        if (c === 1) d[o] = d[o + 1] = d[o + 2] = byte(images[s]!);
        else {
          d[o] = byte(images[s]!);
          d[o + 1] = byte(images[s + 1]!);
          d[o + 2] = byte(images[s + 2]!);
        }
        d[o + 3] = c === 4 ? byte(images[s + 3]!) : 255;
      }
    }
  }
  return out;
}
