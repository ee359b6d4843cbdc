import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { SinCos2DPositionalEmbedding, sincos2dPositionalEmbedding } from './sincos-2d.js';

describe('2-D sin-cos positional embedding (MAE / DiT)', () => {
  it('shape [h*w, dim]; cell (0, 0) is [0.., 1.., 0.., 1..]', () => {
    const out = sincos2dPositionalEmbedding(3, 5, 16);
    expect(out.shape).toEqual([15, 16]);
    const rows = out.arraySync();
    out.dispose();
    const q = [0, 0, 0, 0];
    const o = [1, 1, 1, 1];
    expect(rows[0]).toEqual([...q, ...o, ...q, ...o]);
  });

  it('a cell matches an independent float64 evaluation; row-major; column in the first half', () => {
    const h = 4;
    const w = 5;
    const dim = 8;
    const rows = sincos2dPositionalEmbedding(h, w, dim).arraySync();
    // MAE: omega = 1 / 10000^(k / (dim/4)), k = 0, 1 -> [1, 0.01]
    const r = 2;
    const c = 3;
    const want = [Math.sin(c), Math.sin(c * 0.01), Math.cos(c), Math.cos(c * 0.01), Math.sin(r), Math.sin(r * 0.01), Math.cos(r), Math.cos(r * 0.01)];
    const got = rows[r * w + c];
    for (let k = 0; k < dim; k++) expect(got[k]).toBeCloseTo(want[k], 6);
    // same column -> same first half; same row -> same second half
    expect(rows[0 * w + c].slice(0, 4)).toEqual(got.slice(0, 4));
    expect(rows[r * w + 0].slice(4)).toEqual(got.slice(4));
  });

  it('dim must be a multiple of 4; class defaults to 64; no leaks', () => {
    expect(() => sincos2dPositionalEmbedding(2, 2, 6)).toThrow(/multiple of 4/);
    expect(() => new SinCos2DPositionalEmbedding({ dim: 10 })).toThrow(/sincos-2d\.dim/);
    const emb = new SinCos2DPositionalEmbedding();
    expect(emb.dim).toBe(64);
    const before = tf.memory().numTensors;
    const out = emb.embed(2, 3);
    expect(out.shape).toEqual([6, 64]);
    out.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
