/**
 * A word-level tokenizer over a closed vocabulary (the words of a dataset's captions), as the
 * text conditioner needs it: the captioned image sets describe a picture with a few dozen
 * words, so a word is a token and every other word is '[unk]'.
 *
 * Text -> words: lowercase, apostrophes dropped ("don't" -> "dont"), every other character that
 * is not a letter or a digit separates words ("happy,yellow-face!" -> happy yellow face). This
 * is the rule the datasets build their vocabulary with (`wordsOf` in @difflab/datasets), so a
 * caption of the set is always all known words.
 *
 * Words -> ids: id 0 is padding ('[pad]'), id 1 is '[unk]', the vocabulary follows from id 2 in
 * its own order. A text becomes exactly `maxTokens` ids: longer texts are truncated (the first
 * `maxTokens` words are kept), shorter ones padded, with a mask (1 = word, 0 = padding) that the
 * encoder uses to ignore padding in attention and pooling.
 */

export const PAD_TOKEN = '[pad]';
export const UNK_TOKEN = '[unk]';
export const PAD_ID = 0;
export const UNK_ID = 1;

/** Lowercase words of a text: apostrophes dropped, any other non-letter, non-digit splits. */
export function textWords(text: string): string[] {
  return text.toLowerCase().replace(/['\u2019]/g, '').match(/[\p{L}\p{N}]+/gu) ?? [];
}

/** A text's words joined by single spaces: the form in which prompts and captions are compared. */
export function normalizeText(text: string): string {
  return textWords(text).join(' ');
}

/** One tokenized text. */
export interface TokenizedText {
  /** [maxTokens] token ids, padded with PAD_ID. */
  ids: Int32Array;
  /** [maxTokens] 1 for a word, 0 for padding. */
  mask: Float32Array;
  /** Number of word tokens kept (<= maxTokens). */
  length: number;
  /** Words dropped by truncation. */
  truncated: number;
}

/** A batch of tokenized texts, row-major. */
export interface TokenizedBatch {
  /** [n * maxTokens] ids. */
  ids: Int32Array;
  /** [n * maxTokens] mask. */
  mask: Float32Array;
  /** [n] kept word counts. */
  lengths: Int32Array;
  /** The row length (maxTokens). */
  maxTokens: number;
}

export class Tokenizer {
  /** The words, in id order from id 2. */
  readonly vocabulary: readonly string[];
  readonly maxTokens: number;
  private readonly index = new Map<string, number>();

  /**
   * `vocabulary`: the known words (normalised with `textWords`; duplicates and empty entries
   * are dropped, the first occurrence keeps its place). `maxTokens`: the fixed row length.
   */
  constructor(vocabulary: readonly string[], maxTokens: number) {
    if (!Number.isInteger(maxTokens) || maxTokens < 1) throw new RangeError(`maxTokens must be an integer >= 1, got ${maxTokens}`);
    const words: string[] = [];
    for (const entry of vocabulary) {
      for (const w of textWords(entry)) {
        if (!this.index.has(w)) {
          this.index.set(w, words.length + 2);
          words.push(w);
        }
      }
    }
    this.vocabulary = words;
    this.maxTokens = maxTokens;
  }

  /** Number of ids: padding, unknown, and the words. */
  get size(): number {
    return this.vocabulary.length + 2;
  }

  /** The id of one (normalised) word: UNK_ID when it is not in the vocabulary. */
  idOf(word: string): number {
    return this.index.get(word) ?? UNK_ID;
  }

  /** The token string of an id. */
  tokenOf(id: number): string {
    if (id === PAD_ID) return PAD_TOKEN;
    if (id === UNK_ID) return UNK_TOKEN;
    const w = this.vocabulary[id - 2];
    if (w === undefined) throw new RangeError(`token id ${id} is outside the vocabulary (size ${this.size})`);
    return w;
  }

  encode(text: string): TokenizedText {
    const words = textWords(text);
    const length = Math.min(words.length, this.maxTokens);
    const ids = new Int32Array(this.maxTokens);
    const mask = new Float32Array(this.maxTokens);
    for (let i = 0; i < length; i++) {
      ids[i] = this.idOf(words[i]);
      mask[i] = 1;
    }
    return { ids, mask, length, truncated: words.length - length };
  }

  encodeBatch(texts: readonly string[]): TokenizedBatch {
    const L = this.maxTokens;
    const ids = new Int32Array(texts.length * L);
    const mask = new Float32Array(texts.length * L);
    const lengths = new Int32Array(texts.length);
    texts.forEach((t, i) => {
      const e = this.encode(t);
      ids.set(e.ids, i * L);
      mask.set(e.mask, i * L);
      lengths[i] = e.length;
    });
    return { ids, mask, lengths, maxTokens: L };
  }

  /** The tokens of `ids` up to the first padding, as strings ('[unk]' for unknown words). */
  decode(ids: ArrayLike<number>): string[] {
    const out: string[] = [];
    for (let i = 0; i < ids.length && ids[i] !== PAD_ID; i++) out.push(this.tokenOf(ids[i]));
    return out;
  }

  /** The distinct words of `text` not in the vocabulary, in order of appearance. */
  unknownWords(text: string): string[] {
    return [...new Set(textWords(text).filter((w) => !this.index.has(w)))];
  }
}
