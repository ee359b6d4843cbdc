import { ConfigError } from '@difflab/core';
import { type AxesOptions, checkLimits, checkSize, drawAxes, drawLegend, type LegendEntry, type LegendPosition, type PlotRaster, xToPixel, yToPixel } from './axes.js';
import { type ColorLike, PALETTE, parseColor } from './color.js';

/**
 * 2-D points: interleaved xy pairs in a typed array / flat number array ([x0, y0, x1, y1, ...],
 * e.g. the data of a [N, 2] tensor), or an array of [x, y] pairs.
 */
export type Points = Float32Array | Float64Array | readonly number[] | readonly (readonly number[])[];

/** One point cloud of a scatter plot. */
export interface ScatterSeries {
  points: Points;
  /** Legend label; series without one are left out of the legend. */
  label?: string;
  /** Default: the next colour of `PALETTE` (blue, orange, green, ...). */
  color?: ColorLike;
  /** Marker radius in pixels; default the plot's `pointSize`. */
  pointSize?: number;
  /** Marker opacity 0..1; default the plot's `alpha`. */
  alpha?: number;
}

export interface ScatterOptions extends AxesOptions {
  /** Marker radius in pixels. Default 1.6. */
  pointSize?: number;
  /** Marker opacity 0..1. Default 0.6. */
  alpha?: number;
  /** Colour when `points` is a single cloud. Default blue. */
  color?: ColorLike;
  /** Legend label when `points` is a single cloud. */
  label?: string;
  /** Legend corner. Default 'upper-right' when some series has a label, else none. */
  legend?: LegendPosition;
  /** 'equal' makes one data unit the same number of pixels on both axes (widening the
   * auto-ranged axis); 'auto' (default) fills the frame. */
  aspect?: 'auto' | 'equal';
  /** Fraction of the data range added on each side of auto limits. Default 0.05. */
  pad?: number;
}

/** Split points into x and y arrays; throws ConfigError on odd lengths or short pairs. */
export function toXY(points: Points, path = 'points'): { xs: Float64Array; ys: Float64Array } {
  const n0 = points.length;
  if (n0 > 0 && typeof points[0] !== 'number') {
    const pairs = points as readonly (readonly number[])[];
    const xs = new Float64Array(pairs.length);
    const ys = new Float64Array(pairs.length);
    pairs.forEach((p, i) => {
      if (!p || p.length < 2) throw new ConfigError(`${path}[${i}]`, `must be an [x, y] pair, got ${JSON.stringify(p)}`);
      xs[i] = p[0]!;
      ys[i] = p[1]!;
    });
    return { xs, ys };
  }
  const flat = points as ArrayLike<number>;
  if (flat.length % 2 !== 0) throw new ConfigError(path, `flat points need an even length (x, y pairs), got ${flat.length}`);
  const n = flat.length / 2;
  const xs = new Float64Array(n);
  const ys = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    xs[i] = flat[2 * i]!;
    ys[i] = flat[2 * i + 1]!;
  }
  return { xs, ys };
}

/** [min, max] of the finite values, or null when there are none. */
export function finiteRange(arrays: readonly ArrayLike<number>[], accept: (v: number) => boolean = Number.isFinite): [number, number] | null {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const a of arrays) {
    for (let i = 0; i < a.length; i++) {
      const v = a[i]!;
      if (!accept(v)) continue;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  return lo <= hi ? [lo, hi] : null;
}

/** Data range widened by `pad` of its span on each side (a degenerate range by +-1 or +-10%). */
export function paddedRange(range: [number, number] | null, pad: number): [number, number] {
  if (!range) return [-1, 1];
  let [lo, hi] = range;
  if (lo === hi) {
    const d = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    return [lo - d, hi + d];
  }
  const d = (hi - lo) * pad;
  lo -= d;
  hi += d;
  return [lo, hi];
}

function isSeriesList(p: Points | readonly ScatterSeries[]): p is readonly ScatterSeries[] {
  return p.length > 0 && typeof p[0] === 'object' && p[0] !== null && !Array.isArray(p[0]) && 'points' in (p[0] as object);
}

/**
 * Scatter plot of one point cloud or several overlaid ones (drawn in order, so later series
 * lie on top: pass data first, samples second). Axes get nice ticks; limits come from the data
 * (padded 5%) unless `xlim` / `ylim` fix them. Points outside the limits are clipped.
 */
export function scatterPlot(points: Points | readonly ScatterSeries[], opts: ScatterOptions = {}): PlotRaster {
  checkSize(opts.width, 'scatterPlot.width');
  checkSize(opts.height, 'scatterPlot.height');
  checkLimits(opts.xlim, 'scatterPlot.xlim');
  checkLimits(opts.ylim, 'scatterPlot.ylim');
  const alpha = opts.alpha ?? 0.6;
  const size = opts.pointSize ?? 1.6;
  if (!(alpha >= 0 && alpha <= 1)) throw new ConfigError('scatterPlot.alpha', `must be in [0, 1], got ${alpha}`);
  if (!(size > 0)) throw new ConfigError('scatterPlot.pointSize', `must be > 0, got ${size}`);
  const series: ScatterSeries[] = isSeriesList(points)
    ? [...points]
    : [{ points, label: opts.label, color: opts.color ?? PALETTE[0] }];
  const parsed = series.map((s, i) => {
    const { xs, ys } = toXY(s.points, `series[${i}].points`);
    const color = parseColor(s.color ?? PALETTE[i % PALETTE.length]!, `series[${i}].color`);
    return { xs, ys, color, label: s.label, size: s.pointSize ?? size, alpha: s.alpha ?? alpha };
  });
  const pad = opts.pad ?? 0.05;
  let xlim: [number, number] = opts.xlim ? [opts.xlim[0], opts.xlim[1]] : paddedRange(finiteRange(parsed.map((p) => p.xs)), pad);
  let ylim: [number, number] = opts.ylim ? [opts.ylim[0], opts.ylim[1]] : paddedRange(finiteRange(parsed.map((p) => p.ys)), pad);

  let r = drawAxes(opts, xlim, ylim, false);
  if (opts.aspect === 'equal' && !(opts.xlim && opts.ylim)) {
    // widen the free axis so both have the same pixels per unit, then lay out again
    for (let pass = 0; pass < 2; pass++) {
      const a = r.area;
      const ux = (xlim[1] - xlim[0]) / (a.right - a.left);
      const uy = (ylim[1] - ylim[0]) / (a.bottom - a.top);
      const u = opts.xlim ? ux : opts.ylim ? uy : Math.max(ux, uy);
      const cx = (xlim[0] + xlim[1]) / 2;
      const cy = (ylim[0] + ylim[1]) / 2;
      if (!opts.xlim) xlim = [cx - (u * (a.right - a.left)) / 2, cx + (u * (a.right - a.left)) / 2];
      if (!opts.ylim) ylim = [cy - (u * (a.bottom - a.top)) / 2, cy + (u * (a.bottom - a.top)) / 2];
      r = drawAxes(opts, xlim, ylim, false);
    }
  }
  const area = r.area;
  for (const s of parsed) {
    for (let i = 0; i < s.xs.length; i++) {
      const x = s.xs[i]!;
      const y = s.ys[i]!;
      if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
      r.fillCircle(xToPixel(area, x), yToPixel(area, y), s.size, s.color, s.alpha);
    }
  }
  const entries: LegendEntry[] = parsed.filter((s) => s.label).map((s) => ({ label: s.label!, color: s.color, kind: 'point' }));
  drawLegend(r, area, entries, opts.legend ?? (entries.length ? 'upper-right' : 'none'));
  r.clip = null;
  return r;
}
