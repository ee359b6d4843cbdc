import { ConfigError } from '@difflab/core';
import { type ColorLike, parseColor } from './color.js';
import { drawText, FONT_ASCENT, FONT_DESCENT, measureText } from './font.js';
import { Raster } from './raster.js';
import { formatNumber, formatTick, logTicks, niceStep, niceTicks } from './ticks.js';

/** Space in pixels between the figure edge and the plot frame. */
export interface Margins {
  top: number;
  right: number;
  bottom: number;
  left: number;
}

/** Theme colours shared by the plots. */
export const THEME = {
  background: '#ffffff',
  axis: '#333333',
  grid: '#e6e6e6',
  text: '#222222',
  tickText: '#333333',
  legendBorder: '#c8c8c8',
} as const;

/** Options common to `scatterPlot` and `linePlot`. */
export interface AxesOptions {
  /** Figure width in pixels. */
  width?: number;
  /** Figure height in pixels. */
  height?: number;
  /** Title above the plot (drawn bold, at scale 2 when it fits, else 1). */
  title?: string;
  /** Label under the x axis. */
  xlabel?: string;
  /** Label left of the y axis (rotated). */
  ylabel?: string;
  /** Fixed x range [min, max]; default from the data. Share it across panels to compare them. */
  xlim?: readonly [number, number];
  /** Fixed y range [min, max]; default from the data. */
  ylim?: readonly [number, number];
  /** Light grid lines at the ticks. Default true. */
  grid?: boolean;
  /** Background colour. Default white. */
  background?: ColorLike;
  /** Override the computed space around the plot frame, per side. */
  margins?: Partial<Margins>;
  /** About how many x / y tick intervals to aim for. Default 5. */
  ticks?: number;
  /** Integer scale of the title font; default 2 when the title fits, else 1. */
  titleScale?: number;
}

/**
 * Where the plot frame lies and how data map to pixels. `left`/`right`/`top`/`bottom` are the
 * pixel columns/rows of the frame lines; data x = xlim[0] maps to pixel centre `left`,
 * x = xlim[1] to `right`, y = ylim[0] to `bottom`, y = ylim[1] to `top` (log10 y when `logY`):
 *   px = left + (x - xlim[0]) / (xlim[1] - xlim[0]) * (right - left)
 *   py = bottom - (y - ylim[0]) / (ylim[1] - ylim[0]) * (bottom - top)
 */
export interface PlotArea {
  readonly left: number;
  readonly top: number;
  readonly right: number;
  readonly bottom: number;
  readonly xlim: readonly [number, number];
  readonly ylim: readonly [number, number];
  readonly logY: boolean;
  readonly xticks: readonly number[];
  readonly yticks: readonly number[];
}

/** A rendered plot: a Raster that also records its axes (for overlays and tests). */
export interface PlotRaster extends Raster {
  readonly area: PlotArea;
}

/** Pixel x of data x. */
export function xToPixel(area: PlotArea, x: number): number {
  const [a, b] = area.xlim;
  return area.left + ((x - a) / (b - a)) * (area.right - area.left);
}

/** Pixel y of data y (log10 when the axis is logarithmic; non-positive values give NaN there). */
export function yToPixel(area: PlotArea, y: number): number {
  let [a, b] = area.ylim;
  if (area.logY) {
    if (!(y > 0)) return Number.NaN;
    y = Math.log10(y);
    a = Math.log10(a);
    b = Math.log10(b);
  }
  return area.bottom - ((y - a) / (b - a)) * (area.bottom - area.top);
}

export function checkLimits(lim: readonly [number, number] | undefined, path: string, log = false): void {
  if (lim === undefined) return;
  if (!Array.isArray(lim) || lim.length !== 2 || !Number.isFinite(lim[0]) || !Number.isFinite(lim[1]) || !(lim[1] > lim[0])) {
    throw new ConfigError(path, `must be [min, max] with finite min < max, got ${JSON.stringify(lim)}`);
  }
  if (log && !(lim[0] > 0)) throw new ConfigError(path, `must be positive on a log axis, got ${JSON.stringify(lim)}`);
}

export function checkSize(v: number | undefined, path: string): void {
  if (v !== undefined && (!Number.isInteger(v) || v < 32 || v > 8192)) {
    throw new ConfigError(path, `must be an integer from 32 to 8192, got ${v}`);
  }
}

