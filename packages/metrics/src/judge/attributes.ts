/**
 * A judge's classes as combinations of attributes. A judge has one classification head per
 * attribute (mnist: one, `digit`; faces: expression, colour, eyes, accessory); the class of an
 * image is the combination of its attribute values, numbered in mixed radix with the first
 * attribute most significant:
 *
 *   label = ((a_0 * n_1 + a_1) * n_2 + a_2) * ... ,
 *
 * and named by the values joined with spaces ("happy yellow open none"). This is the numbering
 * of the `faces` dataset of @difflab/datasets (`((expression * 4 + color) * 2 + eyes) * 3 +
 * accessory`), so judge labels and dataset labels are the same numbers without this package
 * depending on that one.
 */

/** One classification head: the attribute's name and its values (head output j = values[j]). */
export interface JudgeAttribute {
  readonly name: string;
  readonly values: readonly string[];
}

/** Number of classes (attribute combinations). */
export function numCombinations(attributes: readonly JudgeAttribute[]): number {
  return attributes.reduce((n, a) => n * a.values.length, 1);
}

/** The class index of one value index per attribute. */
export function encodeCombination(attributes: readonly JudgeAttribute[], indices: readonly number[]): number {
  let label = 0;
  for (let i = 0; i < attributes.length; i++) label = label * attributes[i].values.length + indices[i];
  return label;
}

/** The value index of each attribute in class `label` (the inverse of `encodeCombination`). */
export function decodeCombination(attributes: readonly JudgeAttribute[], label: number): number[] {
  const n = numCombinations(attributes);
  if (!Number.isInteger(label) || label < 0 || label >= n) throw new RangeError(`class label must be an integer in 0..${n - 1}, got ${label}`);
  const out = new Array<number>(attributes.length);
  for (let i = attributes.length - 1; i >= 0; i--) {
    const k = attributes[i].values.length;
    out[i] = label % k;
    label = (label - out[i]) / k;
  }
  return out;
}

/** Class names: each combination's values joined with spaces, indexed by class label. */
export function combinationNames(attributes: readonly JudgeAttribute[]): string[] {
  return Array.from({ length: numCombinations(attributes) }, (_, label) =>
    decodeCombination(attributes, label)
      .map((v, i) => attributes[i].values[v])
      .join(' '),
  );
}
