import type { ColorLike } from './color.js';
import type { Raster } from './raster.js';

/**
 * A built-in 5x7 bitmap font (cap height 7, descenders 2 rows below the baseline), drawn by
 * the project for difflab in the style of the classic 5x7 dot-matrix character generators.
 * Covers printable ASCII (32..126) plus a few symbols used in diffusion plots
 * (α β ε θ λ μ σ τ · × ± ² − – —). Each glyph is listed row by row from the top of the
 * cap height; rows 8 and 9 (where present) hang below the baseline. Unknown characters draw
 * a hollow box. Glyphs advance 6 font pixels; text scales by an integer factor.
 */
const GLYPH_ROWS: Record<string, string> = {
  ' ': '.....|.....|.....|.....|.....|.....|.....',
  '!': '..#..|..#..|..#..|..#..|..#..|.....|..#..',
  '"': '.#.#.|.#.#.|.#.#.|.....|.....|.....|.....',
  '#': '.#.#.|.#.#.|#####|.#.#.|#####|.#.#.|.#.#.',
  $: '..#..|.####|#.#..|.###.|..#.#|####.|..#..',
  '%': '##...|##..#|...#.|..#..|.#...|#..##|...##',
  '&': '.##..|#..#.|#.#..|.#...|#.#.#|#..#.|.##.#',
  "'": '..#..|..#..|.#...|.....|.....|.....|.....',
  '(': '...#.|..#..|.#...|.#...|.#...|..#..|...#.',
  ')': '.#...|..#..|...#.|...#.|...#.|..#..|.#...',
  '*': '.....|..#..|#.#.#|.###.|#.#.#|..#..|.....',
  '+': '.....|..#..|..#..|#####|..#..|..#..|.....',
  ',': '.....|.....|.....|.....|.....|.##..|..#..|.#...',
  '-': '.....|.....|.....|#####|.....|.....|.....',
  '.': '.....|.....|.....|.....|.....|.##..|.##..',
  '/': '.....|....#|...#.|..#..|.#...|#....|.....',
  '0': '.###.|#...#|#..##|#.#.#|##..#|#...#|.###.',
  '1': '..#..|.##..|..#..|..#..|..#..|..#..|.###.',
  '2': '.###.|#...#|....#|...#.|..#..|.#...|#####',
  '3': '#####|...#.|..#..|...#.|....#|#...#|.###.',
  '4': '...#.|..##.|.#.#.|#..#.|#####|...#.|...#.',
  '5': '#####|#....|####.|....#|....#|#...#|.###.',
  '6': '..##.|.#...|#....|####.|#...#|#...#|.###.',
  '7': '#####|....#|...#.|..#..|.#...|.#...|.#...',
  '8': '.###.|#...#|#...#|.###.|#...#|#...#|.###.',
  '9': '.###.|#...#|#...#|.####|....#|...#.|.##..',
  ':': '.....|.##..|.##..|.....|.##..|.##..|.....',
  ';': '.....|.##..|.##..|.....|.##..|..#..|.#...',
  '<': '...#.|..#..|.#...|#....|.#...|..#..|...#.',
  '=': '.....|.....|#####|.....|#####|.....|.....',
  '>': '.#...|..#..|...#.|....#|...#.|..#..|.#...',
  '?': '.###.|#...#|....#|...#.|..#..|.....|..#..',
  '@': '.###.|#...#|....#|.##.#|#.#.#|#.#.#|.###.',
  A: '.###.|#...#|#...#|#####|#...#|#...#|#...#',
  B: '####.|#...#|#...#|####.|#...#|#...#|####.',
  C: '.###.|#...#|#....|#....|#....|#...#|.###.',
  D: '###..|#..#.|#...#|#...#|#...#|#..#.|###..',
  E: '#####|#....|#....|####.|#....|#....|#####',
  F: '#####|#....|#....|####.|#....|#....|#....',
  G: '.###.|#...#|#....|#.###|#...#|#...#|.####',
  H: '#...#|#...#|#...#|#####|#...#|#...#|#...#',
  I: '.###.|..#..|..#..|..#..|..#..|..#..|.###.',
  J: '..###|...#.|...#.|...#.|...#.|#..#.|.##..',
  K: '#...#|#..#.|#.#..|##...|#.#..|#..#.|#...#',
  L: '#....|#....|#....|#....|#....|#....|#####',
  M: '#...#|##.##|#.#.#|#.#.#|#...#|#...#|#...#',
  N: '#...#|#...#|##..#|#.#.#|#..##|#...#|#...#',
  O: '.###.|#...#|#...#|#...#|#...#|#...#|.###.',
  P: '####.|#...#|#...#|####.|#....|#....|#....',
  Q: '.###.|#...#|#...#|#...#|#.#.#|#..#.|.##.#',
  R: '####.|#...#|#...#|####.|#.#..|#..#.|#...#',
  S: '.####|#....|#....|.###.|....#|....#|####.',
  T: '#####|..#..|..#..|..#..|..#..|..#..|..#..',
  U: '#...#|#...#|#...#|#...#|#...#|#...#|.###.',
  V: '#...#|#...#|#...#|#...#|#...#|.#.#.|..#..',
  W: '#...#|#...#|#...#|#.#.#|#.#.#|#.#.#|.#.#.',
  X: '#...#|#...#|.#.#.|..#..|.#.#.|#...#|#...#',
  Y: '#...#|#...#|.#.#.|..#..|..#..|..#..|..#..',
  Z: '#####|....#|...#.|..#..|.#...|#....|#####',
  '[': '.###.|.#...|.#...|.#...|.#...|.#...|.###.',
  '\\': '.....|#....|.#...|..#..|...#.|....#|.....',
  ']': '.###.|...#.|...#.|...#.|...#.|...#.|.###.',
  '^': '..#..|.#.#.|#...#|.....|.....|.....|.....',
  _: '.....|.....|.....|.....|.....|.....|.....|#####',
  '`': '.#...|..#..|...#.|.....|.....|.....|.....',
  a: '.....|.....|.###.|....#|.####|#...#|.####',
  b: '#....|#....|#.##.|##..#|#...#|#...#|####.',
  c: '.....|.....|.###.|#....|#....|#...#|.###.',
  d: '....#|....#|.##.#|#..##|#...#|#...#|.####',
  e: '.....|.....|.###.|#...#|#####|#....|.###.',
  f: '..##.|.#..#|.#...|###..|.#...|.#...|.#...',
  g: '.....|.....|.####|#...#|#...#|#...#|.####|....#|.###.',
  h: '#....|#....|#.##.|##..#|#...#|#...#|#...#',
  i: '..#..|.....|.##..|..#..|..#..|..#..|.###.',
  j: '...#.|.....|..##.|...#.|...#.|...#.|...#.|#..#.|.##..',
  k: '#....|#....|#..#.|#.#..|##...|#.#..|#..#.',
  l: '.##..|..#..|..#..|..#..|..#..|..#..|.###.',
  m: '.....|.....|##.#.|#.#.#|#.#.#|#.#.#|#.#.#',
  n: '.....|.....|#.##.|##..#|#...#|#...#|#...#',
  o: '.....|.....|.###.|#...#|#...#|#...#|.###.',
  p: '.....|.....|####.|#...#|#...#|#...#|####.|#....|#....',
  q: '.....|.....|.####|#...#|#...#|#...#|.####|....#|....#',
  r: '.....|.....|#.##.|##..#|#....|#....|#....',
  s: '.....|.....|.####|#....|.###.|....#|####.',
  t: '.#...|.#...|###..|.#...|.#...|.#..#|..##.',
  u: '.....|.....|#...#|#...#|#...#|#..##|.##.#',
  v: '.....|.....|#...#|#...#|#...#|.#.#.|..#..',
  w: '.....|.....|#...#|#...#|#.#.#|#.#.#|.#.#.',
  x: '.....|.....|#...#|.#.#.|..#..|.#.#.|#...#',
  y: '.....|.....|#...#|#...#|#...#|#...#|.####|....#|.###.',
  z: '.....|.....|#####|...#.|..#..|.#...|#####',
  '{': '...##|..#..|..#..|.#...|..#..|..#..|...##',
  '|': '..#..|..#..|..#..|..#..|..#..|..#..|..#..',
  '}': '##...|..#..|..#..|...#.|..#..|..#..|##...',
  '~': '.....|.....|.#...|#.#.#|...#.|.....|.....',
  'α': '.....|.....|.##.#|#..#.|#..#.|#..#.|.##.#',
  'β': '.##..|#..#.|#..#.|###..|#..#.|#...#|####.|#....|#....',
  'ε': '.....|.....|.###.|#....|.##..|#....|.###.',
  'θ': '.###.|#...#|#...#|#####|#...#|#...#|.###.',
  'λ': '#....|.#...|.#...|..#..|.#.#.|#...#|#...#',
  'μ': '.....|.....|#...#|#...#|#...#|#..##|###.#|#....|#....',
  'σ': '.....|.....|.####|#..#.|#...#|#...#|.###.',
  'τ': '.....|.....|#####|..#..|..#..|..#..|...##',
  '·': '.....|.....|.....|..#..|.....|.....|.....',
  '×': '.....|#...#|.#.#.|..#..|.#.#.|#...#|.....',
  '±': '..#..|..#..|#####|..#..|..#..|.....|#####',
  '²': '.##..|...#.|..#..|.###.|.....|.....|.....',
  '−': '.....|.....|.....|#####|.....|.....|.....',
  '–': '.....|.....|.....|#####|.....|.....|.....',
  '—': '.....|.....|.....|#####|.....|.....|.....',
};

