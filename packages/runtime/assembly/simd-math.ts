// AssemblyScript source of difflab's SIMD float32 math kernels (wasm f32x4), compiled by
// `npm run build:simd -w @difflab/runtime` into src/wasm-kernels/simd-math.generated.ts.
//
// Each export maps n float32 values at `src` to `dst` (n a multiple of 4; the loader pads):
//   sinCos  sin / cos: Cephes sinf's octant reduction (pi/4 split in three parts) and minimax
//           polynomials; |x| > 8192, inf and NaN lanes take the double-precision Math.sin/cos.
//           Within 1 ulp of the rounded result on |x| < 100 (simd-math.test.ts).
//   expArr  exp: Cephes expf (ln 2 split in two, degree-5 polynomial), 2^n applied in two
//           halves so denormal results and the overflow edge are right; within 1 ulp.
//   erfArr  erf: x P(x^2) / Q(x^2) on x clamped to [-4, 4], the rational approximation used for
//           float erf by Eigen / TensorFlow; within 8 ulp and 5e-7 (float32 evaluation).
//   geluFwd / geluBwd  the exact GELU and its derivative in one pass each (erf and exp as above).
//   adamStep  one Adam / AdamW update of flat parameter, moment and gradient vectors.
// and two data-movement kernels (any lengths): colSum (sum over leading rows) and transpose32.

const FOPI: f32 = 1.27323954473516; // 4 / pi
const DP1: f32 = 0.78515625;
const DP2: f32 = 2.4187564849853515625e-4;
const DP3: f32 = 3.77489497744594108e-8;
const S0: f32 = -1.9515295891e-4;
const S1: f32 = 8.3321608736e-3;
const S2: f32 = -1.6666654611e-1;
const C0: f32 = 2.443315711809948e-5;
const C1: f32 = -1.388731625493765e-3;
const C2: f32 = 4.166664568298827e-2;
const BIG: f32 = 8192.0;

@inline function reduce(ax: v128, y: v128): v128 {
  let x = f32x4.sub(ax, f32x4.mul(y, f32x4.splat(DP1)));
  x = f32x4.sub(x, f32x4.mul(y, f32x4.splat(DP2)));
  return f32x4.sub(x, f32x4.mul(y, f32x4.splat(DP3)));
}

@inline function polyCos(z: v128): v128 {
  let y = f32x4.add(f32x4.mul(f32x4.splat(C0), z), f32x4.splat(C1));
  y = f32x4.add(f32x4.mul(y, z), f32x4.splat(C2));
  y = f32x4.mul(f32x4.mul(y, z), z);
  y = f32x4.sub(y, f32x4.mul(z, f32x4.splat(0.5)));
  return f32x4.add(y, f32x4.splat(1.0));
}

@inline function polySin(z: v128, x: v128): v128 {
  let y = f32x4.add(f32x4.mul(f32x4.splat(S0), z), f32x4.splat(S1));
  y = f32x4.add(f32x4.mul(y, z), f32x4.splat(S2));
  return f32x4.add(f32x4.mul(f32x4.mul(y, z), x), x);
}