interface TickSet {
  values: number[];
  labels: string[];
}

function ticksFor(lim: readonly [number, number], log: boolean, target: number): TickSet {
  const values = log ? logTicks(lim[0], lim[1], target) : niceTicks(lim[0], lim[1], target);
  const step = niceStep(lim[0], lim[1], target);
  return { values, labels: values.map((v) => (log ? formatNumber(v) : formatTick(v, step))) };
}

const TICK_LEN = 4;
const GAP = 3;
const PAD = 5;

/** Title scale: the requested one, else 2 when the title fits in `room` pixels, else 1. */
export function titleScaleFor(title: string, room: number, requested?: number): number {
  if (requested !== undefined) return Math.max(1, Math.round(requested));
  return measureText(title, 2).width <= room ? 2 : 1;
}

/**
 * A title centred at `cx` (bold at scale 1, plain when scaled up), shifted sideways as needed
 * to stay inside the raster.
 */
export function drawTitle(r: Raster, title: string, cx: number, top: number, scale: number): void {
  const bold = scale === 1;
  const w = measureText(title, scale, bold).width;
  const x = Math.max(PAD, Math.min(cx - Math.floor(w / 2), r.width - PAD - w));
  drawText(r, title, x, top, { color: THEME.text, scale, bold });
}

/**
 * Lay out and draw the frame, grid, ticks, tick labels, title and axis labels on a new raster;
 * returns it with the clip set to the inside of the frame, ready for the data.
 */
export function drawAxes(opts: AxesOptions, xlim: readonly [number, number], ylim: readonly [number, number], logY: boolean): PlotRaster {
  const width = opts.width ?? 320;
  const height = opts.height ?? 320;
  const target = opts.ticks ?? 5;
  const { left, right, top, bottom, xt, yt, titleScale } = layout(opts, width, height, xlim, ylim, logY, target);
  const r = new Raster(width, height, opts.background ?? THEME.background);
  const area: PlotArea = { left, right, top, bottom, xlim: [xlim[0], xlim[1]], ylim: [ylim[0], ylim[1]], logY, xticks: xt.values, yticks: yt.values };

  // grid
  if (opts.grid ?? true) {
    for (const v of xt.values) {
      const px = Math.round(xToPixel(area, v));
      if (px > left && px < right) r.fillRect(px, top + 1, 1, bottom - top - 1, THEME.grid);
    }
    for (const v of yt.values) {
      const py = Math.round(yToPixel(area, v));
      if (py > top && py < bottom) r.fillRect(left + 1, py, right - left - 1, 1, THEME.grid);
    }
  }
  // frame
  r.strokeRect(left, top, right - left + 1, bottom - top + 1, THEME.axis);
  // ticks and labels
  // when ticks meet at the lower left corner, start that x label at its tick instead of
  // centring it, so it does not run into the y label beside it
  const cornerY = yt.values.some((v) => Math.abs(yToPixel(area, v) - bottom) < 4);
  xt.values.forEach((v, i) => {
    const px = Math.round(xToPixel(area, v));
    r.fillRect(px, bottom + 1, 1, TICK_LEN, THEME.axis);
    const corner = cornerY && px - left < 4;
    drawText(r, xt.labels[i]!, corner ? px : px + 1, bottom + TICK_LEN + GAP, { color: THEME.tickText, align: corner ? 'left' : 'center' });
  });
  yt.values.forEach((v, i) => {
    const py = Math.round(yToPixel(area, v));
    r.fillRect(left - TICK_LEN, py, TICK_LEN, 1, THEME.axis);
    drawText(r, yt.labels[i]!, left - TICK_LEN - GAP, py, { color: THEME.tickText, align: 'right', baseline: 'middle' });
  });
  // title and axis labels
  if (opts.title) {
    drawTitle(r, opts.title, Math.round((left + right) / 2), PAD + 1, titleScale);
  }
  if (opts.xlabel) {
    const y = bottom + TICK_LEN + GAP + FONT_ASCENT + GAP + 2;
    drawText(r, opts.xlabel, Math.round((left + right) / 2), y, { color: THEME.text, align: 'center' });
  }
  if (opts.ylabel) {
    drawText(r, opts.ylabel, PAD, Math.round((top + bottom) / 2), { color: THEME.text, align: 'center', rotate: 90 });
  }
  r.clip = { x0: left + 1, y0: top + 1, x1: right - 1, y1: bottom - 1 };
  return Object.assign(r, { area }) as PlotRaster;
}

