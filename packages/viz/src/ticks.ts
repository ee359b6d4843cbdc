/**
 * Axis ticks by the "nice numbers" method of Heckbert, "Nice Numbers for Graph Labels",
 * Graphics Gems (1990): the step is a power of ten times 1, 2 or 5, chosen by rounding the
 * raw step `span / target`, and ticks are the multiples of the step inside the range.
 */

/** Exact 10^e for integer e (10^-3 is 0.001, not 0.0010000000000000002). */
export function pow10(e: number): number {
  return Number(`1e${e}`);
}

/**
 * Heckbert's nice number near x > 0: 1, 2, 5 or 10 times a power of ten. With `round` the
 * nearest one (thresholds 1.5, 3, 7), otherwise the smallest nice number >= x.
 */
export function niceNumber(x: number, round: boolean): number {
  if (!(x > 0) || !Number.isFinite(x)) return 1;
  const e = Math.floor(Math.log10(x));
  const f = x / pow10(e);
  let nf: number;
  if (round) nf = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10;
  else nf = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
  return e < 0 ? nf / pow10(-e) : nf * pow10(e);
}

/** Nice step for about `target` intervals across [lo, hi]. */
export function niceStep(lo: number, hi: number, target = 5): number {
  return niceNumber(Math.abs(hi - lo) / Math.max(1, target), true);
}

/** Digits after the decimal point of a number's shortest form (0.05 -> 2, 20 -> 0, 2e-7 -> 7). */
export function decimalsOf(v: number): number {
  const s = Number(v.toPrecision(12)).toString();
  const m = /e-(\d+)$/.exec(s);
  if (m) {
    const mant = s.split('e')[0]!;
    const d = mant.includes('.') ? mant.split('.')[1]!.length : 0;
    return Number(m[1]) + d;
  }
  return s.includes('.') ? s.split('.')[1]!.length : 0;
}

/**
 * Nice ticks inside [lo, hi]: the multiples of `niceStep(lo, hi, target)` in the range, rounded
 * to the step's decimals so they print exactly. Example: (-1.3, 1.7) -> [-1, -0.5, 0, 0.5, 1, 1.5].
 */
export function niceTicks(lo: number, hi: number, target = 5): number[] {
  if (lo > hi) [lo, hi] = [hi, lo];
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  if (lo === hi) return [lo];
  const step = niceStep(lo, hi, target);
  const d = decimalsOf(step);
  const eps = 1e-9 * step;
  const k0 = Math.ceil((lo - eps) / step);
  const k1 = Math.floor((hi + eps) / step);
  const out: number[] = [];
  for (let k = k0; k <= k1 && out.length < 1000; k++) {
    const v = Number((k * step).toFixed(Math.min(d, 100)));
    out.push(v === 0 ? 0 : v);
  }
  return out;
}

/** [lo, hi] widened outwards to multiples of the nice step (Heckbert's "loose" labelling). */
export function niceLimits(lo: number, hi: number, target = 5): [number, number] {
  if (lo > hi) [lo, hi] = [hi, lo];
  if (lo === hi) return [lo - 1, hi + 1];
  const step = niceStep(lo, hi, target);
  const d = decimalsOf(step);
  const f = (v: number) => Number(v.toFixed(Math.min(d, 100)));
  return [f(Math.floor(lo / step + 1e-9) * step), f(Math.ceil(hi / step - 1e-9) * step)];
}

/**
 * Ticks for a logarithmic axis over [lo, hi] (both > 0): powers of ten when hi / lo >= 1000
 * (every k-th decade if there are more than `target + 2`), else the 1-2-5 multiples in range
 * if there are 2..target+2 of them, else powers of ten, else linear nice ticks.
 */
export function logTicks(lo: number, hi: number, target = 5): number[] {
  if (lo > hi) [lo, hi] = [hi, lo];
  if (!(lo > 0) || !Number.isFinite(hi)) return [];
  const e0 = Math.ceil(Math.log10(lo) - 1e-9);
  const e1 = Math.floor(Math.log10(hi) + 1e-9);
  const decades = e1 - e0 + 1;
  if (decades >= 2 && hi / lo >= 1000) {
    const stride = Math.max(1, Math.ceil(decades / (target + 2)));
    const out: number[] = [];
    for (let e = Math.ceil(e0 / stride) * stride; e <= e1; e += stride) out.push(pow10(e));
    if (out.length >= 2) return out;
  }
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(lo)) - 1; e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const v = Number((m * pow10(e)).toPrecision(6));
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) out.push(v);
    }
  }
  if (out.length >= 2 && out.length <= target + 2) return out;
  if (decades >= 2) {
    const pw: number[] = [];
    for (let e = e0; e <= e1; e++) pw.push(pow10(e));
    return pw;
  }
  return niceTicks(lo, hi, target).filter((v) => v > 0);
}

function trimExp(s: string): string {
  // "1.50e+5" -> "1.5e5", "2.00e-7" -> "2e-7"
  const [m, e] = s.split('e');
  const mant = m!.includes('.') ? m!.replace(/0+$/, '').replace(/\.$/, '') : m!;
  return `${mant}e${Number(e)}`;
}

/**
 * Label for a tick on a linear axis whose ticks are `step` apart: fixed-point with the step's
 * decimals (0.5 -> "0.5", 1 -> "1"), or exponent form for very large / small magnitudes.
 */
export function formatTick(v: number, step: number): string {
  if (v === 0) return '0';
  const a = Math.max(Math.abs(v), Math.abs(step));
  if (a >= 1e6 || Math.abs(step) < 1e-4) {
    const digits = Math.max(0, Math.floor(Math.log10(Math.abs(v))) - Math.floor(Math.log10(Math.abs(step))));
    return trimExp(v.toExponential(Math.min(digits, 20)));
  }
  return v.toFixed(Math.min(decimalsOf(step), 20));
}

/** Compact label for any number (log-axis ticks, legends): "0.01", "250", "1e-5", "2.5e6". */
export function formatNumber(v: number): string {
  if (v === 0) return '0';
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a >= 1e-3 && a < 1e5) return Number(v.toPrecision(6)).toString();
  return trimExp(v.toExponential(5));
}