/** dst[i] = sin(src[i]) (cos when `isCos`), n rounded up to a multiple of 4. */
export function sinCos(src: usize, dst: usize, n: i32, isCos: bool): void {
  const signMask = i32x4.splat(0x80000000);
  for (let i = 0; i < n; i += 4) {
    const p = src + (<usize>i << 2);
    const q = dst + (<usize>i << 2);
    const x = v128.load(p);
    const ax = f32x4.abs(x);
    if (v128.any_true(f32x4.gt(ax, f32x4.splat(BIG))) || !i32x4.all_true(f32x4.eq(ax, ax)) ) {
      for (let k = 0; k < 4; k++) {
        const v = <f64>load<f32>(p + (<usize>k << 2));
        store<f32>(q + (<usize>k << 2), <f32>(isCos ? Math.cos(v) : Math.sin(v)));
      }
      continue;
    }
    let j = i32x4.trunc_sat_f32x4_s(f32x4.mul(ax, f32x4.splat(FOPI)));
    j = v128.and(i32x4.add(j, i32x4.splat(1)), i32x4.splat(~1));
    const y = f32x4.convert_i32x4_s(j);
    let sign: v128;
    let polyMask: v128;
    if (isCos) {
      const j2 = i32x4.sub(j, i32x4.splat(2));
      sign = i32x4.shl(v128.and(v128.not(j2), i32x4.splat(4)), 29);
      polyMask = i32x4.eq(v128.and(j2, i32x4.splat(2)), i32x4.splat(0));
    } else {
      sign = v128.xor(v128.and(x, signMask), i32x4.shl(v128.and(j, i32x4.splat(4)), 29));
      polyMask = i32x4.eq(v128.and(j, i32x4.splat(2)), i32x4.splat(0));
    }
    const r = reduce(ax, y);
    const z = f32x4.mul(r, r);
    const out = v128.bitselect(polySin(z, r), polyCos(z), polyMask);
    v128.store(q, v128.xor(out, sign));
  }
}

// exp (Cephes expf / sse_mathfun exp_ps)
const LOG2E: f32 = 1.44269504088896341;
const EC1: f32 = 0.693359375;
const EC2: f32 = -2.12194440e-4;
const P0: f32 = 1.9875691500e-4;
const P1: f32 = 1.3981999507e-3;
const P2: f32 = 8.3334519073e-3;
const P3: f32 = 4.1665795894e-2;
const P4: f32 = 1.6666665459e-1;
const P5: f32 = 5.0000001201e-1;

@inline function expV(x0: v128): v128 {
  // clamp to [ln(smallest denormal), ln(FLT_MAX)]; 2^n is applied in two halves so that
  // n in [-150, 128] never leaves the exponent range of a normal float
  let x = f32x4.max(f32x4.min(x0, f32x4.splat(88.72283905206835)), f32x4.splat(-103.97208));
  const fx = f32x4.floor(f32x4.add(f32x4.mul(x, f32x4.splat(LOG2E)), f32x4.splat(0.5)));
  x = f32x4.sub(x, f32x4.mul(fx, f32x4.splat(EC1)));
  x = f32x4.sub(x, f32x4.mul(fx, f32x4.splat(EC2)));
  const z = f32x4.mul(x, x);
  let y = f32x4.add(f32x4.mul(f32x4.splat(P0), x), f32x4.splat(P1));
  y = f32x4.add(f32x4.mul(y, x), f32x4.splat(P2));
  y = f32x4.add(f32x4.mul(y, x), f32x4.splat(P3));
  y = f32x4.add(f32x4.mul(y, x), f32x4.splat(P4));
  y = f32x4.add(f32x4.mul(y, x), f32x4.splat(P5));
  y = f32x4.add(f32x4.add(f32x4.mul(y, z), x), f32x4.splat(1.0));
  const n = i32x4.trunc_sat_f32x4_s(fx);
  const h = i32x4.shr_s(n, 1);
  y = f32x4.mul(y, i32x4.shl(i32x4.add(h, i32x4.splat(127)), 23));
  y = f32x4.mul(y, i32x4.shl(i32x4.add(i32x4.sub(n, h), i32x4.splat(127)), 23));
  y = v128.bitselect(f32x4.splat(Infinity), y, f32x4.gt(x0, f32x4.splat(88.72283905206835)));
  y = v128.bitselect(f32x4.splat(0.0), y, f32x4.lt(x0, f32x4.splat(-103.97208)));
  return v128.bitselect(x0, y, f32x4.ne(x0, x0));
}

export function expArr(src: usize, dst: usize, n: i32): void {
  for (let i = 0; i < n; i += 4) {
    const o = <usize>i << 2;
    v128.store(dst + o, expV(v128.load(src + o)));
  }
}

