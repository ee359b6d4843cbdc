import { ConfigError, FileFormatError } from '@difflab/core';
import { describe, expect, it } from 'vitest';
import { THEME, xToPixel, yToPixel } from './axes.js';
import { parseColor } from './color.js';
import { imageGrid } from './image-grid.js';
import { linePlot } from './line.js';
import { panelGrid } from './panel.js';
import { decodePng, encodePng } from './png.js';
import { Raster } from './raster.js';
import { scatterPlot } from './scatter.js';

const BLUE = [31, 119, 180, 255];
const ORANGE = [255, 127, 14, 255];
const rgb = (c: string) => [...parseColor(c).slice(0, 3), 255];

/** Encode to PNG and decode again: what a reader of the file sees. */
const roundTrip = (r: Raster) => decodePng(encodePng(r));

function countDark(r: Raster, x0: number, y0: number, x1: number, y1: number): number {
  let n = 0;
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) if (r.getPixel(x, y)[0] < 100) n++;
  return n;
}

describe('PNG encoding', () => {
  it('round-trips every byte and starts with the PNG signature', () => {
    const r = new Raster(7, 5, '#123456');
    r.setPixel(3, 2, [250, 1, 2, 0.5]);
    const bytes = encodePng(r);
    expect(Array.from(bytes.slice(0, 8))).toEqual([137, 80, 78, 71, 13, 10, 26, 10]);
    const back = decodePng(bytes);
    expect([back.width, back.height]).toEqual([7, 5]);
    expect(Array.from(back.data)).toEqual(Array.from(r.data));
  });
  it('rejects bytes that are not a PNG', () => {
    expect(() => decodePng(new Uint8Array([1, 2, 3]), 'x.png')).toThrow(FileFormatError);
    expect(() => decodePng(new Uint8Array([1, 2, 3]), 'x.png')).toThrow(/^x\.png: not a readable PNG/);
  });
});

describe('scatterPlot', () => {
  // fixed margins so the axis mapping can be computed by hand:
  // frame columns 40..179, rows 30..139
  const opts = { width: 200, height: 180, xlim: [-1, 1], ylim: [-1, 1], margins: { left: 40, right: 20, top: 30, bottom: 40 }, pointSize: 3, alpha: 1 } as const;

  it('puts a point at the pixel given by the axis mapping', () => {
    const fig = scatterPlot([[0.5, -0.25]], { ...opts, title: 'Title' });
    expect(fig.area).toMatchObject({ left: 40, right: 179, top: 30, bottom: 139 });
    // px = 40 + (0.5 + 1) / 2 * 139 = 144.25; py = 139 - (-0.25 + 1) / 2 * 109 = 98.125
    expect(xToPixel(fig.area, 0.5)).toBeCloseTo(144.25, 10);
    expect(yToPixel(fig.area, -0.25)).toBeCloseTo(98.125, 10);
    const png = roundTrip(fig);
    expect([png.width, png.height]).toEqual([200, 180]);
    expect(png.getPixel(144, 98)).toEqual(BLUE);
    expect(png.getPixel(146, 98)).toEqual(BLUE); // radius 3
    expect(png.getPixel(149, 98)).toEqual(rgb(THEME.background)); // 4.75 px right of the centre
    expect(png.getPixel(144, 60)).toEqual(rgb(THEME.grid)); // grid line at x = 0.5 runs through the point's column
    // frame line at column 40, light grid line at x = 0 -> column round(109.5) = 110
    expect(png.getPixel(40, 70)).toEqual(rgb(THEME.axis));
    expect(png.getPixel(110, 60)).toEqual(rgb(THEME.grid));
    // the title band above the frame holds dark text pixels (scale 2: rows 6..19), centred
    // over the frame (columns 81..138), not at the left
    expect(countDark(png, 81, 6, 139, 20)).toBeGreaterThan(60);
    expect(countDark(png, 0, 0, 200, 6)).toBe(0);
    expect(countDark(png, 0, 0, 75, 25)).toBe(0);
  });

  it('overlays series in order with a legend, and clips points outside the limits', () => {
    const fig = scatterPlot(
      [
        { points: new Float32Array([0, 0, 5, 5]), label: 'data' },
        { points: [[0, 0]], label: 'samples' },
      ],
      opts,
    );
    const png = roundTrip(fig);
    const cx = Math.round(xToPixel(fig.area, 0));
    const cy = Math.round(yToPixel(fig.area, 0));
    expect(png.getPixel(cx, cy)).toEqual(ORANGE); // samples drawn on top
    // (5, 5) is outside: nothing blue lands outside the frame
    let outside = 0;
    for (let y = 0; y < 180; y++) {
      for (let x = 0; x < 200; x++) {
        if (x > 40 && x < 179 && y > 30 && y < 139) continue;
        if (png.getPixel(x, y).join() === BLUE.join()) outside++;
      }
    }
    expect(outside).toBe(0);
    // legend in the upper right corner shows both colours
    const colours = new Set<string>();
    for (let y = 31; y < 60; y++) for (let x = 100; x < 179; x++) colours.add(png.getPixel(x, y).join());
    expect(colours.has(BLUE.join())).toBe(true);
    expect(colours.has(ORANGE.join())).toBe(true);
  });

  it('takes limits from the data padded by 5%, and equal aspect widens the free axis', () => {
    const fig = scatterPlot(new Float32Array([0, 0, 2, 1]), { width: 320, height: 320 });
    expect(fig.area.xlim[0]).toBeCloseTo(-0.1, 12);
    expect(fig.area.xlim[1]).toBeCloseTo(2.1, 12);
    expect(fig.area.ylim[0]).toBeCloseTo(-0.05, 12);
    expect(fig.area.ylim[1]).toBeCloseTo(1.05, 12);
    expect(fig.area.xticks).toEqual([0, 0.5, 1, 1.5, 2]);
    const eq = scatterPlot(new Float32Array([0, 0, 2, 1]), { aspect: 'equal' });
    const a = eq.area;
    const ux = (a.xlim[1] - a.xlim[0]) / (a.right - a.left);
    const uy = (a.ylim[1] - a.ylim[0]) / (a.bottom - a.top);
    expect(Math.abs(ux / uy - 1)).toBeLessThan(0.03);
  });

  it('reports bad options as ConfigError', () => {
    expect(() => scatterPlot([[0, 0]], { xlim: [1, 0] })).toThrow(ConfigError);
    expect(() => scatterPlot([[0, 0]], { xlim: [1, 0] })).toThrow(/scatterPlot\.xlim: must be \[min, max\]/);
    expect(() => scatterPlot(new Float32Array(3))).toThrow(/even length/);
    expect(() => scatterPlot([[0, 0]], { alpha: 2 })).toThrow(/alpha: must be in \[0, 1\]/);
  });
});

