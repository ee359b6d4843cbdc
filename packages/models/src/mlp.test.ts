import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { ConfigError, createRootContainer, provide, registryOf, TOKENS, WiringError } from '@difflab/core';
import { MLPDenoiser, mlpPlugin, register } from './index.js';
import { erf64, FakeLinearInput, FakeSinusoidalTime } from './testing/fakes.js';

/** Plain-JS float64 forward of the tiny-diffusion MLP with exact GELU, from the model's weights. */
function referenceForward(model: MLPDenoiser, x: number[][], t: number[], time: FakeSinusoidalTime): number[][] {
  const w = model.namedWeights();
  const get = (n: string) => ({ data: Array.from(w[n].dataSync()), shape: w[n].shape });
  const gelu = (z: number) => 0.5 * z * (1 + erf64(z / Math.SQRT2));
  const linear = (h: number[], name: string, act: boolean) => {
    const W = get(`${name}.weight`);
    const b = get(`${name}.bias`);
    const [nin, nout] = W.shape;
    const out: number[] = [];
    for (let j = 0; j < nout; j++) {
      let s = b.data[j];
      for (let i = 0; i < nin; i++) s += h[i] * W.data[i * nout + j];
      out.push(act ? gelu(s) : s);
    }
    return out;
  };
  const freqs = time.freqs();
  return x.map((xi, r) => {
    const te = [...freqs.map((f) => Math.sin(t[r] * f)), ...freqs.map((f) => Math.cos(t[r] * f))];
    let h = linear([...xi, ...te], 'in', true);
    for (let k = 0; k < model.config.blocks; k++) {
      const f = linear(h, `blocks.${k}`, true);
      h = h.map((v, i) => v + f[i]);
    }
    return linear(h, 'out', false);
  });
}

describe('MLPDenoiser', () => {
  it('predicts [B, 2], carries predictionType and sampleShape, and leaks no tensors', () => {
    const time = new FakeSinusoidalTime(16);
    const model = new MLPDenoiser({ predictionType: 'v_prediction', hidden: 32, blocks: 2 }, { timestepEmbedding: time });
    expect(model.predictionType).toBe('v_prediction');
    expect(model.sampleShape).toEqual([2]);
    expect(model.config).toMatchObject({ hidden: 32, blocks: 2, activation: 'gelu', dim: 2, condDim: 0, seed: 0 });
    const x = tf.randomNormal([5, 2], 0, 1, 'float32', 3);
    const t = tf.tensor1d([0, 1, 2, 3, 49], 'int32');
    const before = tf.memory().numTensors;
    const y = model.predict(x, t);
    expect(y.shape).toEqual([5, 2]);
    expect(tf.memory().numTensors).toBe(before + 1);
    y.dispose();
    tf.dispose([x, t]);
    model.dispose();
    expect(new MLPDenoiser({}, { timestepEmbedding: time }).predictionType).toBe('epsilon');
  });

  it('matches a float64 reference of tiny-diffusion MLP (exact erf GELU, residual blocks)', () => {
    const time = new FakeSinusoidalTime(8);
    const model = new MLPDenoiser({ hidden: 16, blocks: 3, seed: 7 }, { timestepEmbedding: time });
    const xs = [
      [0.3, -1.2],
      [2.5, 0.1],
      [-0.7, 0.9],
    ];
    const ts = [0, 17, 49];
    const y = tf.tidy(() => model.predict(tf.tensor2d(xs), tf.tensor1d(ts)).arraySync() as number[][]);
    const ref = referenceForward(model, xs, ts, time);
    for (let i = 0; i < xs.length; i++) for (let j = 0; j < 2; j++) expect(y[i][j]).toBeCloseTo(ref[i][j], 5);
    model.dispose();
  });

  it('initialises as torch nn.Linear: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), reproducible by seed', () => {
    const time = new FakeSinusoidalTime(16);
    const a = new MLPDenoiser({ seed: 1 }, { timestepEmbedding: time });
    const b = new MLPDenoiser({ seed: 1 }, { timestepEmbedding: time });
    const c = new MLPDenoiser({ seed: 2 }, { timestepEmbedding: time });
    const wa = a.namedWeights();
    // fan_in of the first layer: 2 raw coordinates + 16 time features
    expect(wa['in.weight'].shape).toEqual([18, 128]);
    const blk = wa['blocks.0.weight'].dataSync();
    const bound = 1 / Math.sqrt(128);
    let maxAbs = 0;
    let sq = 0;
    for (const v of blk) {
      maxAbs = Math.max(maxAbs, Math.abs(v));
      sq += v * v;
    }
    expect(maxAbs).toBeLessThanOrEqual(bound);
    // std of U(-b, b) is b / sqrt(3); 16384 draws give ~0.6% relative error
    expect(Math.sqrt(sq / blk.length)).toBeCloseTo(bound / Math.sqrt(3), 3);
    const bias = wa['in.bias'].dataSync();
    expect(Math.max(...Array.from(bias, Math.abs))).toBeLessThanOrEqual(1 / Math.sqrt(18));
    expect(Array.from(b.namedWeights()['blocks.0.weight'].dataSync())).toEqual(Array.from(blk));
    expect(c.namedWeights()['blocks.0.weight'].dataSync()[0]).not.toBe(blk[0]);
    for (const m of [a, b, c]) m.dispose();
  });

  it('names weights stably with [in, out] shapes and counts parameters', () => {
    const model = new MLPDenoiser({ hidden: 8, blocks: 2 }, { timestepEmbedding: new FakeSinusoidalTime(4) });
    const named = model.namedWeights();
    expect(Object.keys(named)).toEqual(['in.weight', 'in.bias', 'blocks.0.weight', 'blocks.0.bias', 'blocks.1.weight', 'blocks.1.bias', 'out.weight', 'out.bias']);
    expect(named['in.weight'].shape).toEqual([6, 8]);
    expect(named['out.weight'].shape).toEqual([8, 2]);
    expect(model.parameterCount).toBe(6 * 8 + 8 + 2 * (64 + 8) + 16 + 2);
    expect(model.trainableVariables).toHaveLength(8);
    model.dispose();
  });

  it('passes gradients to every layer and to trainable embedding variables', () => {
    const input = new FakeLinearInput(2, 6);
    const model = new MLPDenoiser({ hidden: 8, blocks: 1 }, { timestepEmbedding: new FakeSinusoidalTime(4), inputEmbedding: input });
    expect(Object.keys(model.namedWeights())).toContain('inputEmbedding.0');
    expect(model.trainableVariables).toContain(input.w);
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const x = tf.randomNormal([4, 2], 0, 1, 'float32', 1);
      const { grads } = tf.variableGrads(() => tf.sum(tf.square(model.predict(x, tf.tensor1d([1, 2, 3, 4])))) as tf.Scalar, model.trainableVariables);
      for (const v of model.trainableVariables) {
        const g = grads[v.name];
        expect(g.shape).toEqual(v.shape);
        expect(tf.max(tf.abs(g)).dataSync()[0]).toBeGreaterThan(0);
      }
    });
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
    input.dispose();
  });

  it('concatenates a condition when condDim > 0 and rejects one when condDim is 0', () => {
    const time = new FakeSinusoidalTime(4);
    const cm = new MLPDenoiser({ hidden: 8, blocks: 1, condDim: 3 }, { timestepEmbedding: time });
    expect(cm.featureDim).toBe(2 + 4 + 3);
    tf.tidy(() => {
      const x = tf.ones([2, 2]);
      const t = tf.tensor1d([1, 1]);
      const a = cm.predict(x, t, tf.tensor2d([1, 0, 0, 0, 1, 0], [2, 3]));
      const nul = cm.predict(x, t);
      const zero = cm.predict(x, t, tf.zeros([2, 3]));
      expect(a.shape).toEqual([2, 2]);
      expect(Array.from(nul.dataSync())).toEqual(Array.from(zero.dataSync()));
      expect(tf.max(tf.abs(tf.sub(a, nul))).dataSync()[0]).toBeGreaterThan(0);
    });
    const plain = new MLPDenoiser({ hidden: 8, blocks: 1 }, { timestepEmbedding: time });
    tf.tidy(() => {
      expect(() => plain.predict(tf.ones([2, 2]), tf.ones([2]), tf.ones([2, 3]))).toThrow(/model\.options\.condDim: .*condDim is 0/);
      expect(() => plain.predict(tf.ones([2, 3]), tf.ones([2]))).toThrow(/shape \[B, 2\]/);
    });
    cm.dispose();
    plain.dispose();
  });
});

