import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { ConfigError, createRootContainer, DIFFLAB_KERNELS, provide, registryOf, TOKENS, WiringError } from '@difflab/core';
import { MLPDenoiser, mlpPlugin, register } from './index.js';
import { dotLoss, erf64, FakeLinearInput, FakeSinusoidalTime } from './testing/fakes.js';
import { expectSameWithoutKernels, hasKernels } from './testing/kernels.js';

type Params = Record<string, { data: number[]; shape: number[] }>;

function paramsOf(model: MLPDenoiser): Params {
  const out: Params = {};
  for (const [n, v] of Object.entries(model.namedWeights())) out[n] = { data: Array.from(v.dataSync()), shape: [...v.shape] };
  return out;
}

const ACT: Record<string, (z: number) => number> = {
  gelu: (z) => 0.5 * z * (1 + erf64(z / Math.SQRT2)),
  gelu_tanh: (z) => 0.5 * z * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (z + 0.044715 * z ** 3))),
  relu: (z) => Math.max(0, z),
  silu: (z) => z / (1 + Math.exp(-z)),
};

/**
 * Plain-JS float64 forward of tiny-diffusion's MLP from a parameter map: features
 * [input embedding (or raw x), sinusoidal t], Linear+act, residual blocks, Linear.
 */
function referenceForward(p: Params, x: number[][], t: number[], time: FakeSinusoidalTime, act: string, blocks: number): number[][] {
  const f = ACT[act];
  const linear = (h: number[], name: string, useAct: boolean) => {
    const W = p[`${name}.weight`];
    const b = p[`${name}.bias`];
    const [nin, nout] = W.shape;
    const out: number[] = [];
    for (let j = 0; j < nout; j++) {
      let s = b.data[j];
      for (let i = 0; i < nin; i++) s += h[i] * W.data[i * nout + j];
      out.push(useAct ? f(s) : s);
    }
    return out;
  };
  const freqs = time.freqs();
  return x.map((xi, r) => {
    let xe = xi;
    const E = p['inputEmbedding.0'];
    if (E) {
      const [nin, nout] = E.shape;
      xe = Array.from({ length: nout }, (_, j) => xi.reduce((s, v, i) => s + v * E.data[i * nout + j], 0));
      expect(nin).toBe(xi.length);
    }
    const te = [...freqs.map((q) => Math.sin(t[r] * q)), ...freqs.map((q) => Math.cos(t[r] * q))];
    let h = linear([...xe, ...te], 'in', true);
    for (let k = 0; k < blocks; k++) {
      const g = linear(h, `blocks.${k}`, true);
      h = h.map((v, i) => v + g[i]);
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
    const ref = referenceForward(paramsOf(model), xs, ts, time, 'gelu', 3);
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

  for (const [act, withInput] of [
    ['gelu', true],
    ['gelu', false],
    ['gelu_tanh', false],
    ['relu', true],
    ['silu', false],
  ] as const) {
    it(`${act}${withInput ? ' + learnable input embedding' : ''}: gradients of every weight match float64 finite differences`, () => {
      const time = new FakeSinusoidalTime(4);
      const input = withInput ? new FakeLinearInput(2, 3) : undefined;
      const blocks = 2;
      const model = new MLPDenoiser({ hidden: 5, blocks, activation: act, seed: 4 }, { timestepEmbedding: time, inputEmbedding: input });
      if (input) {
        expect(Object.keys(model.namedWeights())).toContain('inputEmbedding.0');
        expect(model.trainableVariables).toContain(input.w);
      }
      const xs = [
        [0.4, -0.8],
        [-1.1, 0.6],
        [0.2, 1.7],
      ];
      const ts = [1, 5, 30];
      const cs = [
        [0.7, -1.3],
        [0.2, 0.9],
        [-0.5, 0.4],
      ];
      const before = tf.memory().numTensors;
      const named = model.namedWeights();
      const got: Record<string, number[]> = {};
      tf.tidy(() => {
        const { grads } = tf.variableGrads(() => dotLoss(model.predict(tf.tensor2d(xs), tf.tensor1d(ts)), tf.tensor2d(cs)), model.trainableVariables);
        for (const [n, v] of Object.entries(named)) got[n] = Array.from(grads[v.name].dataSync());
      });
      expect(tf.memory().numTensors).toBe(before);
      const p = paramsOf(model);
      const L = (q: Params) => referenceForward(q, xs, ts, time, act, blocks).reduce((s, row, r) => s + row[0] * cs[r][0] + row[1] * cs[r][1], 0);
      const h = 1e-6;
      for (const [n, { data }] of Object.entries(p)) {
        for (let i = 0; i < data.length; i++) {
          const v = data[i];
          data[i] = v + h;
          const up = L(p);
          data[i] = v - h;
          const down = L(p);
          data[i] = v;
          const fd = (up - down) / (2 * h);
          expect(Math.abs(got[n][i] - fd), `${n}[${i}]: ${got[n][i]} vs ${fd}`).toBeLessThan(2e-4 * (1 + Math.abs(fd)));
        }
      }
      model.dispose();
      input?.dispose();
    });
  }

  // Where the backend has DifflabResidualMlp / DifflabResidualMlpGrad (@difflab/runtime's native
  // addon on wasm), the model runs on them; the op-by-op path must give the same numbers.
  const fusedNames = [DIFFLAB_KERNELS.residualMlp, DIFFLAB_KERNELS.residualMlpGrad];
  it.skipIf(!hasKernels(fusedNames))('the fused residual-MLP kernels and the op-by-op path agree on outputs and every gradient', () => {
    for (const act of ['gelu', 'silu', 'relu'] as const) {
      const time = new FakeSinusoidalTime(4);
      const input = new FakeLinearInput(2, 3);
      const model = new MLPDenoiser({ hidden: 16, blocks: 3, activation: act, seed: 9 }, { timestepEmbedding: time, inputEmbedding: input });
      expectSameWithoutKernels(
        fusedNames,
        () => {
          const x = tf.tensor2d([0.4, -0.8, -1.1, 0.6, 0.2, 1.7, 2.5, -0.1], [4, 2]);
          const t = tf.tensor1d([1, 5, 30, 7]);
          const { value, grads } = tf.variableGrads(() => dotLoss(model.predict(x, t), tf.tensor2d([0.7, -1.3, 0.2, 0.9, -0.5, 0.4, 1, 1], [4, 2])), model.trainableVariables);
          return [model.predict(x, t), value, ...model.trainableVariables.map((v) => grads[v.name])];
        },
        1e-5,
        act,
      );
      model.dispose();
      input.dispose();
    }
  });

  it('predictAt(x, t) equals predict(x, fill(t)) with and without input embedding and condition, without leaks', () => {
    const time = new FakeSinusoidalTime(8);
    const cases = [
      new MLPDenoiser({ hidden: 16, blocks: 2 }, { timestepEmbedding: time }),
      new MLPDenoiser({ hidden: 16, blocks: 1, condDim: 3 }, { timestepEmbedding: time, inputEmbedding: new FakeLinearInput(2, 6) }),
    ];
    for (const model of cases) {
      const x = tf.randomNormal([7, 2], 0, 1, 'float32', 5);
      const cond = model.config.condDim ? tf.randomNormal([7, 3], 0, 1, 'float32', 6) : undefined;
      for (const t of [0, 17, 31.5]) {
        const before = tf.memory().numTensors;
        const shared = model.predictAt(x, t, cond);
        expect(tf.memory().numTensors).toBe(before + 1);
        const full = tf.tidy(() => model.predict(x, tf.fill([7], t), cond));
        expect(shared.shape).toEqual([7, 2]);
        const a = shared.dataSync();
        const b = full.dataSync();
        for (let i = 0; i < a.length; i++) expect(a[i]).toBeCloseTo(b[i], 5);
        tf.dispose([shared, full]);
      }
      expect(() => tf.tidy(() => model.predictAt(tf.ones([2, 3]), 1))).toThrow(/shape \[B, 2\]/);
      expect(() => model.predictAt(x, Number.NaN)).toThrow(/timestep NaN/);
      tf.dispose([x, ...(cond ? [cond] : [])]);
      model.dispose();
    }
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
    expect(reg.ids('model')).toEqual(['mlp', 'patch-transformer', 'unet']);
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
