import { describe, expect, it } from 'vitest';
import { normalizeText, PAD_ID, textWords, Tokenizer, UNK_ID } from './tokenizer.js';

const VOCAB = ['a', 'face', 'happy', 'hat', 'wearing', 'yellow'];

describe('textWords / normalizeText', () => {
  it('lowercases, drops apostrophes, splits on everything else', () => {
    expect(textWords('  A Happy,yellow-face!  ')).toEqual(['a', 'happy', 'yellow', 'face']);
    expect(textWords("Don't smile")).toEqual(['dont', 'smile']);
    expect(textWords('the digit 7.')).toEqual(['the', 'digit', '7']);
    expect(textWords('Café Ünïcode')).toEqual(['café', 'ünïcode']);
    expect(textWords('')).toEqual([]);
    expect(textWords('?!, ...')).toEqual([]);
    expect(normalizeText('The   HAPPIEST image, in the world?')).toBe('the happiest image in the world');
  });
});

describe('Tokenizer', () => {
  const tk = new Tokenizer(VOCAB, 5);

  it('numbers padding 0, [unk] 1, then the vocabulary in its order', () => {
    expect(tk.size).toBe(8);
    expect(tk.vocabulary).toEqual(VOCAB);
    expect(tk.idOf('a')).toBe(2);
    expect(tk.idOf('yellow')).toBe(7);
    expect(tk.idOf('sad')).toBe(UNK_ID);
    expect([0, 1, 2, 7].map((i) => tk.tokenOf(i))).toEqual(['[pad]', '[unk]', 'a', 'yellow']);
    expect(() => tk.tokenOf(8)).toThrow('token id 8 is outside the vocabulary (size 8)');
  });

  it('normalises and deduplicates the vocabulary it is given', () => {
    const t = new Tokenizer(['Happy', 'happy', 'a face', '', 'face'], 4);
    expect(t.vocabulary).toEqual(['happy', 'a', 'face']);
    expect(() => new Tokenizer(VOCAB, 0)).toThrow('maxTokens must be an integer >= 1, got 0');
  });

  it('encodes words, [unk] for unknown ones, pads with a mask', () => {
    const e = tk.encode('A happiest, yellow face!');
    expect(Array.from(e.ids)).toEqual([2, UNK_ID, 7, 3, PAD_ID]);
    expect(Array.from(e.mask)).toEqual([1, 1, 1, 1, 0]);
    expect(e.length).toBe(4);
    expect(e.truncated).toBe(0);
    expect(tk.decode(e.ids)).toEqual(['a', '[unk]', 'yellow', 'face']);
    const empty = tk.encode('');
    expect(Array.from(empty.ids)).toEqual([0, 0, 0, 0, 0]);
    expect(Array.from(empty.mask)).toEqual([0, 0, 0, 0, 0]);
    expect(empty.length).toBe(0);
  });

  it('truncates to maxTokens, keeping the first words', () => {
    const e = tk.encode('a happy yellow face wearing a hat');
    expect(tk.decode(e.ids)).toEqual(['a', 'happy', 'yellow', 'face', 'wearing']);
    expect(Array.from(e.mask)).toEqual([1, 1, 1, 1, 1]);
    expect(e.length).toBe(5);
    expect(e.truncated).toBe(2);
  });

  it('encodes a batch row-major', () => {
    const b = tk.encodeBatch(['happy face', '', 'hat']);
    expect(b.maxTokens).toBe(5);
    expect(Array.from(b.ids)).toEqual([4, 3, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0]);
    expect(Array.from(b.mask)).toEqual([1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]);
    expect(Array.from(b.lengths)).toEqual([2, 0, 1]);
  });

  it('lists unknown words once each, in order', () => {
    expect(tk.unknownWords('the happiest image in the world, the happiest!')).toEqual(['the', 'happiest', 'image', 'in', 'world']);
    expect(tk.unknownWords('A happy yellow face wearing a HAT.')).toEqual([]);
    expect(tk.unknownWords('')).toEqual([]);
  });
});
