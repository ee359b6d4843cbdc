import { ConfigError } from '@difflab/core';
import { describe, expect, it } from 'vitest';
import { encodeGif } from './gif.js';
import { Raster } from './raster.js';

interface GifFrame {
  delayCs: number;
  width: number;
  height: number;
  palette: number[][];
  pixels: Uint8Array; // palette indices
}

/** Minimal GIF89a reader (spec: https://www.w3.org/Graphics/GIF/spec-gif89a.txt) with an LZW decoder. */
function readGif(b: Uint8Array) {
  const header = String.fromCharCode(...b.slice(0, 6));
  const u16 = (i: number) => b[i]! | (b[i + 1]! << 8);
  const width = u16(6);
  const height = u16(8);
  let p = 13;
  let global: number[][] = [];
  const table = (flags: number, at: number) => {
    const n = 2 << (flags & 7);
    const t: number[][] = [];
    for (let i = 0; i < n; i++) t.push([b[at + 3 * i]!, b[at + 3 * i + 1]!, b[at + 3 * i + 2]!]);
    return t;
  };
  if (b[10]! & 0x80) {
    global = table(b[10]!, 13);
    p += 3 * global.length;
  }
  const subBlocks = () => {
    const parts: number[] = [];
    while (b[p]! !== 0) {
      const n = b[p]!;
      parts.push(...b.slice(p + 1, p + 1 + n));
      p += n + 1;
    }
    p++;
    return Uint8Array.from(parts);
  };
  const frames: GifFrame[] = [];
  let delayCs = 0;
  let loop: number | null = null;
  let trailer = false;
  while (p < b.length) {
    const tag = b[p++]!;
    if (tag === 0x3b) {
      trailer = true;
      break;
    }
    if (tag === 0x21) {
      const label = b[p++]!;
      const data = subBlocks();
      if (label === 0xf9) delayCs = data[1]! | (data[2]! << 8);
      if (label === 0xff && String.fromCharCode(...data.slice(0, 11)) === 'NETSCAPE2.0') loop = data[12]! | (data[13]! << 8);
    } else if (tag === 0x2c) {
      const w = u16(p + 4);
      const h = u16(p + 6);
      const flags = b[p + 8]!;
      p += 9;
      let palette = global;
      if (flags & 0x80) {
        palette = table(flags, p);
        p += 3 * palette.length;
      }
      const minCode = b[p++]!;
      frames.push({ delayCs, width: w, height: h, palette, pixels: lzwDecode(subBlocks(), minCode, w * h) });
    } else throw new Error(`bad block 0x${tag.toString(16)} at ${p - 1}`);
  }
  return { header, width, height, frames, loop, trailer };
}

function lzwDecode(data: Uint8Array, minCode: number, count: number): Uint8Array {
  const clear = 1 << minCode;
  const eoi = clear + 1;
  const out = new Uint8Array(count);
  let o = 0;
  let dict: number[][] = [];
  let size = minCode + 1;
  let prev: number[] | null = null;
  let bit = 0;
  const reset = () => {
    dict = Array.from({ length: clear + 2 }, (_, i) => [i]);
    size = minCode + 1;
    prev = null;
  };
  reset();
  while (bit + size <= data.length * 8) {
    let code = 0;
    for (let i = 0; i < size; i++, bit++) code |= ((data[bit >> 3]! >> (bit & 7)) & 1) << i;
    if (code === clear) {
      reset();
      continue;
    }
    if (code === eoi) break;
    let entry: number[];
    if (code < dict.length) entry = dict[code]!;
    else if (prev) entry = [...prev, prev[0]!];
    else throw new Error('bad LZW code');
    for (const v of entry) if (o < count) out[o++] = v;
    if (prev && dict.length < 4096) dict.push([...prev, entry[0]!]);
    prev = entry;
    if (dict.length === 1 << size && size < 12) size++;
  }
  return out;
}

function frame(color: string): Raster {
  const r = new Raster(16, 12, '#ffffff');
  r.fillRect(4, 3, 8, 6, color);
  return r;
}

describe('encodeGif', () => {
  const frames = [frame('#1f77b4'), frame('#ff7f0e'), frame('#2ca02c')];

  it('writes a looping GIF89a with one image per frame and the delays', () => {
    const bytes = encodeGif(frames, { delayMs: 120 });
    const g = readGif(bytes);
    expect(g.header).toBe('GIF89a');
    expect([g.width, g.height]).toEqual([16, 12]);
    expect(g.frames.length).toBe(3);
    expect(g.frames.map((f) => f.delayCs)).toEqual([12, 12, 12]);
    expect(g.loop).toBe(0); // forever
    expect(g.trailer).toBe(true);
  });

  it('keeps the pixel colours (shared and per-frame palettes)', () => {
    for (const palette of ['shared', 'per-frame'] as const) {
      const g = readGif(encodeGif(frames, { palette, delayMs: [10, 20, 30], loop: false }));
      expect(g.frames.map((f) => f.delayCs)).toEqual([1, 2, 3]);
      expect(g.loop).toBe(null); // play once: no NETSCAPE block
      const colourAt = (f: GifFrame, x: number, y: number) => f.palette[f.pixels[y * f.width + x]!]!;
      const want = [
        [31, 119, 180],
        [255, 127, 14],
        [44, 160, 44],
      ];
      g.frames.forEach((f, i) => {
        expect([f.width, f.height]).toEqual([16, 12]);
        // rgb565 quantization: within 8 levels per channel
        colourAt(f, 6, 5).forEach((v, k) => {
          expect(Math.abs(v - want[i]![k]!)).toBeLessThanOrEqual(8);
        });
        for (const v of colourAt(f, 0, 0)) expect(v).toBeGreaterThanOrEqual(247);
      });
    }
  });

  it('flattens translucent pixels onto the background', () => {
    const r = new Raster(4, 4, 'transparent');
    const g = readGif(encodeGif([r], { background: '#000000' }));
    const f = g.frames[0]!;
    expect(f.palette[f.pixels[0]!]).toEqual([0, 0, 0]);
  });

  it('checks its input', () => {
    expect(() => encodeGif([])).toThrow(ConfigError);
    expect(() => encodeGif([frame('#000'), new Raster(8, 8)])).toThrow(/frames\[1\]: is 8x8, frames must all be 16x12/);
    expect(() => encodeGif(frames, { delayMs: [1, 2] })).toThrow(/has 2 delays for 3 frames/);
    expect(() => encodeGif(frames, { maxColors: 1 })).toThrow(/maxColors: must be an integer 2\.\.256/);
  });
});
