import { describe, expect, it } from 'vitest';
import { quadraticBetas, quadraticSchedule } from './quadratic.js';
import { scaledLinearBetas, scaledLinearSchedule } from './scaled-linear.js';
import { sigmoidBetas, sigmoidSchedule } from './sigmoid.js';

describe('scaled-linear and quadratic', () => {
  it('are linear in sqrt(beta)', () => {
    const b = scaledLinearBetas(1000, 0.00085, 0.012);
    const r = (i: number) => (Math.sqrt(0.00085) + ((Math.sqrt(0.012) - Math.sqrt(0.00085)) * i) / 999) ** 2;
    for (const i of [0, 1, 333, 998, 999]) expect(Math.abs(b[i] - r(i)) / r(i)).toBeLessThan(1e-6);
  });

  it('Stable Diffusion settings (0.00085..0.012, T = 1000) end at alpha-bar 0.00466', () => {
    // float64 reference of the product: 0.004660098513
    const a = scaledLinearSchedule(1000, 0.00085, 0.012).alphasCumprod[999];
    expect(Math.abs(a - 0.004660098513) / 0.00466).toBeLessThan(1e-4);
  });

  it('quadratic is the same formula with its own id and beta_schedule', () => {
    const q = quadraticSchedule(50, 1e-4, 0.02);
    const s = scaledLinearSchedule(50, 1e-4, 0.02);
    expect(Array.from(q.alphasCumprod)).toEqual(Array.from(s.alphasCumprod));
    expect(Array.from(quadraticBetas(7))).toEqual(Array.from(scaledLinearBetas(7)));
    expect(q.id).toBe('quadratic');
    expect(q.config.beta_schedule).toBe('quadratic');
    expect(s.id).toBe('scaled-linear');
    expect(s.config.beta_schedule).toBe('scaled_linear');
  });
});

describe('sigmoid', () => {
  it('is sigmoid(linspace(-6, 6, T)) * (end - start) + start', () => {
    // float64 values of the formula at T = 10, computed by hand with node
    const ref = [
      0.00014920520081703202, 0.0002853875909668271, 0.0007854593937576023, 0.002472138148240139, 0.006850948261560237, 0.013249051738439762,
      0.01762786185175986, 0.0193145406062424, 0.019814612409033174, 0.01995079479918297,
    ];
    const b = sigmoidBetas(10, 1e-4, 0.02);
    for (let i = 0; i < ref.length; i++) expect(Math.abs(b[i] - ref[i]) / ref[i]).toBeLessThan(1e-6);
    const s = sigmoidSchedule(10);
    expect(s.id).toBe('sigmoid');
    expect(s.config.beta_schedule).toBe('sigmoid');
  });
});
