/**
 * float32 arithmetic as torch does it on the CPU, so the schedule tables hold the numbers that
 * diffusers' schedulers hold (they build betas in float32 and take `torch.cumprod` in float32).
 * Each helper rounds to float32 (Math.fround) after every operation.
 */
const f = Math.fround;

/**
 * `torch.linspace(start, end, n, dtype=torch.float32)`: torch's CPU kernel computes
 * step = (end - start) / (n - 1) in float32, fills the first half as start + step * i and the
 * second half as end - step * (n - 1 - i), all in float32. (Its vectorised path can differ from
 * this scalar formula by one float32 ulp in a few entries; that is below any tolerance we use.)
 */
export function linspaceF32(start: number, end: number, n: number): Float64Array {
  const out = new Float64Array(n);
  if (n === 1) {
    out[0] = f(start);
    return out;
  }
  const s = f(start);
  const e = f(end);
  const step = f(f(e - s) / (n - 1));
  const half = Math.floor(n / 2);
  for (let i = 0; i < n; i++) out[i] = i < half ? f(s + f(step * i)) : f(e - f(step * (n - 1 - i)));
  return out;
}

/** Round every entry to float32 (a copy). */
export function toFloat32Values(xs: ArrayLike<number>): Float64Array {
  const out = new Float64Array(xs.length);
  for (let i = 0; i < xs.length; i++) out[i] = f(xs[i]);
  return out;
}

/**
 * `torch.cumprod(x, 0)` of a float32 tensor on the CPU: torch's `cumprod_cpu_kernel` keeps the running
 * product in `at::acc_type<float, false>` = double and rounds each output to float32
 * (aten/src/ATen/native/cpu/ReduceOpsKernel.cpp), so the accumulator here is not rounded.
 */
export function cumprodF32(xs: ArrayLike<number>): Float64Array {
  const out = new Float64Array(xs.length);
  let acc = 1;
  for (let i = 0; i < xs.length; i++) {
    acc *= xs[i];
    out[i] = f(acc);
  }
  return out;
}

/** `1 - x` elementwise in float32. */
export function oneMinusF32(xs: ArrayLike<number>): Float64Array {
  const out = new Float64Array(xs.length);
  for (let i = 0; i < xs.length; i++) out[i] = f(1 - xs[i]);
  return out;
}
