import { existsSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import type { Denoiser } from '@difflab/core';
import { PatchTransformerDenoiser, UNetDenoiser } from '@difflab/models';
import { AdamW } from '@difflab/training';
import { replacedWebGpuKernel, SWIFTSHADER_ICD, startBackend } from '@difflab/runtime';

// The image models on webgpu take @difflab/runtime's WGSL kernels (attention, group norm, the layer
// norm as a one-group group norm, leading-axes sums, the conv filter gradient): their outputs and
// every parameter's gradient must equal the cpu backend's op-by-op ones. Tolerance: tfjs-webgpu's
// own ops (difflab's WGSL kernels unregistered) differ from cpu by up to 2.1e-4 of a gradient's
// largest value here (the first layers' weights, sums over every position); with the kernels the
// same (measured 1.98e-4 / 2.01e-4 / 2.10e-4 both ways).

const hasSwiftShader = existsSync(SWIFTSHADER_ICD);

/**
 * Two AdamW steps on that loss (the gradients' concat, the Adam kernel and the split back into the
 * variables: on webgpu buffer copies and one WGSL kernel), then the weights, read back.
 */
async function afterTwoSteps(model: Denoiser, xv: Float32Array, targetv: Float32Array): Promise<Float32Array[]> {
  const shape = [2, ...model.sampleShape];
  const opt = new AdamW(model.trainableVariables, { lr: 1e-2 });
  for (let i = 0; i < 2; i++) {
    tf.tidy(() => {
      const { grads } = tf.variableGrads(() => tf.sum(tf.mul(model.predict(tf.tensor(xv, shape), tf.tensor1d([10, 700], 'int32')), tf.tensor(targetv, shape))) as tf.Scalar, model.trainableVariables);
      opt.applyGradients(model.trainableVariables.map((v) => grads[v.name] as tf.Tensor));
    });
  }
  opt.dispose();
  return Promise.all(model.trainableVariables.map((v) => v.data() as Promise<Float32Array>));
}

/** predict(x_t, t), sum(predict * target) and its gradient for every trainable variable, read back. */
async function outputsAndGrads(model: Denoiser, xv: Float32Array, targetv: Float32Array): Promise<Float32Array[]> {
  const shape = [2, ...model.sampleShape];
  const res = tf.tidy(() => {
    const x = tf.tensor(xv, shape);
    const t = tf.tensor1d([10, 700], 'int32');
    const target = tf.tensor(targetv, shape);
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(model.predict(x, t), target)) as tf.Scalar, model.trainableVariables);
    return [model.predict(x, t), value, ...model.trainableVariables.map((v) => grads[v.name] as tf.Tensor)];
  });
  // webgpu reads back asynchronously only, in Node
  const data = await Promise.all(res.map((r) => r.data() as Promise<Float32Array>));
  tf.dispose(res);
  return data;
}

function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

afterAll(async () => {
  await startBackend('wasm');
});

describe('image models on webgpu (Dawn + SwiftShader) against the cpu backend', () => {
  const models: [string, () => Denoiser][] = [
    ['patch transformer (2 blocks, 2 heads: attention, layer norms)', () => new PatchTransformerDenoiser({ imageSize: 8, patch: 2, width: 32, heads: 2, depth: 2, seed: 3 })],
    ['conv UNet (group norms, attention, convolutions)', () => new UNetDenoiser({ channels: [8, 16], groups: 4, imageSize: 8, seed: 4 })],
  ];
  it("the optimizer's concat and split as buffer copies give tfjs-webgpu's slice programs' weights, bit for bit", async (ctx) => {
    ctx.skip(!hasSwiftShader, `no SwiftShader Vulkan driver at ${SWIFTSHADER_ICD} (install Debian's chromium package)`);
    await startBackend('webgpu');
    const make = () => new PatchTransformerDenoiser({ imageSize: 8, patch: 2, width: 32, heads: 2, depth: 1, seed: 5 });
    const n = 2 * 8 * 8;
    const [xv, targetv] = [values(n, 3), values(n, 4)];
    const copies = make();
    const withCopies = await afterTwoSteps(copies, xv, targetv);
    const programs = make();
    const ours = ['SplitV', 'Concat'].map((k) => tf.getKernel(k, 'webgpu') as tf.KernelConfig);
    for (const k of ['SplitV', 'Concat']) {
      tf.unregisterKernel(k, 'webgpu');
      tf.registerKernel(replacedWebGpuKernel(k) as tf.KernelConfig);
    }
    let withPrograms: Float32Array[];
    try {
      withPrograms = await afterTwoSteps(programs, xv, targetv);
    } finally {
      for (const k of ours) {
        tf.unregisterKernel(k.kernelName, 'webgpu');
        tf.registerKernel(k);
      }
    }
    expect(withCopies.length).toBe(copies.trainableVariables.length);
    for (let i = 0; i < withCopies.length; i++) expect(Array.from(withCopies[i]), `weight ${i}`).toEqual(Array.from(withPrograms[i]));
    // and the steps moved them
    const fresh = make();
    expect(Array.from(await fresh.trainableVariables[0].data())).not.toEqual(Array.from(withCopies[0]));
    for (const m of [copies, programs, fresh]) m.dispose();
  });

  for (const [name, make] of models) {
    it(`${name}: outputs, loss and every gradient within 5e-4 of cpu's`, async (ctx) => {
      ctx.skip(!hasSwiftShader, `no SwiftShader Vulkan driver at ${SWIFTSHADER_ICD} (install Debian's chromium package)`);
      await startBackend('cpu');
      const model = make();
      const n = 2 * model.sampleShape.reduce((a, b) => a * b, 1);
      const xv = values(n, 1);
      const targetv = values(n, 2);
      const cpu = await outputsAndGrads(model, xv, targetv);
      await startBackend('webgpu');
      const before = tf.memory().numTensors;
      const gpu = await outputsAndGrads(model, xv, targetv);
      expect(tf.memory().numTensors).toBe(before);
      expect(gpu.length).toBe(cpu.length);
      for (let i = 0; i < cpu.length; i++) {
        let scale = 1e-6;
        let err = 0;
        for (let j = 0; j < cpu[i].length; j++) {
          scale = Math.max(scale, Math.abs(cpu[i][j]));
          err = Math.max(err, Math.abs(gpu[i][j] - cpu[i][j]));
        }
        const what = i === 0 ? 'output' : i === 1 ? 'loss' : `gradient ${i - 2} (${model.trainableVariables[i - 2].name})`;
        expect(err / scale, what).toBeLessThan(5e-4);
      }
      model.dispose();
    });
  }
});
