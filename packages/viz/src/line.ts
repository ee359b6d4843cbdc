import { ConfigError } from '@difflab/core';
import { type AxesOptions, checkLimits, checkSize, drawAxes, drawLegend, type LegendEntry, type LegendPosition, type PlotRaster, xToPixel, yToPixel } from './axes.js';
import { type ColorLike, PALETTE, parseColor } from './color.js';
import { finiteRange, paddedRange } from './scatter.js';

/** One curve of a line plot. */
export interface LineSeries {
  /** x values; default 0, 1, 2, ... */
  x?: ArrayLike<number>;
  y: ArrayLike<number>;
  /** Legend label; series without one are left out of the legend. */
  label?: string;
  /** Default: the next colour of `PALETTE`. */
  color?: ColorLike;
  /** Stroke width in pixels; default the plot's `lineWidth`. */
  lineWidth?: number;
}

export interface LineOptions extends AxesOptions {
  /** Logarithmic y axis (values <= 0 break the line). Default false. */
  logY?: boolean;
  /** Stroke width in pixels. Default 1.5. */
  lineWidth?: number;
  /** Legend corner. Default 'upper-right' when some series has a label, else none. */
  legend?: LegendPosition;
}

/**
 * Line plot, e.g. loss curves (default 320x240). Non-finite y values (and y <= 0 when `logY`)
 * break a line. Limits: x spans the data exactly, y the data padded 5% (in log10 space when
 * `logY`), unless `xlim` / `ylim` are given.
 */
export function linePlot(series: readonly LineSeries[], opts: LineOptions = {}): PlotRaster {
  checkSize(opts.width, 'linePlot.width');
  checkSize(opts.height, 'linePlot.height');
  const logY = opts.logY ?? false;
  checkLimits(opts.xlim, 'linePlot.xlim');
  checkLimits(opts.ylim, 'linePlot.ylim', logY);
  const lw = opts.lineWidth ?? 1.5;
  if (!(lw > 0)) throw new ConfigError('linePlot.lineWidth', `must be > 0, got ${lw}`);
  const parsed = series.map((s, i) => {
    const n = s.y.length;
    if (s.x && s.x.length !== n) throw new ConfigError(`series[${i}].x`, `has ${s.x.length} values but y has ${n}`);
    const x = s.x ?? Float64Array.from({ length: n }, (_, k) => k);
    return { x, y: s.y, color: parseColor(s.color ?? PALETTE[i % PALETTE.length]!, `series[${i}].color`), label: s.label, lw: s.lineWidth ?? lw };
  });
  let xlim: [number, number];
  if (opts.xlim) xlim = [opts.xlim[0], opts.xlim[1]];
  else {
    const xr = finiteRange(parsed.map((p) => p.x));
    xlim = xr && xr[0] < xr[1] ? xr : paddedRange(xr, 0);
  }
  let ylim: [number, number];
  if (opts.ylim) ylim = [opts.ylim[0], opts.ylim[1]];
  else if (logY) {
    const yr = finiteRange(
      parsed.map((p) => p.y),
      (v) => Number.isFinite(v) && v > 0,
    );
    const lr = paddedRange(yr ? [Math.log10(yr[0]), Math.log10(yr[1])] : [-1, 1], 0.05);
    ylim = [10 ** lr[0], 10 ** lr[1]];
  } else ylim = paddedRange(finiteRange(parsed.map((p) => p.y)), 0.05);

  const r = drawAxes({ ...opts, height: opts.height ?? 240 }, xlim, ylim, logY);
  const area = r.area;
  for (const s of parsed) {
    const px = new Float64Array(s.y.length);
    const py = new Float64Array(s.y.length);
    for (let i = 0; i < s.y.length; i++) {
      px[i] = xToPixel(area, s.x[i]!);
      py[i] = yToPixel(area, s.y[i]!);
    }
    r.drawPolyline(px, py, s.color, s.lw);
  }
  const entries: LegendEntry[] = parsed.filter((s) => s.label).map((s) => ({ label: s.label!, color: s.color, kind: 'line' }));
  drawLegend(r, area, entries, opts.legend ?? (entries.length ? 'upper-right' : 'none'));
  r.clip = null;
  return r;
}
