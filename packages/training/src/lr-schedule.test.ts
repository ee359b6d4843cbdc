import { describe, expect, it } from 'vitest';
import { learningRateAt } from './index.js';

describe('learningRateAt (diffusers get_scheduler semantics)', () => {
  const base = { lr: 1e-3, totalSteps: 110, warmupSteps: 10 };
  it('warms up linearly from 0', () => {
    for (const decay of ['constant', 'linear', 'cosine'] as const) {
      expect(learningRateAt(0, { ...base, decay })).toBe(0);
      expect(learningRateAt(5, { ...base, decay })).toBeCloseTo(5e-4, 12);
      expect(learningRateAt(10, { ...base, decay })).toBeCloseTo(1e-3, 12);
    }
  });
  it('decays to 0 at totalSteps: cosine half-way gives lr/2, linear likewise; constant stays', () => {
    expect(learningRateAt(60, { ...base, decay: 'cosine' })).toBeCloseTo(5e-4, 12);
    expect(learningRateAt(35, { ...base, decay: 'cosine' })).toBeCloseTo(1e-3 * 0.5 * (1 + Math.cos(Math.PI / 4)), 12);
    expect(learningRateAt(110, { ...base, decay: 'cosine' })).toBeCloseTo(0, 12);
    expect(learningRateAt(60, { ...base, decay: 'linear' })).toBeCloseTo(5e-4, 12);
    expect(learningRateAt(85, { ...base, decay: 'linear' })).toBeCloseTo(2.5e-4, 12);
    expect(learningRateAt(200, { ...base, decay: 'linear' })).toBe(0);
    expect(learningRateAt(100, { ...base, decay: 'constant' })).toBe(1e-3);
    expect(learningRateAt(0, { lr: 2e-3, totalSteps: 100 })).toBe(2e-3);
  });
});
