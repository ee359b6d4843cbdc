/**
 * @difflab/viz: figures as plain RGBA rasters (no tfjs, no DOM, no system fonts): scatter and
 * line plots with nice ticks, panel and image grids, a built-in bitmap font, PNG (Node) and
 * GIF encoders, and `toImageData` for a browser canvas.
 */
import { type DependencyContainer, type PluginDescriptor, registryOf } from '@difflab/core';

export { type PlotArea, type PlotRaster, type Margins, type AxesOptions, type LegendPosition, type LegendEntry, THEME, xToPixel, yToPixel, drawAxes, drawLegend } from './axes.js';
export { type ColorLike, type Rgba, PALETTE, DATA_COLOR, SAMPLE_COLOR, parseColor, toHex } from './color.js';
export { type TextOptions, type TextAlign, type TextBaseline, drawText, measureText, glyph, hasGlyph, GLYPH_WIDTH, GLYPH_ADVANCE, FONT_ASCENT, FONT_DESCENT } from './font.js';
export { type GifOptions, encodeGif } from './gif.js';
export { type ImageGridOptions, imageGrid } from './image-grid.js';
export { type LineSeries, type LineOptions, linePlot } from './line.js';
export { type PanelGridOptions, panelGrid } from './panel.js';
export { encodePng, decodePng } from './png.js';
export { Raster, type ClipRect, type ImageDataLike, copyToImageData, toImageData } from './raster.js';
export { type Points, type ScatterSeries, type ScatterOptions, scatterPlot, toXY } from './scatter.js';
export { niceNumber, niceStep, niceTicks, niceLimits, logTicks, formatTick, formatNumber } from './ticks.js';

/** viz fills no plugin slot; the list is empty and kept for the uniform package shape. */
export const plugins: readonly PluginDescriptor<any, any>[] = [];

/** Add this package's plugins (none) to the container's registry. */
export function register(container: DependencyContainer): void {
  for (const p of plugins) registryOf(container).add(p);
}
