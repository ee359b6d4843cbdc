import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { EMA } from './index.js';

function param(values: number[]): tf.Variable {
  const t = tf.tensor1d(values);
  const v = tf.variable(t);
  t.dispose();
  return v;
}

describe('EMA (diffusers EMAModel decay rule)', () => {
  it('decayAt: 0 at the first update, ramp (1+s)/(10+s) capped at decay, power warm-up, none', () => {
    const p = param([0]);
    const ramp = new EMA([p]);
    expect(ramp.options.decay).toBe(0.995);
    expect(ramp.decayAt(1)).toBe(0);
    expect(ramp.decayAt(2)).toBeCloseTo(2 / 11, 12);
    expect(ramp.decayAt(1000)).toBeCloseTo(1000 / 1009, 12);
    expect(ramp.decayAt(5000)).toBe(0.995);
    const power = new EMA([p], { warmup: 'power', decay: 0.9999 });
    expect(power.decayAt(11)).toBeCloseTo(1 - 11 ** (-2 / 3), 12);
    const none = new EMA([p], { warmup: 'none', decay: 0.9, updateAfterStep: 3 });
    expect([1, 2, 3, 4, 5].map((n) => none.decayAt(n))).toEqual([0, 0, 0, 0, 0.9]);
    const floor = new EMA([p], { minDecay: 0.5 });
    expect(floor.decayAt(2)).toBe(0.5);
    for (const e of [ramp, power, none, floor]) e.dispose();
    p.dispose();
  });

  it('updates shadow <- shadow - (1 - d)(shadow - p), copies to the model and swaps in/out', () => {
    const p = param([1, 10]);
    const ema = new EMA([p]);
    const set = (v: number[]) => tf.tidy(() => p.assign(tf.tensor1d(v)));
    set([2, 20]);
    ema.update(); // d = 0: copy
    set([4, 40]);
    ema.update(); // d = 2/11
    const want = [2 - (9 / 11) * (2 - 4), 20 - (9 / 11) * (20 - 40)];
    const st = ema.getState();
    expect(st.step).toBe(2);
    expect(st.shadow[0]).toBeCloseTo(want[0], 5);
    expect(st.shadow[1]).toBeCloseTo(want[1], 4);
    const before = tf.memory().numTensors;
    ema.swapIn();
    expect(p.dataSync()[0]).toBeCloseTo(want[0], 5);
    expect(() => ema.update()).toThrow(/swapOut/);
    ema.swapOut();
    expect(Array.from(p.dataSync())).toEqual([4, 40]);
    const r = ema.withAveragedWeights(() => p.dataSync()[1]);
    expect(r).toBeCloseTo(want[1], 4);
    expect(Array.from(p.dataSync())).toEqual([4, 40]);
    expect(tf.memory().numTensors).toBe(before);
    const q = param([0, 0]);
    ema.copyTo([q]);
    expect(q.dataSync()[1]).toBeCloseTo(want[1], 4);
    const ema2 = new EMA([q]);
    ema2.setState(JSON.parse(JSON.stringify(st)));
    expect(ema2.stepCount).toBe(2);
    expect(ema2.getState().shadow).toEqual(st.shadow);
    ema.dispose();
    ema2.dispose();
    tf.dispose([p, q]);
  });
});
