import { ConfigError } from '@difflab/core';
import { describe, expect, it } from 'vitest';
import { classHistogram, conditionalAccuracy } from './conditional.js';

describe('conditionalAccuracy', () => {
  it('is the fraction of predictions equal to the wanted class', () => {
    expect(conditionalAccuracy([1, 2, 3, 4], [1, 2, 0, 4])).toBe(0.75);
    expect(conditionalAccuracy([7], [7])).toBe(1);
    expect(conditionalAccuracy([0, 0], [1, 1])).toBe(0);
  });

  it('rejects different lengths, no labels and non-indices with one-line ConfigErrors', () => {
    expect(() => conditionalAccuracy([1, 2], [1])).toThrow(ConfigError);
    expect(() => conditionalAccuracy([1, 2], [1])).toThrow('conditionalAccuracy: predicted has 2 labels, wanted has 1; they must have the same length');
    expect(() => conditionalAccuracy([], [])).toThrow('conditionalAccuracy: needs at least one label, got none');
    expect(() => conditionalAccuracy([1.5], [1])).toThrow('conditionalAccuracy: predicted[0] is 1.5; class indices must be integers in 0..k-1');
    expect(() => conditionalAccuracy([1], [-1])).toThrow('conditionalAccuracy: wanted[0] is -1; class indices must be integers in 0..k-1');
  });
});

describe('classHistogram', () => {
  it('gives the fraction of labels per class, summing to 1, zeros for absent classes', () => {
    const h = classHistogram([0, 2, 2, 3, 2, 0, 0, 0], 5);
    expect(h).toEqual([0.5, 0, 0.375, 0.125, 0]);
    expect(h.reduce((a, b) => a + b, 0)).toBe(1);
    expect(classHistogram([4], 5)).toEqual([0, 0, 0, 0, 1]);
  });

  it('rejects a bad k, no labels and labels outside 0..k-1', () => {
    expect(() => classHistogram([0], 0)).toThrow('classHistogram: k must be a positive integer (the number of classes), got 0');
    expect(() => classHistogram([], 3)).toThrow('classHistogram: needs at least one label, got none');
    expect(() => classHistogram([0, 3], 3)).toThrow('classHistogram: labels[1] is 3; class indices must be integers in 0..2');
  });
});
