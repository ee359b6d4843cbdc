/**
 * Caption helpers shared by the captioned image sets (mnist, faces). A set lists every caption
 * it can give a class (`captionsOfClass(k)`); a sample's caption is one of them, picked with
 * the sampling Rng, so captions vary between draws of one class but are reproducible. A text
 * conditioner builds its vocabulary from `vocabularyOf` of all those captions, and a
 * class-label conditioner maps a prompt back to its class through the same lists.
 *
 * Captions are plain lowercase words separated by single spaces (no punctuation), so splitting
 * on whitespace is a complete tokenizer for them.
 */
import type { Rng } from '@difflab/core';

/** Lowercase words of a caption: runs of letters and digits (punctuation and spaces split). */
export function wordsOf(caption: string): string[] {
  return caption.toLowerCase().match(/[a-z0-9]+/g) ?? [];
}

/** Every word of the captions, lowercase, deduplicated and sorted (code-point order). */
export function vocabularyOf(captions: Iterable<string>): string[] {
  const words = new Set<string>();
  for (const c of captions) for (const w of wordsOf(c)) words.add(w);
  return [...words].sort();
}

/**
 * The indefinite article for a word by its sound: 'an' before a vowel sound ("an angry",
 * "an eight", "an 8", "an 11"), 'a' otherwise, including the vowel letters that sound like a
 * consonant ("a one", "a unicorn", "a 1").
 */
export function indefiniteArticle(word: string): 'a' | 'an' {
  const w = word.toLowerCase();
  if (/^[0-9]/.test(w)) {
    // numerals read aloud: 8, 80.., 11, 18, 11000, 18000.. start with a vowel sound
    return /^8|^1[18]([0-9]{3})*$/.test(w) ? 'an' : 'a';
  }
  if (/^(one|once|uni|use|usu|uti|eu|ewe)/.test(w)) return 'a';
  if (/^(hour|honest|honou?r|heir)/.test(w)) return 'an';
  return /^[aeiou]/.test(w) ? 'an' : 'a';
}

/** `phrase` preceded by its indefinite article: "an angry blue face", "a 7". */
export function withArticle(phrase: string): string {
  return `${indefiniteArticle(phrase)} ${phrase}`;
}

/** One of `captions`, chosen uniformly with one draw of `rng`. */
export function pickCaption(captions: readonly string[], rng: Rng): string {
  if (captions.length === 0) throw new RangeError('pickCaption: no captions to choose from');
  return captions[rng.int(captions.length)];
}

/** Deduplicate while keeping the first occurrence's order. */
export function uniqueCaptions(captions: Iterable<string>): string[] {
  return [...new Set(captions)];
}

/**
 * For each class, every caption it can get, checked to name exactly one class: a caption shared
 * by two classes would make the text condition ambiguous and a prompt unmappable to a label.
 */
export function captionTable(numClasses: number, captionsOf: (k: number) => readonly string[]): string[][] {
  const table: string[][] = [];
  const owner = new Map<string, number>();
  for (let k = 0; k < numClasses; k++) {
    const list = uniqueCaptions(captionsOf(k));
    if (list.length === 0) throw new RangeError(`class ${k} has no captions`);
    for (const c of list) {
      const prev = owner.get(c);
      if (prev !== undefined) throw new RangeError(`caption '${c}' names both class ${prev} and class ${k}`);
      owner.set(c, k);
    }
    table.push(list);
  }
  return table;
}
