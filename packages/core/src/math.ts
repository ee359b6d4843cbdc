// Float64 special functions for references and tests.

/** erf in float64: Maclaurin series for |x| < 3.5, asymptotic erfc beyond (error < 1e-12). */
export function erf64(x: number): number {
  const ax = Math.abs(x);
  if (ax < 3.5) {
    let term = x;
    let sum = x;
    for (let n = 1; n < 200; n++) {
      term *= (-x * x) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17) break;
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  const x2 = ax * ax;
  let s = 1;
  let term = 1;
  for (let n = 1; n < 8; n++) {
    term *= -(2 * n - 1) / (2 * x2);
    s += term;
  }
  const erfc = (Math.exp(-x2) / (ax * Math.sqrt(Math.PI))) * s;
  return Math.sign(x) * (1 - erfc);
}
