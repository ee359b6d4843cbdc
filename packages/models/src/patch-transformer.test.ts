import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { ConfigError, createRootContainer, DIFFLAB_KERNELS, registryOf } from '@difflab/core';
import { loadWeights, PatchTransformerDenoiser, register, saveWeights, sincosPositionalEmbedding2d } from './index.js';
import { fixedBatch, overfit, sgdStep } from './testing/image-train.js';
import { expectSameWithoutKernels, hasKernels } from './testing/kernels.js';

const tiny = { width: 16, depth: 2, heads: 2, patch: 2, imageSize: 8, mlpRatio: 2 };

/** Parameter count of the PyTorch twin, by hand from docs/image-models.md. */
function twinCount({ patch: p, width: w, depth, mlpRatio: r, imageChannels: c, condDim }: { patch: number; width: number; depth: number; mlpRatio: number; imageChannels: number; condDim: number }): number {
  const lin = (i: number, o: number) => i * o + o;
  const ln = (d: number) => 2 * d;
  const temb = lin(128, 4 * w) + lin(4 * w, 4 * w) + (condDim > 0 ? lin(condDim, 4 * w) : 0);
  const block = ln(w) + lin(w, 3 * w) + lin(w, w) + ln(w) + lin(w, r * w) + lin(r * w, w);
  return temb + lin(p * p * c, w) + lin(4 * w, w) + depth * block + ln(w) + lin(w, p * p * c);
}

