import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { createRootContainer, DIFFLAB_KERNELS, registryOf } from '@difflab/core';
import { loadWeights, register, saveWeights, UNetDenoiser } from './index.js';
import { fixedBatch, maxRelErr, namedGrads, overfit, sgdStep } from './testing/image-train.js';
import { expectSameWithoutKernels, hasKernels } from './testing/kernels.js';

const tiny = { channels: [8, 16], groups: 4, imageSize: 8 };

/** Parameter count of the PyTorch twin, by hand from docs/image-models.md. */
function twinCount(ch: number[], imgC: number, condDim = 0): number {
  const conv = (i: number, o: number, k: number) => k * k * i * o + o;
  const lin = (i: number, o: number) => i * o + o;
  const gn = (c: number) => 2 * c;
  const c0 = ch[0] as number;
  const t = 4 * c0;
  const res = (i: number, o: number) => gn(i) + conv(i, o, 3) + lin(t, o) + gn(o) + conv(o, o, 3) + (i === o ? 0 : conv(i, o, 1));
  let n = lin(128, t) + lin(t, t) + (condDim ? lin(condDim, t) : 0) + conv(imgC, c0, 3);
  let prev = c0;
  for (const c of ch) {
    n += res(prev, c) + conv(c, c, 3);
    prev = c;
  }
  n += res(prev, prev) + gn(prev) + lin(prev, 3 * prev) + lin(prev, prev) + res(prev, prev);
  for (let i = ch.length - 1; i >= 0; i--) {
    const c = ch[i] as number;
    n += conv(prev, prev, 3) + res(prev + c, c);
    prev = c;
  }
  return n + gn(c0) + conv(c0, imgC, 3);
}