describe('linePlot', () => {
  it('maps y on a log axis: 10 lies half way between 1 and 100', () => {
    const fig = linePlot([{ x: [0, 1, 2], y: [1, 10, 100], color: '#d62728', lineWidth: 3 }], {
      width: 200,
      height: 160,
      logY: true,
      xlim: [0, 2],
      ylim: [1, 100],
      margins: { left: 40, right: 20, top: 20, bottom: 40 },
      title: 'loss',
    });
    const a = fig.area;
    expect(a).toMatchObject({ left: 40, right: 179, top: 20, bottom: 119 });
    expect(yToPixel(a, 10)).toBeCloseTo((20 + 119) / 2, 10);
    expect(a.yticks).toEqual([1, 2, 5, 10, 20, 50, 100]); // 2 decades: 1-2-5 multiples
    const png = roundTrip(fig);
    expect(png.getPixel(Math.round(xToPixel(a, 1)), Math.round(yToPixel(a, 10)))).toEqual([214, 39, 40, 255]);
    expect(() => linePlot([{ y: [1, 2] }], { logY: true, ylim: [0, 1] })).toThrow(/must be positive on a log axis/);
    expect(() => linePlot([{ x: [1], y: [1, 2] }])).toThrow(/series\[0\]\.x: has 1 values but y has 2/);
  });
});

describe('panelGrid and imageGrid', () => {
  it('places panels row by row with padding', () => {
    const red = new Raster(10, 10, '#ff0000');
    const blue = new Raster(10, 10, '#0000ff');
    const g = panelGrid([red, blue, red], { cols: 2, padding: 8 });
    expect([g.width, g.height]).toEqual([2 * 10 + 3 * 8, 2 * 10 + 3 * 8]);
    expect(g.getPixel(8, 8)).toEqual([255, 0, 0, 255]);
    expect(g.getPixel(26, 8)).toEqual([0, 0, 255, 255]);
    expect(g.getPixel(8, 26)).toEqual([255, 0, 0, 255]);
    expect(g.getPixel(26, 26)).toEqual([255, 255, 255, 255]);
    expect(g.getPixel(7, 8)).toEqual([255, 255, 255, 255]);
    const t = panelGrid([red], { title: 'T' });
    expect(t.height).toBeGreaterThan(26);
    expect(() => panelGrid([])).toThrow(/needs at least one panel/);
  });

  it('maps [-1, 1] to 0..255 and tiles NHWC images', () => {
    // two 2x2 grey images
    const imgs = new Float32Array([-1, 1, 0, 0.5, 1, 1, 1, -1]);
    const g = imageGrid(imgs, { h: 2, w: 2, c: 1, cols: 2, scale: 2, padding: 1 });
    expect([g.width, g.height]).toEqual([2 * 4 + 3, 4 + 2]);
    expect(g.getPixel(1, 1)).toEqual([0, 0, 0, 255]); // image 0, (0, 0) = -1
    expect(g.getPixel(3, 2)).toEqual([255, 255, 255, 255]); // image 0, (0, 1) = 1
    expect(g.getPixel(1, 3)).toEqual([128, 128, 128, 255]); // 0 -> 127.5 -> 128
    expect(g.getPixel(4, 4)[0]).toBe(191); // 0.5 -> 191.25
    expect(g.getPixel(8, 4)).toEqual([0, 0, 0, 255]); // image 1, (1, 1) = -1
    const rgbImg = imageGrid(new Float32Array([1, 0.5, 0]), { h: 1, w: 1, c: 3, padding: 0 });
    expect(rgbImg.getPixel(0, 0)).toEqual([255, 128, 0, 255]); // [0, 1] range (no negatives)
    expect(() => imageGrid(imgs, { n: 3, h: 2, w: 2, c: 1 })).toThrow(/fewer than n\*h\*w\*c/);
    expect(() => imageGrid(imgs, { h: 2, w: 2, c: 2 })).toThrow(/must be 1, 3 or 4 channels/);
  });
});
