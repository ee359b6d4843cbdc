import { ConfigError } from '@difflab/core';
import { describe, expect, it } from 'vitest';
import { parseColor } from './color.js';
import { copyToImageData, Raster, toImageData } from './raster.js';

describe('colours', () => {
  it('parses hex, short hex, names and tuples', () => {
    expect(parseColor('#1f77b4')).toEqual([31, 119, 180, 1]);
    expect(parseColor('#fff')).toEqual([255, 255, 255, 1]);
    expect(parseColor('#ff000080')).toEqual([255, 0, 0, 128 / 255]);
    expect(parseColor('orange')).toEqual([255, 127, 14, 1]);
    expect(parseColor([10, 20, 30, 0.5])).toEqual([10, 20, 30, 0.5]);
    expect(() => parseColor('#12345')).toThrow(ConfigError);
    expect(() => parseColor('#12345')).toThrow(/bad colour '#12345'/);
  });
});

describe('Raster', () => {
  it('starts filled with the background and validates its size', () => {
    const r = new Raster(3, 2, '#102030');
    expect(r.data.length).toBe(24);
    expect(r.getPixel(2, 1)).toEqual([16, 32, 48, 255]);
    expect(() => new Raster(0, 5)).toThrow(/size must be positive integers/);
  });

  it('blends source-over: 50% blue on white, then on transparent', () => {
    const r = new Raster(2, 1, '#ffffff');
    r.blendPixel(0, 0, '#0000ff', 0.5);
    expect(r.getPixel(0, 0)).toEqual([128, 128, 255, 255]); // 0.5*255 + 0.5*0 = 127.5 -> 128
    const t = new Raster(1, 1, 'transparent');
    t.blendPixel(0, 0, [200, 100, 50], 0.25);
    // over a fully transparent pixel the colour is kept and alpha becomes 0.25
    expect(t.getPixel(0, 0)).toEqual([200, 100, 50, 64]);
  });

  it('setPixel overwrites without blending and respects the clip', () => {
    const r = new Raster(4, 4);
    r.setPixel(1, 1, [1, 2, 3, 0.5]);
    expect(r.getPixel(1, 1)).toEqual([1, 2, 3, 128]);
    r.clip = { x0: 2, y0: 2, x1: 3, y1: 3 };
    r.fillRect(0, 0, 4, 4, '#000000');
    expect(r.getPixel(1, 2)).toEqual([255, 255, 255, 255]);
    expect(r.getPixel(2, 2)).toEqual([0, 0, 0, 255]);
  });

  it('anti-aliased discs: full colour inside, partial at the rim, nothing beyond r + 0.5', () => {
    const r = new Raster(21, 21);
    r.fillCircle(10, 10, 4, '#000000');
    expect(r.getPixel(10, 10)[0]).toBe(0);
    expect(r.getPixel(13, 10)[0]).toBe(0); // distance 3: coverage 1.5 -> 1
    expect(r.getPixel(14, 10)[0]).toBe(128); // distance 4: coverage 0.5
    expect(r.getPixel(15, 10)[0]).toBe(255); // distance 5: coverage 0
    expect(r.getPixel(13, 13)[0]).toBe(Math.round(255 * (1 - (4.5 - Math.hypot(3, 3))))); // coverage 0.257
    r.fillCircle(3, 3, 0.2, '#000000');
    expect(r.getPixel(3, 3)[0]).toBe(Math.round(255 * (1 - Math.PI * 0.04)));
  });

  it('lines cover the pixels between their end points', () => {
    const r = new Raster(20, 10);
    r.drawLine(2, 5, 17, 5, '#000000', 1);
    for (let x = 2; x <= 17; x++) expect(r.getPixel(x, 5)[0], `x=${x}`).toBe(0);
    expect(r.getPixel(10, 4)[0]).toBe(255); // 1 px wide: the row above is untouched
    expect(r.getPixel(19, 5)[0]).toBe(255);
    const d = new Raster(10, 10);
    d.drawLine(0, 0, 9, 9, '#000000', 1);
    for (let i = 0; i < 10; i++) expect(d.getPixel(i, i)[0]).toBe(0);
  });

  it('polylines blend shared joint pixels once', () => {
    const r = new Raster(20, 10);
    r.drawPolyline([2, 10, 17], [5, 5, 5], '#000000', 1, 0.5);
    expect(r.getPixel(10, 5)[0]).toBe(128);
    expect(r.getPixel(5, 5)[0]).toBe(128);
  });

  it('blit composites and scaled() upsamples by repetition', () => {
    const a = new Raster(4, 4, '#ffffff');
    const b = new Raster(2, 1, '#ff0000');
    b.setPixel(1, 0, '#00ff0000'); // transparent
    a.blit(b, 1, 2);
    expect(a.getPixel(1, 2)).toEqual([255, 0, 0, 255]);
    expect(a.getPixel(2, 2)).toEqual([255, 255, 255, 255]);
    const s = b.scaled(3);
    expect([s.width, s.height]).toEqual([6, 3]);
    expect(s.getPixel(2, 2)).toEqual([255, 0, 0, 255]);
    expect(s.getPixel(3, 0)[3]).toBe(0);
  });

  it('copies into ImageData-shaped targets', () => {
    const r = new Raster(2, 2, '#123456');
    const img = toImageData(r);
    expect([img.width, img.height]).toEqual([2, 2]);
    expect(Array.from(img.data.slice(0, 4))).toEqual([0x12, 0x34, 0x56, 255]);
    expect(img.data).not.toBe(r.data);
    const target = { width: 2, height: 2, data: new Uint8ClampedArray(16) };
    copyToImageData(r, target);
    expect(target.data[6]).toBe(0x56);
    expect(() => copyToImageData(r, { width: 3, height: 2, data: new Uint8ClampedArray(24) })).toThrow(/differs from the raster's 2x2/);
  });
});