describe('UNetDenoiser', () => {
  it('maps [B, 32, 32, C] to [B, 32, 32, C] without leaking tensors', () => {
    for (const imageChannels of [1, 3]) {
      const m = new UNetDenoiser({ imageChannels });
      expect(m.sampleShape).toEqual([32, 32, imageChannels]);
      const x = tf.randomNormal([2, 32, 32, imageChannels], 0, 1, 'float32', 1);
      const t = tf.tensor1d([1, 999], 'int32');
      const before = tf.memory().numTensors;
      const y = m.predict(x, t);
      expect(y.shape).toEqual([2, 32, 32, imageChannels]);
      expect(tf.memory().numTensors).toBe(before + 1);
      tf.dispose([x, t, y]);
      m.dispose();
    }
  });

  it('has the parameter count of the PyTorch twin (596,001 at the defaults) and torch-like weight names', () => {
    const m = new UNetDenoiser();
    expect(m.parameterCount).toBe(twinCount([32, 64], 1));
    expect(m.parameterCount).toBe(596_001);
    const named = m.namedWeights();
    expect(named['conv_in.weight']?.shape).toEqual([3, 3, 1, 32]);
    expect(named['down.0.res.conv1.weight']?.shape).toEqual([3, 3, 32, 32]);
    expect(named['down.0.res.skip.weight']).toBeUndefined();
    expect(named['down.1.res.skip.weight']?.shape).toEqual([1, 1, 32, 64]);
    expect(named['down.1.res.temb_proj.weight']?.shape).toEqual([128, 64]);
    expect(named['down.1.downsample.weight']?.shape).toEqual([3, 3, 64, 64]);
    expect(named['mid.attn.qkv.weight']?.shape).toEqual([64, 192]);
    expect(named['mid.attn.proj.weight']?.shape).toEqual([64, 64]);
    expect(named['up.1.upsample_conv.weight']?.shape).toEqual([3, 3, 64, 64]);
    expect(named['up.1.res.norm1.weight']?.shape).toEqual([128]);
    expect(named['up.0.res.conv1.weight']?.shape).toEqual([3, 3, 96, 32]);
    expect(named['up.0.res.skip.weight']?.shape).toEqual([1, 1, 96, 32]);
    expect(named['conv_out.weight']?.shape).toEqual([3, 3, 32, 1]);
    m.dispose();
    const rgb = new UNetDenoiser({ imageChannels: 3 });
    expect(rgb.parameterCount).toBe(twinCount([32, 64], 3));
    expect(rgb.parameterCount).toBe(597_155);
    rgb.dispose();
    const c = new UNetDenoiser({ ...tiny, imageChannels: 3, condDim: 4 });
    expect(c.parameterCount).toBe(twinCount([8, 16], 3, 4));
    c.dispose();
  });

  // Where the backend has the fused group norm + SiLU, attention and conv + addend kernels
  // (@difflab/runtime's native addon on wasm), the UNet runs on them; the op-by-op path must give
  // the same numbers.
  const fusedNames = [DIFFLAB_KERNELS.groupNormSilu, DIFFLAB_KERNELS.groupNormSiluGrad, DIFFLAB_KERNELS.attention, DIFFLAB_KERNELS.attentionGrad, DIFFLAB_KERNELS.conv2dAdd];
  it.skipIf(!hasKernels(fusedNames))('the fused group-norm + SiLU, attention and conv + addend kernels and the op-by-op path agree on outputs and every gradient', () => {
    const m = new UNetDenoiser({ ...tiny, imageChannels: 1, seed: 5 });
    expectSameWithoutKernels(
      fusedNames,
      () => {
        const x = tf.randomNormal([2, 8, 8, 1], 0, 1, 'float32', 3);
        const t = tf.tensor1d([10, 700], 'int32');
        const target = tf.randomNormal([2, 8, 8, 1], 0, 1, 'float32', 4);
        const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(m.predict(x, t), target)) as tf.Scalar, m.trainableVariables);
        return [m.predict(x, t), value, ...m.trainableVariables.map((v) => grads[v.name])];
      },
      5e-5,
    );
    m.dispose();
  });

  it('initialises deterministically from the seed', () => {
    const a = new UNetDenoiser({ ...tiny, seed: 3 });
    const b = new UNetDenoiser({ ...tiny, seed: 3 });
    const c = new UNetDenoiser({ ...tiny, seed: 4 });
    for (const [n, v] of Object.entries(a.namedWeights())) expect(Array.from(b.namedWeights()[n]?.dataSync() ?? [])).toEqual(Array.from(v.dataSync()));
    expect(c.namedWeights()['conv_in.weight']?.dataSync()[0]).not.toBe(a.namedWeights()['conv_in.weight']?.dataSync()[0]);
    for (const m of [a, b, c]) m.dispose();
  });

  it('gives the same gradients on the wasm and cpu backends (batch 2, 32x32)', async () => {
    const opts = { channels: [8, 16], groups: 4, imageSize: 32, seed: 2 };
    const m = new UNetDenoiser(opts);
    const batch = fixedBatch(m, 2);
    const onWasm = namedGrads(m, batch);
    const data = Object.fromEntries(Object.entries(batch).map(([k, v]) => [k, { v: v.dataSync().slice(), s: v.shape, d: v.dtype }]));
    tf.dispose(Object.values(batch));
    m.dispose();
    await tf.setBackend('cpu');
    let onCpu: Record<string, Float32Array>;
    try {
      const mc = new UNetDenoiser(opts);
      const bc = Object.fromEntries(Object.entries(data).map(([k, { v, s, d }]) => [k, tf.tensor(v, s, d)])) as ReturnType<typeof fixedBatch>;
      onCpu = namedGrads(mc, bc);
      tf.dispose(Object.values(bc));
      mc.dispose();
    } finally {
      await tf.setBackend('wasm');
    }
    expect(Object.keys(onWasm)).toEqual(Object.keys(onCpu));
    for (const [n, g] of Object.entries(onWasm)) {
      expect(maxRelErr(g, onCpu[n] as Float32Array), n).toBeLessThan(1e-3);
      expect(g.some((v) => v !== 0), `${n} has a zero gradient`).toBe(true);
    }
  });

  it('overfits 4 fixed images in 30 Adam steps and leaks no tensors per training step', () => {
    const m = new UNetDenoiser({ ...tiny, seed: 1 });
    const batch = fixedBatch(m, 4);
    const losses = overfit(m, batch, 30);
    expect(losses[29]).toBeLessThan(0.5 * (losses[0] as number));
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) sgdStep(m, batch);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(Object.values(batch));
    m.dispose();
  });

  it('adds Linear(condDim, 4w)(cond) to temb when condDim > 0 (absent = zeros)', () => {
    const m = new UNetDenoiser({ ...tiny, condDim: 2 });
    expect(m.namedWeights()['cond_embedding.weight']?.shape).toEqual([2, 32]);
    tf.tidy(() => {
      const x = tf.randomNormal([2, 8, 8, 1], 0, 1, 'float32', 2);
      const t = tf.tensor1d([5, 5]);
      const a = m.predict(x, t, tf.tensor2d([1, 0, 0, 1], [2, 2]));
      const none = m.predict(x, t);
      expect(Array.from(none.dataSync())).toEqual(Array.from(m.predict(x, t, tf.zeros([2, 2])).dataSync()));
      expect(tf.max(tf.abs(tf.sub(a, none))).dataSync()[0]).toBeGreaterThan(1e-5);
    });
    m.dispose();
  });

  it('round-trips its weights through saveWeights / loadWeights', () => {
    const a = new UNetDenoiser({ ...tiny, seed: 1 });
    const b = new UNetDenoiser({ ...tiny, seed: 2 });
    const { modelJson, weightsBin } = saveWeights(a);
    expect(modelJson.modelTopology).toMatchObject({ className: 'UNetDenoiser', sampleShape: [8, 8, 1], config: { channels: [8, 16], groups: 4 } });
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

describe('unet plugin', () => {
  it('is registered with the documented defaults and rejects bad options with one-line errors', () => {
    const root = createRootContainer();
    register(root);
    const reg = registryOf(root);
    expect(reg.ids('model')).toEqual(['mlp', 'patch-transformer', 'unet']);
    expect(reg.list('model').find((p) => p.id === 'unet')?.defaults).toEqual({
      channels: [32, 64],
      groups: 8,
      imageSize: 32,
      imageChannels: 1,
      predictionType: 'epsilon',
      seed: 0,
      condDim: 0,
    });
    const m = reg.create<UNetDenoiser>('model', { id: 'unet', options: tiny }, root.createChildContainer());
    expect(m).toBeInstanceOf(UNetDenoiser);
    m.dispose();
    expect(() => new UNetDenoiser({ imageSize: 30 })).toThrow('model.options.imageSize: must be a multiple of 2^2 (one halving per level), got 30');
    expect(() => new UNetDenoiser({ channels: [32, 60] })).toThrow('model.options.groups: channel count 60 is not divisible into 8 groups');
    expect(() => reg.parseOptions('model', 'unet', { channels: [] }, 'model')).toThrow(/^model\.options\.channels: /);
  });
});