const MISSING = '#####|#...#|#...#|#...#|#...#|#...#|#####';

/** Glyph cell width in font pixels (without the 1-pixel gap). */
export const GLYPH_WIDTH = 5;
/** Horizontal advance per character in font pixels. */
export const GLYPH_ADVANCE = 6;
/** Height above the baseline (cap height) in font pixels. */
export const FONT_ASCENT = 7;
/** Depth of descenders below the baseline in font pixels. */
export const FONT_DESCENT = 2;

/** A glyph as a list of "on" pixels [column, row], row 0 at the top of the cap height. */
type Glyph = readonly (readonly [number, number])[];

const cache = new Map<string, Glyph>();

function compile(rows: string): Glyph {
  const out: [number, number][] = [];
  rows.split('|').forEach((row, y) => {
    for (let x = 0; x < row.length; x++) if (row[x] === '#') out.push([x, y]);
  });
  return out;
}

/** The "on" pixels of a character (a hollow box for characters the font lacks). */
export function glyph(ch: string): Glyph {
  let g = cache.get(ch);
  if (!g) {
    g = compile(GLYPH_ROWS[ch] ?? MISSING);
    cache.set(ch, g);
  }
  return g;
}

/** Whether the font has a glyph for this character. */
export function hasGlyph(ch: string): boolean {
  return ch in GLYPH_ROWS;
}

