import { describe, expect, it } from 'vitest';
import { drawText, FONT_ASCENT, glyph, hasGlyph, measureText } from './font.js';
import { Raster } from './raster.js';

const printable = Array.from({ length: 126 - 32 + 1 }, (_, i) => String.fromCharCode(32 + i));

/** Bounding box of non-white pixels. */
function inkBox(r: Raster): { n: number; x0: number; y0: number; x1: number; y1: number } {
  let n = 0;
  let x0 = Number.POSITIVE_INFINITY;
  let y0 = Number.POSITIVE_INFINITY;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < r.height; y++) {
    for (let x = 0; x < r.width; x++) {
      if (r.getPixel(x, y)[0] < 128) {
        n++;
        x0 = Math.min(x0, x);
        y0 = Math.min(y0, y);
        x1 = Math.max(x1, x);
        y1 = Math.max(y1, y);
      }
    }
  }
  return { n, x0, y0, x1, y1 };
}

describe('bitmap font', () => {
  it('has a glyph for every printable ASCII character', () => {
    for (const ch of printable) expect(hasGlyph(ch), ch).toBe(true);
  });

  it('draws at least one pixel for every printable character except space, inside its 5x9 cell', () => {
    for (const ch of printable) {
      const r = new Raster(12, 14);
      drawText(r, ch, 2, 2, { color: '#000000' });
      const box = inkBox(r);
      if (ch === ' ') expect(box.n).toBe(0);
      else {
        expect(box.n, `glyph '${ch}'`).toBeGreaterThan(0);
        expect(box.x0).toBeGreaterThanOrEqual(2);
        expect(box.x1).toBeLessThanOrEqual(6);
        expect(box.y0).toBeGreaterThanOrEqual(2);
        expect(box.y1).toBeLessThanOrEqual(2 + 8);
      }
    }
  });

  it('gives distinct shapes to distinct ASCII characters', () => {
    const keys = printable.map((ch) => JSON.stringify(glyph(ch)));
    expect(new Set(keys).size).toBe(printable.length);
  });

  it('scales by integer factors and measures widths as 6 px per char minus the last gap', () => {
    expect(measureText('abc')).toEqual({ width: 17, ascent: 7, descent: 2 });
    expect(measureText('abc', 3).width).toBe(51);
    expect(measureText('').width).toBe(0);
    const r = new Raster(20, 30);
    drawText(r, 'H', 1, 1, { scale: 3, color: '#000' });
    // 'H' is 5x7 font pixels, all columns used, all rows used -> 15x21 screen pixels
    expect(inkBox(r)).toMatchObject({ x0: 1, y0: 1, x1: 15, y1: 21 });
    expect(inkBox(r).n).toBe(glyph('H').length * 9);
  });

  it('anchors by align / baseline and rotates 90 degrees for y labels', () => {
    const r = new Raster(60, 60);
    drawText(r, 'HH', 30, 30, { align: 'center', baseline: 'middle', color: '#000' });
    // width 11 -> starts at 30 - 5; cap height 7 -> top at 30 - 3
    expect(inkBox(r)).toMatchObject({ x0: 25, x1: 35, y0: 27, y1: 33 });
    const v = new Raster(60, 60);
    drawText(v, 'HH', 10, 40, { rotate: 90, color: '#000' });
    // reads bottom to top: 11 px tall ending at row 40, 7 px wide from column 10
    expect(inkBox(v)).toMatchObject({ x0: 10, x1: 10 + FONT_ASCENT - 1, y0: 30, y1: 40 });
  });

  it('draws a box for characters it lacks', () => {
    expect(hasGlyph('€')).toBe(false);
    expect(glyph('€').length).toBe(20); // 5x7 outline
  });
});
