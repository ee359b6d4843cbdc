import { ConfigError } from '@difflab/core';
import { type ColorLike, parseColor, type Rgba } from './color.js';

/** Inclusive pixel rectangle drawing is restricted to. */
export interface ClipRect {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/**
 * An RGBA8 image in memory (row-major, 4 bytes per pixel, non-premultiplied alpha), the common
 * surface for every figure. Coordinates are in pixels with pixel (i, j) centred at (i, j):
 * a disc at (3, 4) is centred on pixel column 3, row 4 (row 0 is the top).
 *
 * Drawing blends "source over" (Porter & Duff 1984), so a colour with alpha < 1 lets what is
 * below show through. Anti-aliased shapes (discs, lines) use the coverage approximation
 * `clamp(radius + 0.5 - distance, 0, 1)` of the pixel centre's distance to the shape.
 * No DOM or Node APIs: the same code runs in Node and in the browser (see `toImageData`).
 */
export class Raster {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8ClampedArray;
  /** When set, drawing only touches pixels inside this rectangle (inclusive). */
  clip: ClipRect | null = null;

  constructor(width: number, height: number, background: ColorLike = '#ffffff', data?: Uint8ClampedArray) {
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
      throw new ConfigError('raster', `size must be positive integers, got ${width}x${height}`);
    }
    this.width = width;
    this.height = height;
    if (data) {
      if (data.length !== width * height * 4) {
        throw new ConfigError('raster', `data has ${data.length} bytes, expected ${width}x${height}x4 = ${width * height * 4}`);
      }
      this.data = data;
    } else {
      this.data = new Uint8ClampedArray(width * height * 4);
      this.fill(background);
    }
  }

  /** Wrap (without copying) RGBA bytes, e.g. a decoded PNG or a canvas' ImageData.data. */
  static fromRGBA(width: number, height: number, data: Uint8Array | Uint8ClampedArray): Raster {
    const view = data instanceof Uint8ClampedArray ? data : new Uint8ClampedArray(data.buffer, data.byteOffset, data.length);
    return new Raster(width, height, undefined, view);
  }

  clone(): Raster {
    const r = new Raster(this.width, this.height, undefined, new Uint8ClampedArray(this.data));
    r.clip = this.clip ? { ...this.clip } : null;
    return r;
  }

  /** Overwrite every pixel (ignores the clip). */
  fill(color: ColorLike): this {
    const [r, g, b, a] = parseColor(color);
    const d = this.data;
    const A = Math.round(a * 255);
    for (let i = 0; i < d.length; i += 4) {
      d[i] = r;
      d[i + 1] = g;
      d[i + 2] = b;
      d[i + 3] = A;
    }
    return this;
  }

  /** [r, g, b, a] bytes of a pixel (a in 0..255); out-of-range gives [0, 0, 0, 0]. */
  getPixel(x: number, y: number): [number, number, number, number] {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return [0, 0, 0, 0];
    const i = (y * this.width + x) * 4;
    const d = this.data;
    return [d[i]!, d[i + 1]!, d[i + 2]!, d[i + 3]!];
  }

  /** Overwrite one pixel, no blending (respects the clip). */
  setPixel(x: number, y: number, color: ColorLike): this {
    x = Math.round(x);
    y = Math.round(y);
    if (!this.inside(x, y)) return this;
    const [r, g, b, a] = parseColor(color);
    const i = (y * this.width + x) * 4;
    this.data[i] = r;
    this.data[i + 1] = g;
    this.data[i + 2] = b;
    this.data[i + 3] = Math.round(a * 255);
    return this;
  }

  /** Blend a colour onto one pixel with opacity `alpha * colour alpha` (source over). */
  blendPixel(x: number, y: number, color: ColorLike, alpha = 1): this {
    const c = parseColor(color);
    this.blend(Math.round(x), Math.round(y), c, c[3] * alpha);
    return this;
  }

  /** Fill the pixels [x, x + w) x [y, y + h) (integer-rounded), blended. */
  fillRect(x: number, y: number, w: number, h: number, color: ColorLike, alpha = 1): this {
    const c = parseColor(color);
    const a = c[3] * alpha;
    const x0 = Math.round(x);
    const y0 = Math.round(y);
    const x1 = Math.round(x + w);
    const y1 = Math.round(y + h);
    for (let j = y0; j < y1; j++) for (let i = x0; i < x1; i++) this.blend(i, j, c, a);
    return this;
  }