describe('PatchTransformerDenoiser', () => {
  it('maps [B, H, W, C] to [B, H, W, C] without leaking tensors', () => {
    const m = new PatchTransformerDenoiser({ ...tiny, imageChannels: 3, predictionType: 'v_prediction' });
    expect(m.sampleShape).toEqual([8, 8, 3]);
    expect(m.predictionType).toBe('v_prediction');
    expect(m.tokens).toBe(16);
    const x = tf.randomNormal([3, 8, 8, 3], 0, 1, 'float32', 1);
    const t = tf.tensor1d([0, 500, 999], 'int32');
    const before = tf.memory().numTensors;
    const y = m.predict(x, t);
    expect(y.shape).toEqual([3, 8, 8, 3]);
    expect(tf.memory().numTensors).toBe(before + 1);
    tf.dispose([x, t, y]);
    m.dispose();
    expect(() => m.predict(x, t)).toThrow(/after dispose/);
  });

  it('has the parameter count of the PyTorch twin (1,191,952 at the defaults) and torch-like weight names', () => {
    const m = new PatchTransformerDenoiser();
    expect(m.parameterCount).toBe(twinCount({ patch: 4, width: 128, depth: 4, mlpRatio: 4, imageChannels: 1, condDim: 0 }));
    expect(m.parameterCount).toBe(1_191_952);
    const named = m.namedWeights();
    expect(named['blocks.0.attn.qkv.weight']?.shape).toEqual([128, 384]);
    expect(named['blocks.3.mlp.fc2.weight']?.shape).toEqual([512, 128]);
    expect(named['patch_embed.weight']?.shape).toEqual([16, 128]);
    expect(named['time_embedding.linear_1.weight']?.shape).toEqual([128, 512]);
    expect(Object.keys(named).slice(0, 8)).toEqual([
      'time_embedding.linear_1.weight',
      'time_embedding.linear_1.bias',
      'time_embedding.linear_2.weight',
      'time_embedding.linear_2.bias',
      'patch_embed.weight',
      'patch_embed.bias',
      'time_proj.weight',
      'time_proj.bias',
    ]);
    expect(Object.keys(named).slice(-4)).toEqual(['norm_out.weight', 'norm_out.bias', 'proj_out.weight', 'proj_out.bias']);
    expect(m.trainableVariables).toHaveLength(Object.keys(named).length);
    m.dispose();
    const c = new PatchTransformerDenoiser({ ...tiny, condDim: 5 });
    expect(c.parameterCount).toBe(twinCount({ ...tiny, imageChannels: 1, condDim: 5 }));
    c.dispose();
  });

  it('patchifies into row-major tokens with (py, px, c) features and unpatchifies back', () => {
    const m = new PatchTransformerDenoiser({ width: 8, depth: 0, heads: 1, patch: 2, imageSize: 4, imageChannels: 2 });
    tf.tidy(() => {
      const x = tf.reshape(tf.range(0, 32), [1, 4, 4, 2]) as tf.Tensor4D;
      const tok = m.patchify(x);
      expect(tok.shape).toEqual([4, 8]);
      // token 1 = patch (row 0, col 1): x[0, py, 2 + px, c] at feature (py*2 + px)*2 + c; x[.., h, w, c] = (h*4 + w)*2 + c
      const expected = [];
      for (let py = 0; py < 2; py++) for (let px = 0; px < 2; px++) for (let c = 0; c < 2; c++) expected.push((py * 4 + 2 + px) * 2 + c);
      expect(Array.from(tok.arraySync()[1] as number[])).toEqual(expected);
      expect(Array.from(m.unpatchify(tok, 1).dataSync())).toEqual(Array.from(x.dataSync()));
    });
    m.dispose();
  });

  it("adds MAE's 2-D sin-cos positions: [emb(col), emb(row)], each [sin(pos w), cos(pos w)]", () => {
    const pe = sincosPositionalEmbedding2d(4, 2, 2);
    // dim 4 -> 1-D embeddings of 2 features with omega = 1
    const s1 = Math.sin(1);
    const c1 = Math.cos(1);
    const rows = [
      [0, 1, 0, 1],
      [s1, c1, 0, 1],
      [0, 1, s1, c1],
      [s1, c1, s1, c1],
    ];
    for (let n = 0; n < 4; n++) for (let j = 0; j < 4; j++) expect(pe[n * 4 + j]).toBeCloseTo(rows[n]?.[j] as number, 6);
    // a second frequency: omega_1 = 10000^(-1/2) for dim 8
    const pe8 = sincosPositionalEmbedding2d(8, 1, 3);
    expect(pe8[2 * 8 + 1]).toBeCloseTo(Math.sin(2 * 0.01), 6);
    expect(pe8[2 * 8 + 3]).toBeCloseTo(Math.cos(2 * 0.01), 6);
  });

  it('attention rows sum to 1 in every block', () => {
    const m = new PatchTransformerDenoiser(tiny);
    tf.tidy(() => {
      const x = tf.randomNormal([2, 8, 8, 1], 0, 1, 'float32', 3) as tf.Tensor4D;
      for (const i of [0, 1]) {
        const w = m.attentionWeights(x, tf.tensor1d([3, 700]), i);
        expect(w.shape).toEqual([4, 16, 16]);
        const sums = tf.sum(w, -1).dataSync();
        for (const s of sums) expect(s).toBeCloseTo(1, 5);
      }
      expect(() => m.attentionWeights(x, tf.tensor1d([3, 700]), 2)).toThrow(/out of range/);
    });
    m.dispose();
  });

  // Where the backend has DifflabAttention / DifflabAttentionGrad (@difflab/runtime's native addon
  // on wasm), self-attention runs on them; the op-by-op path must give the same numbers.
  const fusedNames = [DIFFLAB_KERNELS.attention, DIFFLAB_KERNELS.attentionGrad];
  it.skipIf(!hasKernels(fusedNames))('the fused attention kernels and the op-by-op path agree on outputs, attention weights and every gradient', () => {
    const m = new PatchTransformerDenoiser({ ...tiny, imageChannels: 1, seed: 3 });
    expectSameWithoutKernels(
      fusedNames,
      () => {
        const x = tf.randomNormal([3, 8, 8, 1], 0, 1, 'float32', 7) as tf.Tensor4D;
        const t = tf.tensor1d([3, 400, 900], 'int32');
        const target = tf.randomNormal([3, 8, 8, 1], 0, 1, 'float32', 8);
        const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(m.predict(x, t), target)) as tf.Scalar, m.trainableVariables);
        return [m.predict(x, t), value, m.attentionWeights(x, t, 1), ...m.trainableVariables.map((v) => grads[v.name])];
      },
      2e-5,
    );
    m.dispose();
  });

  it('initialises deterministically from the seed', () => {
    const a = new PatchTransformerDenoiser({ ...tiny, seed: 4 });
    const b = new PatchTransformerDenoiser({ ...tiny, seed: 4 });
    const c = new PatchTransformerDenoiser({ ...tiny, seed: 5 });
    for (const [n, v] of Object.entries(a.namedWeights())) expect(Array.from(b.namedWeights()[n]?.dataSync() ?? [])).toEqual(Array.from(v.dataSync()));
    expect(c.namedWeights()['blocks.0.attn.qkv.weight']?.dataSync()[0]).not.toBe(a.namedWeights()['blocks.0.attn.qkv.weight']?.dataSync()[0]);
    // LayerNorm starts at weight 1, bias 0
    expect(Array.from(a.namedWeights()['blocks.1.norm2.weight']?.dataSync() ?? [])).toEqual(new Array(16).fill(1));
    for (const m of [a, b, c]) m.dispose();
  });

  it('overfits 4 fixed images in 30 Adam steps and leaks no tensors per training step', () => {
    const m = new PatchTransformerDenoiser({ ...tiny, seed: 1 });
    const batch = fixedBatch(m, 4);
    const losses = overfit(m, batch, 30);
    expect(losses[29]).toBeLessThan(0.5 * (losses[0] as number));
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) sgdStep(m, batch);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(Object.values(batch));
    m.dispose();
  });

  it('adds Linear(condDim, 4w)(cond) to temb when condDim > 0 (absent = zeros) and rejects a condition when condDim is 0', () => {
    const m = new PatchTransformerDenoiser({ ...tiny, condDim: 3 });
    expect(m.namedWeights()['cond_embedding.weight']?.shape).toEqual([3, 64]);
    tf.tidy(() => {
      const x = tf.randomNormal([2, 8, 8, 1], 0, 1, 'float32', 2);
      const t = tf.tensor1d([5, 5]);
      const a = m.predict(x, t, tf.tensor2d([1, 0, 0, 0, 1, 0], [2, 3]));
      const none = m.predict(x, t);
      const zero = m.predict(x, t, tf.zeros([2, 3]));
      expect(Array.from(none.dataSync())).toEqual(Array.from(zero.dataSync()));
      expect(tf.max(tf.abs(tf.sub(a, none))).dataSync()[0]).toBeGreaterThan(1e-4);
      expect(() => m.predict(x, t, tf.zeros([2, 4]))).toThrow(/condition of shape \[B, 3\]/);
    });
    m.dispose();
    const plain = new PatchTransformerDenoiser(tiny);
    tf.tidy(() => {
      expect(() => plain.predict(tf.zeros([1, 8, 8, 1]), tf.zeros([1]), tf.zeros([1, 3]))).toThrow(ConfigError);
      expect(() => plain.predict(tf.zeros([1, 8, 8, 2]), tf.zeros([1]))).toThrow('patch-transformer model expects x_t of shape [B, 8, 8, 1], got [1,8,8,2]');
    });
    plain.dispose();
  });

  it("adaLN-Zero ('adaln'): starts as the identity per block, so at init it equals a depth-0 model with the same outer weights", () => {
    const ada = new PatchTransformerDenoiser({ ...tiny, condDim: 3, conditioning: 'adaln', seed: 4 });
    const flat = new PatchTransformerDenoiser({ ...tiny, depth: 0, condDim: 3, seed: 9 });
    const named = ada.namedWeights();
    expect(named['blocks.1.adaLN_modulation.weight']?.shape).toEqual([64, 96]);
    expect(named['adaLN_out.weight']?.shape).toEqual([64, 32]);
    for (const [k, v] of Object.entries(flat.namedWeights())) v.assign(named[k]!);
    const x = tf.randomNormal([2, 8, 8, 1], 0, 1, 'float32', 2);
    const t = tf.tensor1d([10, 700]);
    const cond = tf.tensor2d([[1, 0, 0], [0, 2, -1]]);
    const a = ada.predict(x, t, cond);
    const b = flat.predict(x, t, cond);
    expect(tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]).toBeLessThan(1e-6);
    // The first gradients reach the zero-initialised modulation (gates), not yet the blocks behind them.
    const { grads } = tf.variableGrads(() => tf.mean(tf.square(ada.predict(x, t, cond))) as tf.Scalar, ada.trainableVariables);
    const norm = (name: string) => tf.norm(grads[named[name]!.name]!).dataSync()[0];
    expect(norm('blocks.0.adaLN_modulation.weight')).toBeGreaterThan(1e-4);
    expect(norm('adaLN_out.weight')).toBeGreaterThan(1e-4);
    expect(norm('blocks.0.attn.qkv.weight')).toBe(0);
    expect(norm('blocks.1.mlp.fc1.weight')).toBe(0);
    tf.dispose([x, t, cond, a, b, ...Object.values(grads)]);
    ada.dispose();
    flat.dispose();
  });

  it("adaLN: once trained a little, the condition changes the output in every block's path", () => {
    const m = new PatchTransformerDenoiser({ ...tiny, condDim: 2, conditioning: 'adaln' });
    // Give the modulation non-zero weights, as training does.
    for (const [k, v] of Object.entries(m.namedWeights())) if (k.includes('adaLN')) v.assign(tf.randomNormal(v.shape, 0, 0.2, 'float32', 3));
    const x = tf.randomNormal([1, 8, 8, 1], 0, 1, 'float32', 5);
    const t = tf.tensor1d([300]);
    const y0 = m.predict(x, t, tf.tensor2d([[1, 0]]));
    const y1 = m.predict(x, t, tf.tensor2d([[0, 1]]));
    expect(tf.mean(tf.abs(tf.sub(y0, y1))).dataSync()[0]).toBeGreaterThan(1e-2);
    expect(() => new PatchTransformerDenoiser({ conditioning: 'film' as 'add' })).toThrow(/model\.options\.conditioning/);
    m.dispose();
  });

  it('round-trips its weights through saveWeights / loadWeights', () => {
    const a = new PatchTransformerDenoiser({ ...tiny, seed: 1 });
    const b = new PatchTransformerDenoiser({ ...tiny, seed: 2 });
    const { modelJson, weightsBin } = saveWeights(a);
    expect(modelJson.modelTopology).toMatchObject({ className: 'PatchTransformerDenoiser', sampleShape: [8, 8, 1], config: { width: 16, patch: 2 } });
    expect(weightsBin.byteLength).toBe(4 * a.parameterCount);
    loadWeights(b, JSON.parse(JSON.stringify(modelJson)), weightsBin);
    tf.tidy(() => {
      const x = tf.randomNormal([2, 8, 8, 1], 0, 1, 'float32', 7);
      const t = tf.tensor1d([10, 900]);
      expect(Array.from(b.predict(x, t).dataSync())).toEqual(Array.from(a.predict(x, t).dataSync()));
    });
    a.dispose();
    b.dispose();
  });
});

