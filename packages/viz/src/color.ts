import { ConfigError } from '@difflab/core';

/**
 * Colours. A colour is a CSS-style hex string (`#rgb`, `#rrggbb`, `#rrggbbaa`) or a tuple
 * `[r, g, b]` / `[r, g, b, a]` with r, g, b in 0..255 and a in 0..1 (as in CSS `rgba()`).
 */
export type ColorLike = string | readonly [number, number, number] | readonly [number, number, number, number];

/** A parsed colour: r, g, b in 0..255, a in 0..1. */
export type Rgba = readonly [number, number, number, number];

/** matplotlib's "tab10" cycle; series without a colour take these in order. */
export const PALETTE: readonly string[] = [
  '#1f77b4', // blue
  '#ff7f0e', // orange
  '#2ca02c', // green
  '#d62728', // red
  '#9467bd', // purple
  '#8c564b', // brown
  '#e377c2', // pink
  '#7f7f7f', // grey
  '#bcbd22', // olive
  '#17becf', // cyan
];

/** Colour of the first series (data). */
export const DATA_COLOR = PALETTE[0]!;
/** Colour of the second series (model samples). */
export const SAMPLE_COLOR = PALETTE[1]!;

const NAMED: Record<string, string> = {
  white: '#ffffff',
  black: '#000000',
  transparent: '#00000000',
  blue: PALETTE[0]!,
  orange: PALETTE[1]!,
  green: PALETTE[2]!,
  red: PALETTE[3]!,
  purple: PALETTE[4]!,
  grey: PALETTE[7]!,
  gray: PALETTE[7]!,
};

const clamp255 = (v: number): number => (v < 0 ? 0 : Math.min(v, 255));
const clamp01 = (v: number): number => (v < 0 ? 0 : Math.min(v, 1));

/** Parse a colour; throws ConfigError for malformed input. */
export function parseColor(c: ColorLike, path = 'color'): Rgba {
  if (typeof c === 'string') {
    const s = NAMED[c.toLowerCase()] ?? c;
    const m = /^#([0-9a-f]{3}|[0-9a-f]{6}|[0-9a-f]{8})$/i.exec(s);
    if (!m) throw new ConfigError(path, `bad colour '${c}'; use '#rgb', '#rrggbb', '#rrggbbaa', a name (${Object.keys(NAMED).join(', ')}) or [r, g, b(, a)]`);
    let h = m[1]!;
    if (h.length === 3) h = h[0]! + h[0] + h[1] + h[1] + h[2] + h[2];
    const n = (i: number) => Number.parseInt(h.slice(i, i + 2), 16);
    return [n(0), n(2), n(4), h.length === 8 ? n(6) / 255 : 1];
  }
  if (Array.isArray(c) && (c.length === 3 || c.length === 4) && c.every((v) => Number.isFinite(v))) {
    return [clamp255(c[0]), clamp255(c[1]), clamp255(c[2]), c.length === 4 ? clamp01(c[3]!) : 1];
  }
  throw new ConfigError(path, `bad colour ${JSON.stringify(c)}; use '#rrggbb' or [r, g, b(, a)] with a in 0..1`);
}

/** `#rrggbb` (alpha dropped) of a colour. */
export function toHex(c: ColorLike): string {
  const [r, g, b] = parseColor(c);
  return `#${[r, g, b].map((v) => Math.round(v).toString(16).padStart(2, '0')).join('')}`;
}