  /** Outline of the rectangle whose corner pixels are (x, y) and (x + w - 1, y + h - 1). */
  strokeRect(x: number, y: number, w: number, h: number, color: ColorLike, lineWidth = 1, alpha = 1): this {
    const t = Math.max(1, Math.round(lineWidth));
    this.fillRect(x, y, w, t, color, alpha);
    this.fillRect(x, y + h - t, w, t, color, alpha);
    this.fillRect(x, y + t, t, h - 2 * t, color, alpha);
    this.fillRect(x + w - t, y + t, t, h - 2 * t, color, alpha);
    return this;
  }

  /**
   * Anti-aliased filled disc of radius `r` pixels centred at (cx, cy). Radii below 0.5 draw a
   * single pixel with opacity scaled by the disc's area.
   */
  fillCircle(cx: number, cy: number, r: number, color: ColorLike, alpha = 1): this {
    const c = parseColor(color);
    const a = c[3] * alpha;
    if (!(r > 0) || !Number.isFinite(cx) || !Number.isFinite(cy)) return this;
    if (r < 0.5) {
      this.blend(Math.round(cx), Math.round(cy), c, a * Math.min(1, Math.PI * r * r));
      return this;
    }
    const R = r + 0.5;
    const x0 = Math.floor(cx - R);
    const x1 = Math.ceil(cx + R);
    const y0 = Math.floor(cy - R);
    const y1 = Math.ceil(cy + R);
    for (let j = y0; j <= y1; j++) {
      for (let i = x0; i <= x1; i++) {
        const cov = R - Math.hypot(i - cx, j - cy);
        if (cov > 0) this.blend(i, j, c, a * Math.min(cov, 1));
      }
    }
    return this;
  }

  /** Anti-aliased ring (circle outline) of the given stroke width. */
  strokeCircle(cx: number, cy: number, r: number, color: ColorLike, lineWidth = 1, alpha = 1): this {
    const c = parseColor(color);
    const a = c[3] * alpha;
    const hw = lineWidth / 2;
    const R = r + hw + 0.5;
    for (let j = Math.floor(cy - R); j <= Math.ceil(cy + R); j++) {
      for (let i = Math.floor(cx - R); i <= Math.ceil(cx + R); i++) {
        const cov = hw + 0.5 - Math.abs(Math.hypot(i - cx, j - cy) - r);
        if (cov > 0) this.blend(i, j, c, a * Math.min(cov, 1));
      }
    }
    return this;
  }

  /**
   * Anti-aliased line segment of stroke width `lineWidth` with round caps: each pixel's
   * coverage is `clamp(lineWidth / 2 + 0.5 - d, 0, 1)`, d its distance to the segment.
   */
  drawLine(x0: number, y0: number, x1: number, y1: number, color: ColorLike, lineWidth = 1, alpha = 1): this {
    const c = parseColor(color);
    this.segment(x0, y0, x1, y1, c, c[3] * alpha, lineWidth / 2, null);
    return this;
  }

  /**
   * A connected line through (xs[i], ys[i]); non-finite coordinates break it. Pixels where
   * segments meet are blended once (max coverage), so translucent lines have no dark joints.
   */
  drawPolyline(xs: ArrayLike<number>, ys: ArrayLike<number>, color: ColorLike, lineWidth = 1, alpha = 1): this {
    const c = parseColor(color);
    const cover = new Map<number, number>();
    for (let k = 1; k < xs.length; k++) {
      const ax = xs[k - 1]!;
      const ay = ys[k - 1]!;
      const bx = xs[k]!;
      const by = ys[k]!;
      if (![ax, ay, bx, by].every(Number.isFinite)) continue;
      this.segment(ax, ay, bx, by, c, 1, lineWidth / 2, cover);
    }
      for (let k = 0; k < xs.length; k++) {
        const prevOk = k > 0 && Number.isFinite(xs[k - 1]!) && Number.isFinite(ys[k - 1]!);
        const nextOk = k + 1 < xs.length && Number.isFinite(xs[k + 1]!) && Number.isFinite(ys[k + 1]!);
        if (!prevOk && !nextOk && Number.isFinite(xs[k]!) && Number.isFinite(ys[k]!)) {
          this.fillCircle(xs[k]!, ys[k]!, Math.max(lineWidth / 2, 0.75), c, alpha);
        }
      }
    const a = c[3] * alpha;
    for (const [key, cov] of cover) this.blend(key % this.width, Math.floor(key / this.width), c, a * cov);
    return this;
  }