describe('patch-transformer plugin', () => {
  it('is registered with the documented defaults and rejects bad options with one-line errors', () => {
    const root = createRootContainer();
    register(root);
    const reg = registryOf(root);
    expect(reg.ids('model')).toContain('patch-transformer');
    expect(reg.list('model').find((p) => p.id === 'patch-transformer')?.defaults).toEqual({
      patch: 4,
      width: 128,
      depth: 4,
      heads: 4,
      mlpRatio: 4,
      imageSize: 28,
      imageChannels: 1,
      predictionType: 'epsilon',
      seed: 0,
      condDim: 0,
      conditioning: 'add',
    });
    const m = reg.create<PatchTransformerDenoiser>('model', { id: 'patch-transformer', options: { ...tiny, predictionType: 'sample' } }, root.createChildContainer());
    expect(m).toBeInstanceOf(PatchTransformerDenoiser);
    expect(m.predictionType).toBe('sample');
    m.dispose();
    expect(() => reg.parseOptions('model', 'patch-transformer', { heads: 0 }, 'model')).toThrow(/^model\.options\.heads: /);
    expect(() => new PatchTransformerDenoiser({ imageSize: 30 })).toThrow('model.options.patch: imageSize 30 is not a multiple of patch 4');
    expect(() => new PatchTransformerDenoiser({ heads: 3, width: 128 })).toThrow('model.options.heads: width 128 is not divisible into 3 heads');
  });
});
