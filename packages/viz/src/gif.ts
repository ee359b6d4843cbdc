import { ConfigError } from '@difflab/core';
import * as gifencNs from 'gifenc';
import { type ColorLike, parseColor } from './color.js';
import type { Raster } from './raster.js';

// gifenc's CommonJS build (what Node loads) exposes its functions on the default export only;
// its ESM build (what browser bundlers load) has them as named exports. Accept both.
const gifenc: typeof gifencNs = (gifencNs as { GIFEncoder?: unknown }).GIFEncoder
  ? gifencNs
  : (gifencNs as unknown as { default: typeof gifencNs }).default;

export interface GifOptions {
  /** Delay per frame in milliseconds (GIF stores 1/100 s), one number or one per frame. Default 100. */
  delayMs?: number | readonly number[];
  /** true (default): loop forever; false: play once; n: play n + 1 times (n extra loops). */
  loop?: boolean | number;
  /** 'shared' (default): one palette quantized from all frames, written once (steady colours,
   * smaller file); 'per-frame': each frame gets its own palette. */
  palette?: 'shared' | 'per-frame';
  /** Palette size, 2..256. Default 256. */
  maxColors?: number;
  /** Colour that translucent pixels are flattened onto (GIF has no partial alpha). Default white. */
  background?: ColorLike;
}

/** RGBA bytes with alpha flattened onto `bg` (a copy only when some pixel is translucent). */
function opaque(r: Raster, bg: readonly [number, number, number, number]): Uint8ClampedArray {
  const d = r.data;
  let translucent = false;
  for (let i = 3; i < d.length; i += 4) {
    if (d[i] !== 255) {
      translucent = true;
      break;
    }
  }
  if (!translucent) return d;
  const out = new Uint8ClampedArray(d.length);
  for (let i = 0; i < d.length; i += 4) {
    const a = d[i + 3]! / 255;
    out[i] = d[i]! * a + bg[0] * (1 - a);
    out[i + 1] = d[i + 1]! * a + bg[1] * (1 - a);
    out[i + 2] = d[i + 2]! * a + bg[2] * (1 - a);
    out[i + 3] = 255;
  }
  return out;
}

/**
 * Encode frames (all the same size) as an animated GIF89a with gifenc (PnnQuant colour
 * quantization, nearest-colour mapping, LZW). Runs in Node and the browser.
 */
export function encodeGif(frames: readonly Raster[], opts: GifOptions = {}): Uint8Array {
  if (frames.length === 0) throw new ConfigError('encodeGif.frames', 'needs at least one frame');
  const { width, height } = frames[0]!;
  frames.forEach((f, i) => {
    if (f.width !== width || f.height !== height) {
      throw new ConfigError(`encodeGif.frames[${i}]`, `is ${f.width}x${f.height}, frames must all be ${width}x${height}`);
    }
  });
  const delays = opts.delayMs ?? 100;
  if (Array.isArray(delays) && delays.length !== frames.length) {
    throw new ConfigError('encodeGif.delayMs', `has ${delays.length} delays for ${frames.length} frames`);
  }
  const delayOf = (i: number): number => (typeof delays === 'number' ? delays : (delays as readonly number[])[i]!);
  for (let i = 0; i < frames.length; i++) {
    const d = delayOf(i);
    if (!(d >= 0 && d <= 655350)) throw new ConfigError('encodeGif.delayMs', `must be 0..655350 ms, got ${d}`);
  }
  const loop = opts.loop ?? true;
  const repeat = loop === true ? 0 : loop === false ? -1 : loop;
  if (!Number.isInteger(repeat) || repeat < -1 || repeat > 65535) throw new ConfigError('encodeGif.loop', `must be true, false or an integer 1..65535, got ${loop}`);
  const maxColors = opts.maxColors ?? 256;
  if (!Number.isInteger(maxColors) || maxColors < 2 || maxColors > 256) throw new ConfigError('encodeGif.maxColors', `must be an integer 2..256, got ${maxColors}`);
  const mode = opts.palette ?? 'shared';
  if (mode !== 'shared' && mode !== 'per-frame') throw new ConfigError('encodeGif.palette', `must be 'shared' or 'per-frame', got '${mode}'`);
  const bg = parseColor(opts.background ?? '#ffffff', 'encodeGif.background');
  const pixels = frames.map((f) => opaque(f, bg));

  let shared: number[][] | undefined;
  if (mode === 'shared') {
    // quantize a sample of all frames (at most ~4M pixels; the quantizer's cost is linear)
    const per = width * height;
    const stride = Math.max(1, Math.ceil((per * frames.length) / 4_000_000));
    const take = Math.ceil(per / stride);
    const sample = new Uint8ClampedArray(take * frames.length * 4);
    let o = 0;
    for (const p of pixels) {
      for (let k = 0; k < per; k += stride) {
        sample.set(p.subarray(k * 4, k * 4 + 4), o);
        o += 4;
      }
    }
    shared = gifenc.quantize(sample.subarray(0, o), maxColors);
  }
  const gif = gifenc.GIFEncoder();
  pixels.forEach((p, i) => {
    const palette = shared ?? gifenc.quantize(p, maxColors);
    const index = gifenc.applyPalette(p, palette);
    gif.writeFrame(index, width, height, {
      palette: shared && i > 0 ? undefined : palette,
      delay: delayOf(i),
      repeat,
    });
  });
  gif.finish();
  return gif.bytes();
}