export type TextAlign = 'left' | 'center' | 'right';
/** Vertical anchor: top of the cap height, its middle, the baseline, or the bottom of descenders. */
export type TextBaseline = 'top' | 'middle' | 'baseline' | 'bottom';

export interface TextOptions {
  /** Text colour. Default '#222222'. */
  color?: ColorLike;
  /** Integer scale factor of the 5x7 font. Default 1. */
  scale?: number;
  /** Horizontal anchor along the text direction. Default 'left'. */
  align?: TextAlign;
  /** Vertical anchor across the text direction. Default 'top'. */
  baseline?: TextBaseline;
  /** 0 (default) or 90: rotated 90 degrees counter-clockwise, reading bottom to top (y-axis labels). */
  rotate?: 0 | 90;
  /** Thicken strokes by drawing each glyph twice, one pixel apart. Default false. */
  bold?: boolean;
  /** Opacity 0..1. Default 1. */
  alpha?: number;
}

/** Size in pixels of a line of text: width along the text, ascent (cap height) and descent. */
export function measureText(text: string, scale = 1, bold = false): { width: number; ascent: number; descent: number } {
  const s = Math.max(1, Math.round(scale));
  const n = [...text].length;
  const width = n === 0 ? 0 : (n * GLYPH_ADVANCE - 1) * s + (bold ? 1 : 0);
  return { width, ascent: FONT_ASCENT * s, descent: FONT_DESCENT * s };
}

/**
 * Draw one line of text anchored at (x, y) (see `align` / `baseline`); returns its width in
 * pixels. Font pixels become `scale x scale` blocks, snapped to the pixel grid (crisp text).
 */
export function drawText(r: Raster, text: string, x: number, y: number, opts: TextOptions = {}): number {
  const s = Math.max(1, Math.round(opts.scale ?? 1));
  const color = opts.color ?? '#222222';
  const alpha = opts.alpha ?? 1;
  const bold = opts.bold ?? false;
  const { width, ascent, descent } = measureText(text, s, bold);
  const align = opts.align ?? 'left';
  const base = opts.baseline ?? 'top';
  // offsets in text-local coordinates (u along the text, v down across it)
  const u0 = align === 'left' ? 0 : align === 'center' ? -Math.floor(width / 2) : -width;
  const v0 = base === 'top' ? 0 : base === 'middle' ? -Math.floor(ascent / 2) : base === 'baseline' ? -ascent : -(ascent + descent);
  const ox = Math.round(x);
  const oy = Math.round(y);
  const rot = opts.rotate === 90;
  let u = u0;
  for (const ch of text) {
    for (const [gx, gy] of glyph(ch)) {
      for (let b = 0; b <= (bold ? 1 : 0); b++) {
        const pu = u + gx * s + b;
        const pv = v0 + gy * s;
        if (rot) r.fillRect(ox + pv, oy - pu - s + 1, s, s, color, alpha);
        else r.fillRect(ox + pu, oy + pv, s, s, color, alpha);
      }
    }
    u += GLYPH_ADVANCE * s;
  }
  return width;
}