function layout(opts: AxesOptions, width: number, height: number, xlim: readonly [number, number], ylim: readonly [number, number], logY: boolean, target: number) {
  const yt = ticksFor(ylim, logY, target);
  const yLabelW = Math.max(0, ...yt.labels.map((s) => measureText(s).width));
  const m = opts.margins ?? {};
  const textH = FONT_ASCENT + FONT_DESCENT;
  const titleScale = opts.title ? titleScaleFor(opts.title, width - 2 * PAD, opts.titleScale) : 1;
  const top = m.top ?? (opts.title ? PAD + 1 + (FONT_ASCENT + FONT_DESCENT) * titleScale + 4 : 10);
  const left = m.left ?? PAD + (opts.ylabel ? textH + GAP + 1 : 0) + yLabelW + GAP + TICK_LEN;
  const bottomM = m.bottom ?? TICK_LEN + GAP + FONT_ASCENT + (opts.xlabel ? GAP + 2 + textH : 0) + PAD + 1;
  const bottom = height - 1 - bottomM;
  // x ticks: fewer when their labels would collide
  let xt = ticksFor(xlim, false, target);
  let rightM = m.right ?? 10;
  for (let t = target; t >= 1; t--) {
    xt = ticksFor(xlim, false, t);
    const widths = xt.labels.map((s) => measureText(s).width);
    const last = widths[widths.length - 1] ?? 0;
    rightM = m.right ?? Math.max(10, Math.ceil(last / 2) + 3);
    const right = width - 1 - rightM;
    const span = (right - left) / Math.max(1e-9, xlim[1] - xlim[0]);
    let ok = true;
    for (let i = 1; i < xt.values.length; i++) {
      const dist = (xt.values[i]! - xt.values[i - 1]!) * span;
      if (dist < (widths[i]! + widths[i - 1]!) / 2 + 8) ok = false;
    }
    if (ok) break;
  }
  const right = width - 1 - rightM;
  if (right - left < 8 || bottom - top < 8) {
    throw new ConfigError('plot', `figure ${width}x${height} is too small for its margins (plot area ${right - left}x${bottom - top})`);
  }
  return { left, right, top, bottom, xt, yt, titleScale };
}

/** Where a legend goes inside the plot frame, or 'none'. */
export type LegendPosition = 'upper-right' | 'upper-left' | 'lower-right' | 'lower-left' | 'none';

export interface LegendEntry {
  label: string;
  color: ColorLike;
  /** A disc marker (scatter) or a short line (curves). */
  kind: 'point' | 'line';
}

/** Draw a boxed legend in a corner of the plot frame. */
export function drawLegend(r: Raster, area: PlotArea, entries: readonly LegendEntry[], position: LegendPosition): void {
  if (position === 'none' || entries.length === 0) return;
  const saved = r.clip;
  r.clip = null;
  const rowH = FONT_ASCENT + FONT_DESCENT + 3;
  const markW = 14;
  const w = 4 + markW + 4 + Math.max(...entries.map((e) => measureText(e.label).width)) + 5;
  const h = entries.length * rowH + 5;
  const x = position.endsWith('right') ? area.right - 5 - w : area.left + 6;
  const y = position.startsWith('upper') ? area.top + 6 : area.bottom - 5 - h;
  r.fillRect(x, y, w, h, THEME.background, 0.85);
  r.strokeRect(x, y, w, h, THEME.legendBorder);
  entries.forEach((e, i) => {
    const cy = y + 4 + i * rowH + Math.floor(FONT_ASCENT / 2);
    const [cr, cg, cb] = parseColor(e.color);
    const opaque = [cr, cg, cb] as const;
    if (e.kind === 'point') r.fillCircle(x + 4 + markW / 2, cy, 3, opaque);
    else r.drawLine(x + 4, cy, x + 4 + markW, cy, opaque, 2);
    drawText(r, e.label, x + 4 + markW + 4, cy, { color: THEME.text, baseline: 'middle' });
  });
  r.clip = saved;
}
