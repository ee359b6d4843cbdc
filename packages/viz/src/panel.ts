import { ConfigError } from '@difflab/core';
import { drawTitle, THEME, titleScaleFor } from './axes.js';
import type { ColorLike } from './color.js';
import { FONT_ASCENT, FONT_DESCENT } from './font.js';
import { Raster } from './raster.js';

export interface PanelGridOptions {
  /** Panels per row. Default ceil(sqrt(n)). */
  cols?: number;
  /** Figure title above all panels. */
  title?: string;
  /** Pixels between panels and around the figure. Default 8. */
  padding?: number;
  /** Background colour. Default white. */
  background?: ColorLike;
  /** Integer scale of the title font; default 2 when it fits, else 1. */
  titleScale?: number;
}

/**
 * Compose panels into one figure, row by row. Each cell is as large as the largest panel;
 * smaller panels are centred in their cell.
 */
export function panelGrid(rasters: readonly Raster[], opts: PanelGridOptions = {}): Raster {
  const n = rasters.length;
  if (n === 0) throw new ConfigError('panelGrid.rasters', 'needs at least one panel');
  const cols = opts.cols ?? Math.ceil(Math.sqrt(n));
  if (!Number.isInteger(cols) || cols < 1) throw new ConfigError('panelGrid.cols', `must be a positive integer, got ${cols}`);
  const pad = opts.padding ?? 8;
  if (!Number.isInteger(pad) || pad < 0) throw new ConfigError('panelGrid.padding', `must be a non-negative integer, got ${pad}`);
  const c = Math.min(cols, n);
  const rows = Math.ceil(n / c);
  const cw = Math.max(...rasters.map((r) => r.width));
  const ch = Math.max(...rasters.map((r) => r.height));
  const width = c * cw + (c + 1) * pad;
  let titleH = 0;
  let scale = 1;
  if (opts.title) {
    scale = titleScaleFor(opts.title, width - 2 * pad, opts.titleScale);
    titleH = (FONT_ASCENT + FONT_DESCENT) * scale + 6;
  }
  const top = pad + titleH;
  const height = top + rows * ch + rows * pad;
  const out = new Raster(width, height, opts.background ?? THEME.background);
  if (opts.title) drawTitle(out, opts.title, Math.floor(width / 2), pad + 2, scale);
  rasters.forEach((r, i) => {
    const col = i % c;
    const row = Math.floor(i / c);
    const x = pad + col * (cw + pad) + Math.floor((cw - r.width) / 2);
    const y = top + row * (ch + pad) + Math.floor((ch - r.height) / 2);
    out.blit(r, x, y);
  });
  return out;
}
