import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { dynamicThreshold } from './thresholding.js';

const fixture = JSON.parse(readFileSync(new URL('./__fixtures__/multistep-loops.json', import.meta.url), 'utf8')) as {
  thresholding: { shape: number[]; ratio: number; sample_max_value: number; x: number[]; out: number[] }[];
};

function run(x: tf.Tensor, ratio: number, maxValue: number): number[] {
  const before = tf.memory().numTensors;
  const y = dynamicThreshold(x, { ratio, maxValue });
  expect(tf.memory().numTensors).toBe(before + 1);
  const out = Array.from(y.dataSync());
  y.dispose();
  return out;
}

/** numpy-style linear quantile in float64 (the definition torch.quantile implements). */
function quantile(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  const r = q * (s.length - 1);
  const lo = Math.floor(r);
  const hi = Math.ceil(r);
  return s[lo] + (r - lo) * (s[hi] - s[lo]);
}

describe('dynamicThreshold (diffusers _threshold_sample, Saharia et al. 2022)', () => {
  it('matches torch on fixed inputs (quantile over all non-batch entries, clamp to [1, max], clip and divide)', () => {
    let entries = 0;
    let exact = 0;
    for (const c of fixture.thresholding) {
      const x = tf.tensor(c.x, c.shape);
      const got = run(x, c.ratio, c.sample_max_value);
      x.dispose();
      c.out.forEach((w, i) => {
        const want = Math.fround(w);
        entries++;
        if (got[i] === want) exact++;
        // torch's lerp fuses multiply and add: s may differ by one float32 ulp, and so x / s
        expect(Math.abs(got[i] - want)).toBeLessThanOrEqual(4e-7 * Math.max(1, Math.abs(want)));
      });
    }
    console.log(`thresholding: ${exact}/${entries} entries bit-identical to torch`);
    expect(exact / entries).toBeGreaterThan(0.9);
  });

  it('computes s per sample from |x| and leaves samples with s <= 1 as plain clipping to [-1, 1]', () => {
    const rows = [
      [0.5, -3, 2, 0.1, -0.2, 4, 1, -1],
      [0.3, -0.4, 0.2, 0.1, -0.9, 0.5, 0.7, -0.6],
    ];
    const x = tf.tensor3d(rows.flat(), [2, 2, 4]);
    const got = run(x, 0.75, 2.5);
    x.dispose();
    const s0 = Math.min(Math.max(quantile(rows[0].map(Math.abs), 0.75), 1), 2.5);
    expect(s0).toBeCloseTo(2.25, 6);
    rows[0].forEach((v, i) => {
      expect(got[i]).toBeCloseTo(Math.min(Math.max(v, -s0), s0) / s0, 6);
    });
    // the second sample has s < 1: clamp to 1, i.e. x itself
    rows[1].forEach((v, i) => {
      expect(got[8 + i]).toBeCloseTo(v, 6);
    });
  });

  it('clamps s to maxValue also when maxValue < 1 (as torch.clamp(min=1, max) does), then divides by it', () => {
    const x = tf.tensor2d([[0.2, -0.9, 0.4, 0.8]]);
    const got = run(x, 0.995, 0.5);
    x.dispose();
    expect(got.map((v) => Math.round(v * 1e6) / 1e6)).toEqual([0.4, -1, 0.8, 1]);
  });

  it('rejects a ratio outside [0, 1], a non-positive maxValue and a tensor without a batch dimension', () => {
    const x = tf.zeros([2, 3]);
    expect(() => dynamicThreshold(x, { ratio: 1.5, maxValue: 1 })).toThrow('dynamicThresholdingRatio: must be a number in [0, 1], got 1.5');
    expect(() => dynamicThreshold(x, { ratio: 0.9, maxValue: 0 })).toThrow('sampleMaxValue: must be a finite number > 0, got 0');
    const v = tf.zeros([3]);
    expect(() => dynamicThreshold(v, { ratio: 0.9, maxValue: 1 })).toThrow(/needs a batch dimension/);
    tf.dispose([x, v]);
  });
});
