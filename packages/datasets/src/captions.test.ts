import { Rng } from '@difflab/core';
import { describe, expect, it } from 'vitest';
import { captionTable, indefiniteArticle, pickCaption, uniqueCaptions, vocabularyOf, withArticle, wordsOf } from './captions.js';

describe('caption helpers', () => {
  it('split captions into lowercase words', () => {
    expect(wordsOf('A Happy  yellow face, with closed-eyes!')).toEqual(['a', 'happy', 'yellow', 'face', 'with', 'closed', 'eyes']);
    expect(wordsOf('the digit 7')).toEqual(['the', 'digit', '7']);
    expect(wordsOf('  ')).toEqual([]);
  });

  it('vocabulary: every word once, sorted', () => {
    expect(vocabularyOf(['a 7', 'the digit seven', 'Seven', 'an 8'])).toEqual(['7', '8', 'a', 'an', 'digit', 'seven', 'the']);
  });

  it('articles follow the sound, not the letter', () => {
    const cases: [string, string][] = [
      ['angry', 'an'],
      ['eight', 'an'],
      ['8', 'an'],
      ['80', 'an'],
      ['11', 'an'],
      ['18', 'an'],
      ['one', 'a'],
      ['1', 'a'],
      ['7', 'a'],
      ['110', 'a'],
      ['unicorn', 'a'],
      ['umbrella', 'an'],
      ['hour', 'an'],
      ['happy', 'a'],
      ['yellow', 'a'],
      ['orange', 'an'],
      ['surprised', 'a'],
    ];
    for (const [w, a] of cases) expect(`${w}: ${indefiniteArticle(w)}`).toBe(`${w}: ${a}`);
    expect(withArticle('angry blue face')).toBe('an angry blue face');
  });

  it('pick is uniform and reproducible from the rng', () => {
    const list = ['a', 'b', 'c', 'd'];
    const draw = (seed: number) => {
      const r = new Rng(seed);
      return Array.from({ length: 4000 }, () => pickCaption(list, r));
    };
    expect(draw(3)).toEqual(draw(3));
    const counts = new Map<string, number>();
    for (const c of draw(3)) counts.set(c, (counts.get(c) ?? 0) + 1);
    for (const c of list) expect(Math.abs(counts.get(c)! - 1000)).toBeLessThan(100); // sd ~ 27
    expect(() => pickCaption([], new Rng(0))).toThrow('no captions');
  });

  it('caption tables deduplicate and refuse a caption naming two classes', () => {
    expect(uniqueCaptions(['x', 'y', 'x'])).toEqual(['x', 'y']);
    expect(captionTable(2, (k) => [`c${k}`, `c${k}`, `d${k}`])).toEqual([
      ['c0', 'd0'],
      ['c1', 'd1'],
    ]);
    expect(() => captionTable(2, (k) => [`c${k}`, 'shared'])).toThrow("caption 'shared' names both class 0 and class 1");
    expect(() => captionTable(1, () => [])).toThrow('class 0 has no captions');
  });
});