  /** Composite another raster onto this one with its top-left corner at (dx, dy). */
  blit(src: Raster, dx: number, dy: number, alpha = 1): this {
    dx = Math.round(dx);
    dy = Math.round(dy);
    const s = src.data;
    for (let j = 0; j < src.height; j++) {
      for (let i = 0; i < src.width; i++) {
        const k = (j * src.width + i) * 4;
        const sa = (s[k + 3]! / 255) * alpha;
        if (sa > 0) this.blend(dx + i, dy + j, [s[k]!, s[k + 1]!, s[k + 2]!, 1], sa);
      }
    }
    return this;
  }

  /** Nearest-neighbour upscale by an integer factor. */
  scaled(factor: number): Raster {
    const f = Math.max(1, Math.round(factor));
    if (f === 1) return this.clone();
    const out = new Raster(this.width * f, this.height * f, undefined, new Uint8ClampedArray(this.width * f * this.height * f * 4));
    const d = out.data;
    const s = this.data;
    for (let y = 0; y < out.height; y++) {
      const sy = Math.floor(y / f);
      for (let x = 0; x < out.width; x++) {
        const si = (sy * this.width + Math.floor(x / f)) * 4;
        const di = (y * out.width + x) * 4;
        d[di] = s[si]!;
        d[di + 1] = s[si + 1]!;
        d[di + 2] = s[si + 2]!;
        d[di + 3] = s[si + 3]!;
      }
    }
    return out;
  }

  private inside(x: number, y: number): boolean {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return false;
    const c = this.clip;
    return !c || (x >= c.x0 && x <= c.x1 && y >= c.y0 && y <= c.y1);
  }

  /** Source-over blend of colour c with opacity a (0..1) onto pixel (x, y). */
  private blend(x: number, y: number, c: Rgba, a: number): void {
    if (!(a > 0) || !this.inside(x, y)) return;
    if (a > 1) a = 1;
    const d = this.data;
    const i = (y * this.width + x) * 4;
    const da = d[i + 3]! / 255;
    const oa = a + da * (1 - a);
    const wd = (da * (1 - a)) / oa;
    const ws = a / oa;
    d[i] = c[0] * ws + d[i]! * wd;
    d[i + 1] = c[1] * ws + d[i + 1]! * wd;
    d[i + 2] = c[2] * ws + d[i + 2]! * wd;
    d[i + 3] = oa * 255;
  }

  private segment(x0: number, y0: number, x1: number, y1: number, c: Rgba, a: number, hw: number, cover: Map<number, number> | null): void {
    const R = hw + 0.5;
    const dx = x1 - x0;
    const dy = y1 - y0;
    const len2 = dx * dx + dy * dy;
    const xa = Math.max(Math.floor(Math.min(x0, x1) - R), 0);
    const xb = Math.min(Math.ceil(Math.max(x0, x1) + R), this.width - 1);
    const ya = Math.max(Math.floor(Math.min(y0, y1) - R), 0);
    const yb = Math.min(Math.ceil(Math.max(y0, y1) + R), this.height - 1);
    for (let j = ya; j <= yb; j++) {
      for (let i = xa; i <= xb; i++) {
        let t = len2 > 0 ? ((i - x0) * dx + (j - y0) * dy) / len2 : 0;
        t = t < 0 ? 0 : Math.min(t, 1);
        const d = Math.hypot(i - (x0 + t * dx), j - (y0 + t * dy));
        let cov = R - d;
        if (cov <= 0) continue;
        if (cov > 1) cov = 1;
        if (cover) {
          const key = j * this.width + i;
          const prev = cover.get(key);
          if (prev === undefined || cov > prev) cover.set(key, cov);
        } else this.blend(i, j, c, a * cov);
      }
    }
  }
}

/** Structural ImageData (what `CanvasRenderingContext2D.putImageData` takes). */
export interface ImageDataLike {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8ClampedArray;
}

/** Copy a raster's pixels into an existing ImageData (or any {width, height, data}) of the same size. */
export function copyToImageData(raster: Raster, target: ImageDataLike): void {
  if (target.width !== raster.width || target.height !== raster.height) {
    throw new ConfigError('imageData', `size ${target.width}x${target.height} differs from the raster's ${raster.width}x${raster.height}`);
  }
  target.data.set(raster.data);
}

/**
 * A new `ImageData` holding a copy of the raster, for `ctx.putImageData(img, 0, 0)` in the
 * browser. Where `ImageData` does not exist (Node) returns a plain {width, height, data}.
 */
export function toImageData(raster: Raster): ImageDataLike {
  const data = new Uint8ClampedArray(raster.data);
  const Ctor = (globalThis as { ImageData?: new (d: Uint8ClampedArray, w: number, h: number) => ImageDataLike }).ImageData;
  return Ctor ? new Ctor(data, raster.width, raster.height) : { width: raster.width, height: raster.height, data };
}
