/**
 * Scores of conditional generation read off a judge's predictions: how often the judge sees the
 * class that was asked for (conditional accuracy, as in the classifier-based evaluation of
 * classifier-free guidance, Ho & Salimans 2022), and how the predicted classes spread over the
 * k classes (an unconditional sampler should cover them all, about 1/k each).
 */
import { ConfigError } from '@difflab/core';

function checkLabels(path: string, name: string, labels: readonly number[], k?: number): void {
  if (!Array.isArray(labels)) throw new ConfigError(path, `${name} must be an array of class indices, got ${typeof labels}`);
  for (let i = 0; i < labels.length; i++) {
    const v = labels[i];
    if (!Number.isInteger(v) || v < 0 || (k !== undefined && v >= k)) {
      throw new ConfigError(path, `${name}[${i}] is ${v}; class indices must be integers in 0..${k !== undefined ? k - 1 : 'k-1'}`);
    }
  }
}

/**
 * The fraction of samples whose predicted class is the wanted one: mean(predicted[i] == wanted[i]).
 *
 * @throws ConfigError('conditionalAccuracy', ...) when the lengths differ, are 0, or a label is not a class index
 */
export function conditionalAccuracy(predicted: readonly number[], wanted: readonly number[]): number {
  const path = 'conditionalAccuracy';
  checkLabels(path, 'predicted', predicted);
  checkLabels(path, 'wanted', wanted);
  if (predicted.length !== wanted.length) throw new ConfigError(path, `predicted has ${predicted.length} labels, wanted has ${wanted.length}; they must have the same length`);
  if (predicted.length === 0) throw new ConfigError(path, 'needs at least one label, got none');
  let hits = 0;
  for (let i = 0; i < predicted.length; i++) if (predicted[i] === wanted[i]) hits++;
  return hits / predicted.length;
}

/**
 * The fraction of `labels` in each of the k classes: [count(0), ..., count(k - 1)] / n, summing to 1.
 *
 * @throws ConfigError('classHistogram', ...) for k < 1, no labels, or a label outside 0..k-1
 */
export function classHistogram(labels: readonly number[], k: number): number[] {
  const path = 'classHistogram';
  if (!Number.isInteger(k) || k < 1) throw new ConfigError(path, `k must be a positive integer (the number of classes), got ${k}`);
  checkLabels(path, 'labels', labels, k);
  if (labels.length === 0) throw new ConfigError(path, 'needs at least one label, got none');
  const counts = new Array<number>(k).fill(0);
  for (const l of labels) counts[l]++;
  return counts.map((c) => c / labels.length);
}