describe('mlp plugin', () => {
  it('is created from a container with the timestep embedding and optional input embedding', () => {
    const root = createRootContainer();
    register(root);
    const reg = registryOf(root);
    expect(reg.ids('model')).toEqual(['mlp']);
    expect(reg.list('model')[0].defaults).toEqual({ hidden: 128, blocks: 3, predictionType: 'epsilon', activation: 'gelu', seed: 0, dim: 2, condDim: 0 });
    const job = root.createChildContainer();
    expect(() => reg.create('model', 'mlp', job)).toThrow(WiringError);
    expect(() => reg.create('model', 'mlp', job)).toThrow(/timestep embedding/);
    provide(job, TOKENS.TimestepEmbedding, new FakeSinusoidalTime(8));
    const m = reg.create<MLPDenoiser>('model', { id: 'mlp', options: { hidden: 16, predictionType: 'sample' } }, job);
    expect(m).toBeInstanceOf(MLPDenoiser);
    expect(m.predictionType).toBe('sample');
    expect(m.featureDim).toBe(2 + 8);
    m.dispose();
    const input = new FakeLinearInput(2, 10);
    provide(job, TOKENS.InputEmbedding, input);
    const m2 = mlpPlugin.create(mlpPlugin.options.parse({ hidden: 4 }), job);
    expect(m2.featureDim).toBe(10 + 8);
    m2.dispose();
    input.dispose();
  });

  it('reports bad options and mismatched embeddings as one-line ConfigErrors', () => {
    const root = createRootContainer();
    register(root);
    const reg = registryOf(root);
    expect(() => reg.parseOptions('model', 'mlp', { hidden: 0 }, 'model')).toThrow(/^model\.options\.hidden: /);
    expect(() => reg.parseOptions('model', 'mlp', { activation: 'tanh' }, 'model')).toThrow(ConfigError);
    expect(() => reg.parseOptions('model', 'mlp', { width: 3 }, 'model')).toThrow("model.options: unknown option(s) 'width'");
    const input = new FakeLinearInput(3, 4);
    expect(() => new MLPDenoiser({}, { timestepEmbedding: new FakeSinusoidalTime(4), inputEmbedding: input })).toThrow(
      "model.options.dim: input embedding 'fake-linear' takes 3-d points but the mlp model has dim 2",
    );
    input.dispose();
  });
});
