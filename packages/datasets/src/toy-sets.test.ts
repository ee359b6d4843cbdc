import { Rng } from '@difflab/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { CheckerboardDataset, checkerboardPoints } from './checkerboard.js';
import { CirclesDataset, circlesPoints } from './circles.js';
import { EightGaussiansDataset, eightGaussiansPoints, FFJORD_8GAUSSIANS_SCALE } from './eight-gaussians.js';
import { LineDataset, linePoints } from './line.js';
import { MoonsDataset, moonsPoints } from './moons.js';
import type { PointDataset2D } from './point-dataset.js';

function pairs(p: Float32Array): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < p.length; i += 2) out.push([p[i], p[i + 1]]);
  return out;
}

function mean(v: number[]): number {
  return v.reduce((s, x) => s + x, 0) / v.length;
}

describe('moons', () => {
  it('noise-free points lie on the two sklearn arcs, centred by (0.5, 0.25) and scaled', () => {
    let outer = 0;
    let off = 0;
    for (const [px, py] of pairs(moonsPoints(2000, new Rng(1), { noise: 0, scale: 2 }))) {
      const x = px / 2 + 0.5;
      const y = py / 2 + 0.25;
      const onOuter = Math.abs(Math.hypot(x, y) - 1) < 1e-5 && y >= -1e-6;
      const onInner = Math.abs(Math.hypot(x - 1, y - 0.5) - 1) < 1e-5 && y <= 0.5 + 1e-6;
      if (!(onOuter || onInner)) off++;
      if (onOuter) outer++;
    }
    expect(off).toBe(0);
    expect(Math.abs(outer / 2000 - 0.5)).toBeLessThan(0.05);
  });

  it('is centred at the origin with defaults', () => {
    const p = pairs(moonsPoints(20000, new Rng(2)));
    expect(Math.abs(mean(p.map((q) => q[0])))).toBeLessThan(0.03);
    expect(Math.abs(mean(p.map((q) => q[1])))).toBeLessThan(0.03);
    expect(Math.max(...p.map((q) => Math.abs(q[0])))).toBeLessThan(4);
    expect(Math.max(...p.map((q) => Math.abs(q[1])))).toBeLessThan(3);
  });
});

describe('circles', () => {
  it('noise-free radii are scale and scale * factor, half each', () => {
    let inner = 0;
    let off = 0;
    for (const [x, y] of pairs(circlesPoints(2000, new Rng(1), { noise: 0 }))) {
      const r = Math.hypot(x, y);
      if (!(Math.abs(r - 3) < 1e-5 || Math.abs(r - 1.5) < 1e-5)) off++;
      if (r < 2) inner++;
    }
    expect(off).toBe(0);
    expect(Math.abs(inner / 2000 - 0.5)).toBeLessThan(0.05);
  });
});

describe('8gaussians (FFJORD)', () => {
  it('std 0 puts every point on one of 8 centres at radius 4 / 1.414; all 8 used', () => {
    expect(FFJORD_8GAUSSIANS_SCALE).toBeCloseTo(0.7072136, 6); // 1 / 1.414
    const seen = new Set<number>();
    for (const [x, y] of pairs(eightGaussiansPoints(800, new Rng(1), { std: 0 }))) {
      expect(Math.hypot(x, y)).toBeCloseTo(4 * FFJORD_8GAUSSIANS_SCALE, 4);
      const k = Math.round((Math.atan2(y, x) / (Math.PI / 4) + 8) % 8);
      expect(Math.abs(Math.atan2(y, x) - Math.atan2(Math.sin((k * Math.PI) / 4), Math.cos((k * Math.PI) / 4)))).toBeLessThan(1e-5);
      seen.add(k);
    }
    expect(seen.size).toBe(8);
  });

  it('spread around the centres is std * scale', () => {
    const p = pairs(eightGaussiansPoints(20000, new Rng(2)));
    const s = FFJORD_8GAUSSIANS_SCALE;
    const d2: number[] = [];
    for (const [x, y] of p) {
      const k = Math.round(Math.atan2(y, x) / (Math.PI / 4));
      const cx = 4 * s * Math.cos((k * Math.PI) / 4);
      const cy = 4 * s * Math.sin((k * Math.PI) / 4);
      d2.push(((x - cx) ** 2 + (y - cy) ** 2) / 2);
    }
    expect(Math.sqrt(mean(d2))).toBeCloseTo(0.5 * s, 2);
  });
});