// erf: x P(x^2) / Q(x^2) on x clamped to [-4, 4] (the rational approximation of Eigen /
// TensorFlow's float erf; |error| < 7e-8, relative too)
const EA0: f32 = -2.72614225801306e-10;
const EA1: f32 = 2.77068142495902e-8;
const EA2: f32 = -2.10102402082508e-6;
const EA3: f32 = -5.69250639462346e-5;
const EA4: f32 = -7.34990630326855e-4;
const EA5: f32 = -2.95459980854025e-3;
const EA6: f32 = -1.60960333262415e-2;
const EB0: f32 = -1.45660718464996e-5;
const EB1: f32 = -2.13374055278905e-4;
const EB2: f32 = -1.68282697438203e-3;
const EB3: f32 = -7.37332916720468e-3;
const EB4: f32 = -1.42647390514189e-2;
@inline function erfV(x0: v128): v128 {
  const x = f32x4.max(f32x4.min(x0, f32x4.splat(4.0)), f32x4.splat(-4.0));
  const x2 = f32x4.mul(x, x);
  let p = f32x4.add(f32x4.mul(f32x4.splat(EA0), x2), f32x4.splat(EA1));
  p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(EA2));
  p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(EA3));
  p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(EA4));
  p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(EA5));
  p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(EA6));
  let q = f32x4.add(f32x4.mul(f32x4.splat(EB0), x2), f32x4.splat(EB1));
  q = f32x4.add(f32x4.mul(q, x2), f32x4.splat(EB2));
  q = f32x4.add(f32x4.mul(q, x2), f32x4.splat(EB3));
  q = f32x4.add(f32x4.mul(q, x2), f32x4.splat(EB4));
  return f32x4.div(f32x4.mul(x, p), q);
}

export function erfArr(src: usize, dst: usize, n: i32): void {
  for (let i = 0; i < n; i += 4) {
    const o = <usize>i << 2;
    v128.store(dst + o, erfV(v128.load(src + o)));
  }
}

// Exact GELU (torch nn.GELU()): cdf = Phi(z) = (1 + erf(z / sqrt 2)) / 2, y = z cdf; and its
// derivative dz = dy (cdf + z phi(z)), phi(z) = exp(-z^2 / 2) / sqrt(2 pi).
export function geluFwd(src: usize, y: usize, cdf: usize, n: i32): void {
  for (let i = 0; i < n; i += 4) {
    const o = <usize>i << 2;
    const z = v128.load(src + o);
    const c = f32x4.mul(f32x4.add(erfV(f32x4.mul(z, f32x4.splat(0.7071067811865476))), f32x4.splat(1.0)), f32x4.splat(0.5));
    v128.store(cdf + o, c);
    v128.store(y + o, f32x4.mul(z, c));
  }
}

export function geluBwd(dy: usize, src: usize, cdf: usize, dz: usize, n: i32): void {
  for (let i = 0; i < n; i += 4) {
    const o = <usize>i << 2;
    const z = v128.load(src + o);
    const pdf = f32x4.mul(expV(f32x4.mul(f32x4.mul(z, z), f32x4.splat(-0.5))), f32x4.splat(0.3989422804014327));
    v128.store(dz + o, f32x4.mul(v128.load(dy + o), f32x4.add(v128.load(cdf + o), f32x4.mul(z, pdf))));
  }
}

