/** Canvas drawing for the lab page: scatter plots of 2-D points and a loss curve. */

export interface Series {
  /** Points [n, 2], flat. */
  xy: Float32Array;
  color: string;
}

/** Scatter plot of point sets in a fixed square window [-lim, lim]^2. */
export function scatter(canvas: HTMLCanvasElement, series: Series[], lim = 2.5): void {
  const g = canvas.getContext('2d')!;
  const { width: w, height: h } = canvas;
  g.clearRect(0, 0, w, h);
  g.strokeStyle = '#eee';
  g.beginPath();
  g.moveTo(w / 2, 0);
  g.lineTo(w / 2, h);
  g.moveTo(0, h / 2);
  g.lineTo(w, h / 2);
  g.stroke();
  for (const s of series) {
    g.fillStyle = s.color;
    for (let i = 0; i + 1 < s.xy.length; i += 2) {
      const px = ((s.xy[i] + lim) / (2 * lim)) * w;
      const py = h - ((s.xy[i + 1] + lim) / (2 * lim)) * h;
      g.fillRect(px - 1, py - 1, 2, 2);
    }
  }
}

/** A loss curve (log scale) with its moving average. */
export function lossCurve(canvas: HTMLCanvasElement, losses: number[]): void {
  const g = canvas.getContext('2d')!;
  const { width: w, height: h } = canvas;
  g.clearRect(0, 0, w, h);
  if (losses.length < 2) return;
  const logs = losses.map((v) => Math.log10(Math.max(v, 1e-8)));
  const lo = Math.min(...logs);
  const hi = Math.max(...logs);
  const y = (v: number) => h - 10 - ((v - lo) / Math.max(hi - lo, 1e-9)) * (h - 20);
  const x = (i: number) => 5 + (i / (logs.length - 1)) * (w - 10);
  const line = (vals: number[], color: string, width: number) => {
    g.strokeStyle = color;
    g.lineWidth = width;
    g.beginPath();
    for (let i = 0; i < vals.length; i++) {
      if (i === 0) g.moveTo(x(i), y(vals[i]));
      else g.lineTo(x(i), y(vals[i]));
    }
    g.stroke();
  };
  line(logs, 'rgba(31,119,180,0.35)', 1);
  const win = Math.max(1, Math.round(logs.length / 50));
  const smooth = logs.map((_, i) => {
    const a = logs.slice(Math.max(0, i - win + 1), i + 1);
    return a.reduce((s, v) => s + v, 0) / a.length;
  });
  line(smooth, '#d62728', 2);
}

