/**
 * Trains the judges that @difflab/metrics ships (`packages/metrics/judges/<name>/model.json` +
 * `weights.bin`) on the train splits of @difflab/datasets, measures them on the test splits and
 * writes the numbers into model.json's `userDefinedMetadata`. Run from the repository root
 * (vite-node resolves @difflab/* to the TypeScript sources through tools/judges/vite.config.ts):
 *
 *   nice -n 10 npx vite-node -c tools/judges/vite.config.ts tools/judges/train-judges.ts -- mnist faces
 *
 * Options: `--out <dir>` (default packages/metrics/judges), `--epochs <n>` (override),
 * `--dry-run` (train and measure, write nothing). Everything is seeded: a rerun on the same
 * backend gives the same weights.
 */
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@difflab/core';
import { FACE_ACCESSORIES, FACE_COLORS, FACE_EXPRESSIONS, FACE_EYES, FacesDataset, MnistDataset } from '@difflab/datasets';
import { ImageJudge, type JudgeConfigInput, JudgeNet, judgeAccuracy, saveJudgeWeights, trainJudge, type TrainJudgeOptions } from '@difflab/metrics';
import { startBackend } from '@difflab/runtime';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

interface Recipe {
  config: JudgeConfigInput;
  train: TrainJudgeOptions;
  /** Build the labelled train and test images (the caller disposes them). */
  data(): { train: { x: tf.Tensor4D; labels: number[] }; test: { x: tf.Tensor4D; labels: number[] }; describe: Record<string, unknown> };
  /** Class names of the dataset, which the judge's must equal. */
  classes: readonly string[];
}

const FACES_TRAIN = 12_000; // 100 faces per class
const FACES_TEST = 2_400;

/** Every face of a split as one tensor. */
function allFaces(ds: FacesDataset): { x: tf.Tensor4D; labels: number[] } {
  const per = 32 * 32 * 3;
  const data = new Float32Array(ds.size * per);
  const labels: number[] = [];
  for (let i = 0; i < ds.size; i++) {
    data.set(ds.image(i), i * per);
    labels.push(ds.label(i));
  }
  return { x: tf.tensor4d(data, [ds.size, 32, 32, 3]), labels };
}

const RECIPES: Record<string, Recipe> = {
  mnist: {
    config: {
      name: 'mnist',
      inputShape: [28, 28, 1],
      channels: [16, 32, 32],
      strides: [1, 2, 2],
      featureDim: 128,
      attributes: [{ name: 'digit', values: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'] }],
    },
    train: { epochs: 12, batchSize: 64, learningRate: 2e-3, schedule: 'cosine', shift: 2, seed: 0 },
    data: () => {
      const train = new MnistDataset({ split: 'train' }).all();
      const test = new MnistDataset({ split: 'test' }).all();
      return { train, test, describe: { dataset: 'mnist', trainSplit: 'train', trainImages: train.labels.length, testSplit: 'test', testImages: test.labels.length } };
    },
    classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
  },
  faces: {
    config: {
      name: 'faces',
      inputShape: [32, 32, 3],
      channels: [16, 32, 32],
      strides: [1, 2, 2],
      featureDim: 128,
      attributes: [
        { name: 'expression', values: [...FACE_EXPRESSIONS] },
        { name: 'color', values: [...FACE_COLORS] },
        { name: 'eyes', values: [...FACE_EYES] },
        { name: 'accessory', values: [...FACE_ACCESSORIES] },
      ],
    },
    train: { epochs: 10, batchSize: 64, learningRate: 2e-3, schedule: 'cosine', shift: 2, seed: 0 },
    data: () => {
      const train = allFaces(new FacesDataset({ split: 'train', size: FACES_TRAIN }));
      const test = allFaces(new FacesDataset({ split: 'test', size: FACES_TEST }));
      return { train, test, describe: { dataset: 'faces', seed: 0, trainSplit: 'train', trainImages: FACES_TRAIN, testSplit: 'test', testImages: FACES_TEST } };
    },
    classes: new FacesDataset({ size: 1 }).classes,
  },
};

function writeAtomic(path: string, bytes: Uint8Array | string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, path);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2).filter((a) => a !== '--');
  const flag = (name: string) => {
    const i = args.indexOf(name);
    if (i < 0) return undefined;
    const v = args[i + 1];
    args.splice(i, 2);
    return v;
  };
  const out = flag('--out') ?? 'packages/metrics/judges';
  const epochs = flag('--epochs');
  const dry = args.includes('--dry-run');
  const names = args.filter((a) => !a.startsWith('--'));
  for (const n of names) if (!RECIPES[n]) throw new Error(`unknown judge '${n}'; available: ${Object.keys(RECIPES).join(', ')}`);
  if (!names.length) throw new Error(`name the judges to train: ${Object.keys(RECIPES).join(', ')}`);

  const started = await startBackend('wasm');
  console.log(`backend ${started.backend}; ${started.notes.join('; ')}`);
  for (const name of names) {
    const recipe = RECIPES[name];
    const options: TrainJudgeOptions = { ...recipe.train, ...(epochs ? { epochs: Number(epochs) } : {}) };
    const t0 = performance.now();
    const { train, test, describe } = recipe.data();
    const dataSeconds = (performance.now() - t0) / 1000;
    console.log(`${name}: ${train.labels.length} train / ${test.labels.length} test images (${dataSeconds.toFixed(1)} s to load)`);
    const net = new JudgeNet(recipe.config, new Rng(0));
    if (JSON.stringify(net.classes) !== JSON.stringify(recipe.classes)) throw new Error(`${name}: the judge's classes differ from the dataset's`);
    console.log(`${name}: ${net.parameterCount()} parameters (${((4 * net.parameterCount()) / 1024).toFixed(0)} KiB)`);
    const result = trainJudge(net, train.x, train.labels, options, (e) => {
      console.log(`${name}: epoch ${e.epoch + 1}/${options.epochs} loss ${e.loss.toFixed(4)} (${e.seconds.toFixed(1)} s)`);
    });
    const judge = new ImageJudge(net);
    const acc = judgeAccuracy(judge, test.x, test.labels);
    const trainAcc = judgeAccuracy(judge, train.x, train.labels);
    console.log(`${name}: test accuracy ${(100 * acc.accuracy).toFixed(2)}% ${JSON.stringify(acc.attributes)}; train ${(100 * trainAcc.accuracy).toFixed(2)}%`);
    console.log(`${name}: trained in ${result.seconds.toFixed(1)} s`);
    const metadata = {
      trainedBy: 'tools/judges/train-judges.ts',
      backend: tf.getBackend(),
      data: describe,
      initSeed: 0,
      training: options,
      trainSeconds: Math.round(result.seconds * 10) / 10,
      finalEpochLoss: result.epochLosses[result.epochLosses.length - 1],
      testAccuracy: acc.accuracy,
      testAttributeAccuracy: acc.attributes,
      trainAccuracy: trainAcc.accuracy,
    };
    if (!dry) {
      const { modelJson, weightsBin } = saveJudgeWeights(net, metadata);
      const dir = join(out, name);
      mkdirSync(dir, { recursive: true });
      writeAtomic(join(dir, 'weights.bin'), weightsBin);
      writeAtomic(join(dir, 'model.json'), `${JSON.stringify(modelJson, null, 1)}\n`);
      console.log(`${name}: wrote ${dir}/model.json and weights.bin (${(weightsBin.byteLength / 1024).toFixed(0)} KiB)`);
    }
    judge.dispose();
    tf.dispose([train.x, test.x]);
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