describe('checkerboard (FFJORD)', () => {
  it('points lie in [-4, 4)^2 on squares with even floor(x1) + floor(x2); 8 squares used', () => {
    const squares = new Set<string>();
    let bad = 0;
    for (const [px, py] of pairs(checkerboardPoints(4000, new Rng(1)))) {
      if (!(px >= -4 && px < 4 && py >= -4 && py < 4)) bad++;
      const i = Math.floor(px / 2);
      const j = Math.floor(py / 2);
      if ((((i + j) % 2) + 2) % 2 !== 0) bad++;
      squares.add(`${i},${j}`);
    }
    expect(bad).toBe(0);
    expect(squares.size).toBe(8);
  });
});

describe('line (tiny-diffusion)', () => {
  it('uniform on [-2, 2] x [-4, 4]: range, mean 0, variance w^2/12', () => {
    const p = pairs(linePoints(20000, new Rng(1)));
    const xs = p.map((q) => q[0]);
    const ys = p.map((q) => q[1]);
    expect(Math.max(...xs.map(Math.abs))).toBeLessThanOrEqual(2);
    expect(Math.max(...ys.map(Math.abs))).toBeLessThanOrEqual(4);
    expect(Math.max(...xs)).toBeGreaterThan(1.95);
    expect(Math.min(...ys)).toBeLessThan(-3.9);
    expect(Math.abs(mean(xs))).toBeLessThan(0.05);
    expect(Math.abs(mean(ys))).toBeLessThan(0.1);
    expect(mean(xs.map((v) => v * v))).toBeCloseTo(16 / 12, 1);
    expect(mean(ys.map((v) => v * v))).toBeCloseTo(64 / 12, 0);
  });
});

describe('every set', () => {
  const make: [string, (o: { size?: number | null; seed?: number }) => PointDataset2D][] = [
    ['moons', (o) => new MoonsDataset(o)],
    ['circles', (o) => new CirclesDataset(o)],
    ['8gaussians', (o) => new EightGaussiansDataset(o)],
    ['checkerboard', (o) => new CheckerboardDataset(o)],
    ['line', (o) => new LineDataset(o)],
  ];
  for (const [id, ctor] of make) {
    it(`${id}: id, shapes, determinism under seed, generator mode, no leaks`, () => {
      const a = ctor({ size: 500, seed: 1 });
      expect(a.id).toBe(id);
      expect(a.size).toBe(500);
      expect(a.sampleShape).toEqual([2]);
      const before = tf.memory().numTensors;
      const all1 = a.all();
      const all1b = ctor({ size: 500, seed: 1 }).all();
      const all2 = ctor({ size: 500, seed: 2 }).all();
      expect(all1.shape).toEqual([500, 2]);
      expect(Array.from(all1.dataSync())).toEqual(Array.from(all1b.dataSync()));
      expect(Array.from(all1.dataSync())).not.toEqual(Array.from(all2.dataSync()));
      const s = a.sample(64, new Rng(3));
      expect(s.x.shape).toEqual([64, 2]);
      tf.dispose([all1, all1b, all2, s.x]);
      expect(tf.memory().numTensors).toBe(before);
      const gen = ctor({ size: null });
      expect(gen.size).toBe(Number.POSITIVE_INFINITY);
      const g1 = gen.sample(16, new Rng(4));
      const g2 = gen.sample(16, new Rng(4));
      expect(g1.x.arraySync()).toEqual(g2.x.arraySync());
      tf.dispose([g1.x, g2.x]);
    });
  }
});
