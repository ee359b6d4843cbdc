import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { FileFormatError } from '@difflab/core';
import { loadWeights, MLPDenoiser, saveWeights } from './index.js';
import { FakeSinusoidalTime } from './testing/fakes.js';

const time = new FakeSinusoidalTime(8);
const mlp = (opts: Record<string, unknown>) => new MLPDenoiser({ hidden: 16, blocks: 2, ...opts }, { timestepEmbedding: time });

describe('saveWeights / loadWeights', () => {
  it('writes the tfjs model.json manifest and a weights.bin that tf.io.decodeWeights reads back', () => {
    const m = mlp({ seed: 3, predictionType: 'v_prediction' });
    const { modelJson, weightsBin } = saveWeights(m);
    expect(modelJson.weightsManifest).toHaveLength(1);
    expect(modelJson.weightsManifest[0].paths).toEqual(['weights.bin']);
    expect(modelJson.weightsManifest[0].weights.map((w) => w.name)).toEqual(Object.keys(m.namedWeights()));
    expect(modelJson.weightsManifest[0].weights[0]).toEqual({ name: 'in.weight', shape: [10, 16], dtype: 'float32' });
    expect(modelJson.modelTopology).toMatchObject({ className: 'MLPDenoiser', predictionType: 'v_prediction', sampleShape: [2], config: { hidden: 16, blocks: 2 } });
    expect(weightsBin.byteLength).toBe(4 * m.parameterCount);
    // independent reader: tfjs' own decoder of the weights format
    const decoded = tf.io.decodeWeights(weightsBin.slice().buffer, modelJson.weightsManifest[0].weights);
    for (const [name, v] of Object.entries(m.namedWeights())) {
      expect(Array.from(decoded[name].dataSync())).toEqual(Array.from(v.dataSync()));
    }
    tf.dispose(Object.values(decoded));
    m.dispose();
  });

  it('round-trips exactly (bit for bit) into a model with other initial weights', () => {
    const a = mlp({ seed: 1 });
    const b = mlp({ seed: 2 });
    const { modelJson, weightsBin } = saveWeights(a);
    const json = JSON.parse(JSON.stringify(modelJson));
    const before = tf.memory().numTensors;
    loadWeights(b, json, weightsBin);
    expect(tf.memory().numTensors).toBe(before);
    for (const [name, v] of Object.entries(a.namedWeights())) {
      expect(Array.from(b.namedWeights()[name].dataSync())).toEqual(Array.from(v.dataSync()));
    }
    tf.tidy(() => {
      const x = tf.randomNormal([4, 2], 0, 1, 'float32', 5);
      const t = tf.tensor1d([0, 3, 9, 20]);
      expect(Array.from(b.predict(x, t).dataSync())).toEqual(Array.from(a.predict(x, t).dataSync()));
    });
    a.dispose();
    b.dispose();
  });

  it('rejects a wrong shape, an unknown or missing weight and a short file with one-line errors naming the weight', () => {
    const big = mlp({ hidden: 16 });
    const small = mlp({ hidden: 8 });
    const { modelJson, weightsBin } = saveWeights(big);
    let err: unknown;
    try {
      loadWeights(small, modelJson, weightsBin);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FileFormatError);
    expect((err as Error).message).toBe("model.json: weight 'in.weight' has shape [10,16] in the file but [10,8] in the model");
    expect((err as Error).message).not.toContain('\n');
    // nothing was assigned
    expect(small.namedWeights()['in.weight'].shape).toEqual([10, 8]);

    const deeper = mlp({ blocks: 3 });
    expect(() => loadWeights(deeper, modelJson, weightsBin)).toThrow("model.json: weight 'blocks.2.weight' of the model is missing from the file");
    const shallow = mlp({ blocks: 1 });
    expect(() => loadWeights(shallow, modelJson, weightsBin)).toThrow(/^model\.json: weight 'blocks\.1\.weight' is not a weight of this model/);
    expect(() => loadWeights(big, modelJson, weightsBin.subarray(0, weightsBin.byteLength - 4))).toThrow(/^weights\.bin: holds \d+ bytes but model\.json lists \d+ bytes/);
    expect(() => loadWeights(big, { format: 'x' }, weightsBin)).toThrow('model.json: has no weightsManifest array (not a tfjs model.json)');
    for (const m of [big, small, deeper, shallow]) m.dispose();
  });
});