// One Adam / AdamW step over flat float32 vectors, in place on p, m, v (torch's formulas, in
// the order and with the float32 constants difflab's tfjs ops use, so the results are the same
// float32 values):
//   mode 2 (AdamW): p <- p decay (decay = 1 - lr wd);  mode 1 (Adam, L2): g <- g + decay p (decay = wd)
//   m <- b1 m + b1c g;  v <- b2 v + b2c g^2            (b1c = 1 - b1, b2c = 1 - b2)
//   p <- p - stepSize m / (sqrt(v) invSqrtBc2 + eps)  (stepSize = lr / bc1)
export function adamStep(p: usize, g: usize, m: usize, v: usize, n: i32, b1: f32, b1c: f32, b2: f32, b2c: f32, eps: f32, stepSize: f32, invSqrtBc2: f32, decay: f32, mode: i32): void {
  const vb1 = f32x4.splat(b1);
  const vb1c = f32x4.splat(b1c);
  const vb2 = f32x4.splat(b2);
  const vb2c = f32x4.splat(b2c);
  const veps = f32x4.splat(eps);
  const vstep = f32x4.splat(stepSize);
  const vbc2 = f32x4.splat(invSqrtBc2);
  const vdecay = f32x4.splat(decay);
  for (let i = 0; i < n; i += 4) {
    const o = <usize>i << 2;
    let pv = v128.load(p + o);
    let gv = v128.load(g + o);
    if (mode == 2) pv = f32x4.mul(pv, vdecay);
    else if (mode == 1) gv = f32x4.add(gv, f32x4.mul(pv, vdecay));
    const mv = f32x4.add(f32x4.mul(v128.load(m + o), vb1), f32x4.mul(gv, vb1c));
    const vv = f32x4.add(f32x4.mul(v128.load(v + o), vb2), f32x4.mul(f32x4.mul(gv, gv), vb2c));
    v128.store(m + o, mv);
    v128.store(v + o, vv);
    const denom = f32x4.add(f32x4.mul(f32x4.sqrt(vv), vbc2), veps);
    v128.store(p + o, f32x4.sub(pv, f32x4.mul(f32x4.div(mv, denom), vstep)));
  }
}

// Column sums: dst[j] = sum_i src[i * cols + j] (i < rows), rows accumulated in order in float32
// (the sum over the leading axes of a tensor, which tfjs-backend-wasm computes by transposing
// first).
export function colSum(src: usize, dst: usize, rows: i32, cols: i32): void {
  const c4 = cols & ~3;
  for (let j = 0; j < cols; j++) store<f32>(dst + (<usize>j << 2), 0);
  for (let i = 0; i < rows; i++) {
    const row = src + ((<usize>i * <usize>cols) << 2);
    let j = 0;
    for (; j < c4; j += 4) {
      const o = <usize>j << 2;
      v128.store(dst + o, f32x4.add(v128.load(dst + o), v128.load(row + o)));
    }
    for (; j < cols; j++) {
      const o = <usize>j << 2;
      store<f32>(dst + o, load<f32>(dst + o) + load<f32>(row + o));
    }
  }
}

// Batched transpose of 32-bit words with an inner block: dst[b][j][i][k] = src[b][i][j][k]
// (b < batch, i < rows, j < cols, k < inner), in 16 x 16 tiles of (i, j).
export function transpose32(src: usize, dst: usize, batch: i32, rows: i32, cols: i32, inner: i32): void {
  const plane = <usize>rows * <usize>cols * <usize>inner;
  const w = <usize>inner;
  for (let b = 0; b < batch; b++) {
    const s = src + ((<usize>b * plane) << 2);
    const d = dst + ((<usize>b * plane) << 2);
    for (let i0 = 0; i0 < rows; i0 += 16) {
      const i1 = min(i0 + 16, rows);
      for (let j0 = 0; j0 < cols; j0 += 16) {
        const j1 = min(j0 + 16, cols);
        for (let i = i0; i < i1; i++) {
          for (let j = j0; j < j1; j++) {
            const from = s + (((<usize>i * <usize>cols + <usize>j) * w) << 2);
            const to = d + (((<usize>j * <usize>rows + <usize>i) * w) << 2);
            if (inner === 1) store<u32>(to, load<u32>(from));
            else memory.copy(to, from, w << 2);
          }
        }
      }
    }
  }
}
