import { ConfigError, createRootContainer, type DataBatch, type Dataset, provide, registryOf, Rng, TOKENS, type Conditioner } from '@difflab/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { register } from './index.js';
import { TextConditioner } from './text-conditioner.js';
import { textWords } from './tokenizer.js';

// ---------------------------------------------------------------------------------------------
// A small captioned dataset: three shapes, a few captions each.
const CLASSES = ['circle', 'square', 'triangle'];
const CAPTIONS = [
  ['a circle', 'a round red shape', 'circle'],
  ['a square', 'a blue box with four corners', 'square'],
  ['a triangle', 'a green shape with three corners', 'triangle'],
];
const VOCAB = [...new Set(CAPTIONS.flat().flatMap(textWords))].sort();

class FakeCaptionedDataset implements Dataset {
  readonly id = 'shapes';
  readonly sampleShape = [2];
  readonly size = 30;
  readonly classes = CLASSES;
  readonly vocabulary = VOCAB;
  captionsOfClass(k: number): readonly string[] {
    return CAPTIONS[k];
  }
  sample(n: number, rng: Rng): DataBatch {
    const labels = Array.from({ length: n }, () => rng.int(3));
    const captions = labels.map((k) => CAPTIONS[k][rng.int(CAPTIONS[k].length)]);
    return { x: tf.zeros([n, 2]), labels, captions };
  }
}

class FakePointDataset implements Dataset {
  readonly id = 'swiss-roll';
  readonly sampleShape = [2];
  readonly size = 100;
  sample(n: number): DataBatch {
    return { x: tf.zeros([n, 2]) };
  }
}

// ---------------------------------------------------------------------------------------------
// An independent float64 reference of the encoder, written from the formulas.
type Mat = number[][];
type Weights = Record<string, number[] | Mat>;

function weightsOf(c: TextConditioner): Weights {
  const out: Weights = {};
  for (const [k, v] of Object.entries(c.namedWeights())) out[k] = v.arraySync() as number[] | Mat;
  return out;
}

/** erf to ~1e-14: Taylor series below 2, the continued fraction of erfc above. */
function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2) {
    let term = x;
    let sum = x;
    for (let n = 1; n < 80; n++) {
      term *= (-x * x) / n;
      sum += term / (2 * n + 1);
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  let t = ax;
  for (let k = 120; k >= 1; k--) t = ax + k / 2 / t;
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / t;
  return Math.sign(x) * (1 - erfc);
}

const vecMat = (v: number[], m: Mat, b: number[]): number[] => b.map((bj, j) => v.reduce((s, vi, i) => s + vi * m[i][j], bj));
function ln(v: number[], g: number[], b: number[]): number[] {
  const mu = v.reduce((s, a) => s + a, 0) / v.length;
  const va = v.reduce((s, a) => s + (a - mu) ** 2, 0) / v.length;
  return v.map((a, i) => ((a - mu) / Math.sqrt(va + 1e-5)) * g[i] + b[i]);
}

/** The condition vector of one text (ids of its words, at least one) in float64. */
function refEncode(W: Weights, ids: number[], layers: number, heads: number): number[] {
  const tok = W.tok as Mat;
  const pos = W.pos as Mat;
  const width = tok[0].length;
  const d = width / heads;
  let x = ids.map((id, i) => tok[id].map((a, j) => a + pos[i][j]));
  for (let l = 0; l < layers; l++) {
    const p = (n: string) => W[`layers.${l}.${n}`];
    const h = x.map((r) => ln(r, p('norm1.weight') as number[], p('norm1.bias') as number[]));
    const qkv = h.map((r) => vecMat(r, p('attn.qkv.weight') as Mat, p('attn.qkv.bias') as number[]));
    const o = x.map(() => new Array<number>(width).fill(0));
    for (let hd = 0; hd < heads; hd++) {
      for (let i = 0; i < x.length; i++) {
        const s = x.map((_, j) => {
          let dot = 0;
          for (let e = 0; e < d; e++) dot += qkv[i][hd * d + e] * qkv[j][width + hd * d + e];
          return dot / Math.sqrt(d);
        });
        const m = Math.max(...s);
        const ex = s.map((a) => Math.exp(a - m));
        const z = ex.reduce((a, b) => a + b, 0);
        for (let j = 0; j < x.length; j++) for (let e = 0; e < d; e++) o[i][hd * d + e] += (ex[j] / z) * qkv[j][2 * width + hd * d + e];
      }
    }
    x = x.map((r, i) => vecMat(o[i], p('attn.proj.weight') as Mat, p('attn.proj.bias') as number[]).map((a, j) => a + r[j]));
    x = x.map((r) => {
      const f = vecMat(ln(r, p('norm2.weight') as number[], p('norm2.bias') as number[]), p('mlp.fc1.weight') as Mat, p('mlp.fc1.bias') as number[]);
      const g = f.map((a) => 0.5 * a * (1 + erf(a / Math.SQRT2)));
      return vecMat(g, p('mlp.fc2.weight') as Mat, p('mlp.fc2.bias') as number[]).map((a, j) => a + r[j]);
    });
  }
  const hN = x.map((r) => ln(r, W['norm.weight'] as number[], W['norm.bias'] as number[]));
  const pooled = hN[0].map((_, j) => hN.reduce((s, r) => s + r[j], 0) / hN.length);
  return vecMat(pooled, W['out.weight'] as Mat, W['out.bias'] as number[]);
}

function refCondition(c: TextConditioner, W: Weights, text: string): number[] {
  const e = c.tokenizer.encode(text);
  if (e.length === 0) return new Array<number>(c.dim).fill(0);
  return refEncode(W, Array.from(e.ids.subarray(0, e.length)), c.options.layers, c.options.heads);
}

const TINY = { dim: 5, width: 8, layers: 2, heads: 2, maxTokens: 6, seed: 3 } as const;

function maxAbsDiff(a: number[][], b: number[][]): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) for (let j = 0; j < a[i].length; j++) m = Math.max(m, Math.abs(a[i][j] - b[i][j]));
  return m;
}

// ---------------------------------------------------------------------------------------------
describe('text conditioner', () => {
  it('has stable weight names, torch-default shapes and init, all trainable', () => {
    const c = new TextConditioner(VOCAB);
    expect(c.id).toBe('text');
    expect(c.dim).toBe(128);
    const named = c.namedWeights();
    const shapes = Object.fromEntries(Object.entries(named).map(([k, v]) => [k, v.shape]));
    const V = VOCAB.length + 2;
    expect(shapes.tok).toEqual([V, 64]);
    expect(shapes.pos).toEqual([16, 64]);
    expect(shapes['layers.0.attn.qkv.weight']).toEqual([64, 192]);
    expect(shapes['layers.1.attn.proj.bias']).toEqual([64]);
    expect(shapes['layers.1.mlp.fc1.weight']).toEqual([64, 256]);
    expect(shapes['layers.1.mlp.fc2.weight']).toEqual([256, 64]);
    expect(shapes['norm.weight']).toEqual([64]);
    expect(shapes['out.weight']).toEqual([64, 128]);
    expect(Object.keys(named)).toHaveLength(2 + 2 * 12 + 4);
    expect(Object.keys(named).filter((k) => k.startsWith('layers.'))).toHaveLength(24);
    expect(c.trainableVariables).toHaveLength(30);
    expect(c.trainableVariables.every((v) => v.trainable)).toBe(true);
    // parameters: V*64 + 16*64 + 2 * (2*128 + 64*192+192 + 64*64+64 + 64*256+256 + 256*64+64) + 128 + 64*128+128
    const count = c.trainableVariables.reduce((s, v) => s + v.size, 0);
    expect(count).toBe(V * 64 + 16 * 64 + 2 * (256 + 12480 + 4160 + 16640 + 16448) + 128 + 8320);
    // padding row 0, N(0,1) embeddings, U(+-1/8) for Linear(64, .)
    const tok = named.tok.arraySync() as number[][];
    expect(tok[0].every((v) => v === 0)).toBe(true);
    const flat = tok.slice(1).flat();
    const mean = flat.reduce((s, v) => s + v, 0) / flat.length;
    const std = Math.sqrt(flat.reduce((s, v) => s + (v - mean) ** 2, 0) / flat.length);
    expect(Math.abs(mean)).toBeLessThan(0.1);
    expect(std).toBeGreaterThan(0.85);
    expect(std).toBeLessThan(1.15);
    const qkv = named['layers.0.attn.qkv.weight'].dataSync();
    expect(Math.max(...Array.from(qkv, Math.abs))).toBeLessThanOrEqual(1 / 8);
    expect(Math.max(...Array.from(qkv, Math.abs))).toBeGreaterThan(0.12);
    expect(Array.from(named['layers.0.norm1.weight'].dataSync()).every((v) => v === 1)).toBe(true);
    c.dispose();
  });

  it('is deterministic under its seed', () => {
    const prompts = ['a round red shape', 'square'];
    const a = new TextConditioner(VOCAB, { seed: 7 });
    const b = new TextConditioner(VOCAB, { seed: 7 });
    const c = new TextConditioner(VOCAB, { seed: 8 });
    const [ea, eb, ec] = [a, b, c].map((m) => m.encodePrompts(prompts));
    expect(ea.shape).toEqual([2, 128]);
    expect(Array.from(ea.dataSync())).toEqual(Array.from(eb.dataSync()));
    expect(Array.from(ea.dataSync())).not.toEqual(Array.from(ec.dataSync()));
    tf.dispose([ea, eb, ec]);
    for (const m of [a, b, c]) m.dispose();
  });

  it('matches a float64 reference of the transformer, per caption, truncated to maxTokens', () => {
    const c = new TextConditioner(VOCAB, TINY);
    const W = weightsOf(c);
    const prompts = ['a circle', 'A blue box, with four corners!', 'square', 'a green shape with three corners and a round red circle', 'zebra circle'];
    const got = c.encodePrompts(prompts);
    expect(got.shape).toEqual([5, 5]);
    const want = prompts.map((p) => refCondition(c, W, p));
    expect(maxAbsDiff(got.arraySync() as number[][], want)).toBeLessThan(2e-5);
    // the truncated caption equals its first 6 words
    const head = refCondition(c, W, 'a green shape with three corners');
    expect(maxAbsDiff([want[3]], [head])).toBe(0);
    got.dispose();
    c.dispose();
  });

  it('single-head, zero-layer and mlpRatio 2 encoders match the reference too', () => {
    for (const opts of [{ ...TINY, heads: 1 }, { ...TINY, layers: 0 }, { ...TINY, mlpRatio: 2 }]) {
      const c = new TextConditioner(VOCAB, opts);
      const prompts = ['a round red shape', 'triangle'];
      const got = c.encodePrompts(prompts);
      expect(maxAbsDiff(got.arraySync() as number[][], prompts.map((p) => refCondition(c, weightsOf(c), p)))).toBeLessThan(2e-5);
      got.dispose();
      c.dispose();
    }
  });

  it('the null condition is exactly zero: empty prompt, a prompt without words, dropped rows', () => {
    const c = new TextConditioner(VOCAB, { seed: 1 });
    const e = c.encodePrompts(['', 'a circle', '?!', '']);
    const rows = e.arraySync() as number[][];
    for (const i of [0, 2, 3]) expect(rows[i].every((v) => v === 0)).toBe(true);
    expect(rows[1].some((v) => v !== 0)).toBe(true);
    const all = c.encodePrompts(['', '']);
    expect(all.shape).toEqual([2, 128]);
    expect(Array.from(all.dataSync()).every((v) => v === 0)).toBe(true);

    const captions = ['a circle', 'square', 'a circle', 'a blue box with four corners', ''];
    const drop = [false, true, false, false, false];
    const b = c.encodeBatch({ x: tf.zeros([5, 2]), captions }, drop);
    const br = b.arraySync() as number[][];
    const single = captions.map((p) => (c.encodePrompts([p]).arraySync() as number[][])[0]);
    expect(br[1].every((v) => v === 0)).toBe(true);
    expect(br[4].every((v) => v === 0)).toBe(true);
    // repeated captions are encoded once and give the same row; kept rows equal the prompts'
    expect(br[0]).toEqual(br[2]);
    expect(maxAbsDiff([br[0], br[3]], [single[0], single[3]])).toBeLessThan(1e-6);
    // no drop list: every caption encoded
    const nd = c.encodeBatch({ x: tf.zeros([5, 2]), captions });
    expect((nd.arraySync() as number[][])[1].some((v) => v !== 0)).toBe(true);
    tf.dispose([e, all, b, nd]);
    c.dispose();
  });

  it('padding changes nothing: not its length, not the ids under the mask', () => {
    const c = new TextConditioner(VOCAB, { ...TINY, maxTokens: 8 });
    const tk = c.tokenizer;
    const words = (s: string) => Array.from(tk.encode(s).ids.subarray(0, tk.encode(s).length));
    const a = words('a round red shape');
    const b = words('circle');
    // L = 4 (tight), L = 8 with padding ids, L = 8 with arbitrary word ids under the mask
    const rows = (L: number, fill: (i: number) => number) => {
      const ids = new Int32Array(2 * L);
      const mask = new Float32Array(2 * L);
      [a, b].forEach((w, r) => {
        for (let i = 0; i < L; i++) {
          ids[r * L + i] = i < w.length ? w[i] : fill(i);
          mask[r * L + i] = i < w.length ? 1 : 0;
        }
      });
      return { ids, mask, n: 2, L };
    };
    const tight = c.encodeTokens(rows(4, () => 0)).arraySync() as number[][];
    const padded = c.encodeTokens(rows(8, () => 0)).arraySync() as number[][];
    const garbage = c.encodeTokens(rows(8, (i) => 2 + ((i * 5) % VOCAB.length))).arraySync() as number[][];
    expect(maxAbsDiff(tight, padded)).toBeLessThan(1e-6);
    expect(maxAbsDiff(padded, garbage)).toBeLessThan(1e-6);
    expect(maxAbsDiff(tight, [refEncode(weightsOf(c), a, 2, 2), refEncode(weightsOf(c), b, 2, 2)])).toBeLessThan(2e-5);
    // a mask that lets the garbage in does change the result
    const leaky = rows(8, (i) => 2 + ((i * 5) % VOCAB.length));
    leaky.mask.fill(1);
    const l = c.encodeTokens(leaky).arraySync() as number[][];
    expect(maxAbsDiff(l, padded)).toBeGreaterThan(1e-3);
    expect(() => c.encodeTokens({ ids: new Int32Array(2), mask: new Float32Array(2), n: 1, L: 2 })).toThrow('encodeTokens: row 0 has no words');
    expect(() => c.encodeTokens({ ids: new Int32Array(9), mask: new Float32Array(9).fill(1), n: 1, L: 9 })).toThrow('encodeTokens: L must be 1..8, got 9');
    c.dispose();
  });

  it('gradients of a loss on encodeBatch reach every trainable variable, finite and non-zero', () => {
    const c = new TextConditioner(VOCAB, { dim: 16, width: 16, heads: 4, seed: 2 });
    const ds = new FakeCaptionedDataset();
    const batch = ds.sample(12, new Rng(5));
    const drop = batch.captions!.map((_, i) => i % 4 === 0);
    const r = tf.tensor2d(new Rng(9).normalArray(12 * 16), [12, 16]);
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(c.encodeBatch(batch, drop), r)) as tf.Scalar, c.trainableVariables);
    expect(Number.isFinite(value.dataSync()[0])).toBe(true);
    for (const [name, v] of Object.entries(c.namedWeights())) {
      const g = grads[v.name];
      expect(g, name).toBeDefined();
      const vals = Array.from(g.dataSync());
      expect(vals.every(Number.isFinite), name).toBe(true);
      expect(Math.max(...vals.map(Math.abs)), name).toBeGreaterThan(1e-6);
    }
    // the padding row of the token table gets no gradient (torch's padding_idx)
    expect(Array.from(tf.slice(grads[c.tok.name], [0, 0], [1, 16]).dataSync()).every((v) => v === 0)).toBe(true);
    tf.dispose([value, r, batch.x, ...Object.values(grads)]);
    c.dispose();
  });

  it('gradients agree with float64 central differences of the reference', () => {
    const c = new TextConditioner(VOCAB, TINY);
    const W = weightsOf(c);
    const prompts = ['a round red shape', 'a blue box with four corners', 'circle', '', 'a red shape a red circle'];
    const R = prompts.map((_, i) => Array.from({ length: TINY.dim }, (_, j) => Math.sin(1 + 3 * i + j)));
    const loss = (w: Weights) => prompts.reduce((s, p, i) => s + refCondition(c, w, p).reduce((a, v, j) => a + v * R[i][j], 0), 0);
    const rT = tf.tensor2d(R);
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(c.encodePrompts(prompts), rT)) as tf.Scalar, c.trainableVariables);
    expect(value.dataSync()[0]).toBeCloseTo(loss(W), 4);
    const named = c.namedWeights();
    const checks: [string, number, number][] = [
      ['tok', 2 + VOCAB.indexOf('round'), 3],
      ['tok', 2 + VOCAB.indexOf('red'), 1],
      ['tok', 2 + VOCAB.indexOf('a'), 7],
      ['pos', 0, 2],
      ['pos', 1, 5],
      ['layers.0.attn.qkv.weight', 2, 1],
      ['layers.0.attn.qkv.weight', 4, 13],
      ['layers.0.attn.qkv.weight', 6, 20],
      ['layers.1.attn.proj.weight', 3, 3],
      ['layers.0.norm1.weight', 0, 4],
      ['layers.1.mlp.fc1.weight', 7, 30],
      ['layers.0.mlp.fc2.bias', 0, 2],
      ['norm.bias', 0, 6],
      ['out.weight', 5, 4],
    ];
    const h = 1e-5;
    for (const [name, i, j] of checks) {
      const perturbed = (delta: number): Weights => {
        const w = structuredClone(W);
        const arr = w[name];
        if (Array.isArray(arr[0])) (arr as Mat)[i][j] += delta;
        else (arr as number[])[j] += delta;
        return w;
      };
      const fd = (loss(perturbed(h)) - loss(perturbed(-h))) / (2 * h);
      const g = grads[named[name].name].arraySync() as number[] | Mat;
      const got = Array.isArray(g[0]) ? (g as Mat)[i][j] : (g as number[])[j];
      expect(Math.abs(fd), name).toBeGreaterThan(1e-4);
      expect(Math.abs(got - fd), `${name}[${i}][${j}]: tfjs ${got}, finite difference ${fd}`).toBeLessThan(2e-3 * Math.abs(fd) + 2e-5);
    }
    tf.dispose([value, rT, ...Object.values(grads)]);
    c.dispose();
  });

  it('learns: Adam on encodeBatch fits a target vector per class from its varied captions', () => {
    const c = new TextConditioner(VOCAB, { dim: 8, width: 16, heads: 2, seed: 1 });
    const ds = new FakeCaptionedDataset();
    const rng = new Rng(2);
    const targets = tf.tensor2d(new Rng(3).normalArray(3 * 8), [3, 8]);
    const opt = tf.train.adam(1e-2);
    const lossOf = (batch: DataBatch) => tf.mean(tf.square(tf.sub(c.encodeBatch(batch), tf.gather(targets, tf.tensor1d(batch.labels!, 'int32'))))) as tf.Scalar;
    const evalBatch = ds.sample(64, new Rng(4));
    const before = tf.tidy(() => lossOf(evalBatch).dataSync()[0]);
    for (let step = 0; step < 150; step++) {
      const batch = ds.sample(32, rng);
      const { value, grads } = tf.variableGrads(() => lossOf(batch), c.trainableVariables);
      opt.applyGradients(Object.entries(grads).map(([name, tensor]) => ({ name, tensor })));
      tf.dispose([value, batch.x, ...Object.values(grads)]);
    }
    const after = tf.tidy(() => lossOf(evalBatch).dataSync()[0]);
    console.log(`text conditioner fit: eval loss ${before.toFixed(4)} -> ${after.toFixed(5)} after 150 Adam steps`);
    expect(before).toBeGreaterThan(0.5);
    expect(after).toBeLessThan(0.02 * before);
    opt.dispose();
    tf.dispose([targets, evalBatch.x]);
    c.dispose();
  });

  it('does not leak tensors across encodes and gradient steps', () => {
    const c = new TextConditioner(VOCAB, { dim: 8, width: 16, seed: 4 });
    const ds = new FakeCaptionedDataset();
    const rng = new Rng(1);
    const run = () => {
      const batch = ds.sample(6, rng);
      const drop = [true, false, false, true, false, false];
      c.encodeBatch(batch, drop).dispose();
      c.encodePrompts(['', 'a circle', 'a circle', 'zebra']).dispose();
      c.encodePrompts(['']).dispose();
      const { value, grads } = tf.variableGrads(() => tf.sum(c.encodeBatch(batch, drop)) as tf.Scalar, c.trainableVariables);
      tf.dispose([value, batch.x, ...Object.values(grads)]);
    };
    run();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) run();
    expect(tf.memory().numTensors).toBe(before);
    const vars = tf.memory().numTensors;
    c.dispose();
    expect(tf.memory().numTensors).toBe(vars - 30);
  });

  it('reports unknown words, and encodes them as [unk]', () => {
    const c = new TextConditioner(VOCAB, TINY);
    expect(c.unknownWords('the happiest image in the world')).toEqual(['the', 'happiest', 'image', 'in', 'world']);
    expect(c.unknownWords('A round, red shape.')).toEqual([]);
    const e = c.encodePrompts(['zebra', 'happiest']);
    const rows = e.arraySync() as number[][];
    expect(rows[0]).toEqual(rows[1]);
    expect(rows[0].some((v) => v !== 0)).toBe(true);
    e.dispose();
    c.dispose();
  });

  it('encodeBatch needs captions and a drop list of the batch length', () => {
    const c = new TextConditioner(VOCAB, TINY);
    const x = tf.zeros([2, 2]);
    expect(() => c.encodeBatch({ x, labels: [0, 1] })).toThrow(ConfigError);
    expect(() => c.encodeBatch({ x, labels: [0, 1] })).toThrow(/'text' conditioner needs captions/);
    expect(() => c.encodeBatch({ x, captions: ['a', 'b'] }, [true])).toThrow('encodeBatch: drop has 1 entries for 2 captions');
    x.dispose();
    c.dispose();
  });

  it('times encoding 128 distinct captions, short (as mnist) and long (as the faces), default size', () => {
    const c = new TextConditioner(VOCAB);
    const x = tf.zeros([128, 2]);
    // distinct captions: 1-3 words (as mnist's) and 3-13 words (as the faces')
    const rng = new Rng(11);
    const captionsOf = (min: number, max: number) =>
      Array.from({ length: 128 }, (_, i) => Array.from({ length: min + (i % (max - min + 1)) }, () => VOCAB[rng.int(VOCAB.length)]).join(' '));
    const time = (f: () => void, reps: number) => {
      f();
      const ts: number[] = [];
      for (let r = 0; r < reps; r++) {
        const t0 = performance.now();
        f();
        ts.push(performance.now() - t0);
      }
      return ts.sort((p, q) => p - q)[Math.floor(reps / 2)];
    };
    const report: string[] = [];
    for (const [name, captions] of [
      ['1-3 words', captionsOf(1, 3)],
      ['3-13 words', captionsOf(3, 13)],
    ] as const) {
      const distinct = new Set(captions).size;
      expect(distinct).toBeGreaterThan(name === '1-3 words' ? 80 : 127);
      const fwd = time(() => c.encodeBatch({ x, captions }).dataSync(), 10);
      const both = time(() => {
        const { value, grads } = tf.variableGrads(() => tf.sum(c.encodeBatch({ x, captions })) as tf.Scalar, c.trainableVariables);
        value.dataSync();
        tf.dispose([value, ...Object.values(grads)]);
      }, 5);
      report.push(`${name} (${distinct} distinct): encode ${fwd.toFixed(1)} ms, encode + gradients ${both.toFixed(1)} ms`);
      expect(fwd).toBeLessThan(1000);
    }
    console.log(`text conditioner (defaults) on ${tf.getBackend()}, 128 captions of ${report.join('; ')}`);
    x.dispose();
    c.dispose();
  });
});

describe('text conditioner plugin', () => {
  it('is created from the job container with the dataset vocabulary', () => {
    const root = createRootContainer();
    register(root);
    const reg = registryOf(root);
    const job = root.createChildContainer();
    expect(() => reg.create('conditioner', 'text', job)).toThrow(/not registered/);
    provide(job, TOKENS.Dataset, new FakeCaptionedDataset());
    const c = reg.create<Conditioner & TextConditioner>('conditioner', { id: 'text', options: { dim: 32, width: 16 } }, job);
    expect(c.id).toBe('text');
    expect(c.dim).toBe(32);
    expect(c.tokenizer.vocabulary).toEqual(VOCAB);
    expect(c.options).toEqual({ dim: 32, width: 16, layers: 2, heads: 4, mlpRatio: 4, maxTokens: 16, seed: 0 });
    c.dispose();
    expect(reg.list('conditioner').find((p) => p.id === 'text')?.defaults).toEqual({ dim: 128, width: 64, layers: 2, heads: 4, mlpRatio: 4, maxTokens: 16, seed: 0 });
    expect(() => reg.create('conditioner', { id: 'text', options: { width: 64, heads: 5 } }, job)).toThrow(
      'conditioner.options.heads: width 64 is not divisible by heads 5; use a divisor of 64',
    );
    expect(() => reg.create('conditioner', { id: 'text', options: { tokens: 5 } }, job)).toThrow("conditioner.options: unknown option(s) 'tokens'");
  });

  it('refuses a dataset without captions', () => {
    const root = createRootContainer();
    register(root);
    const job = root.createChildContainer();
    provide(job, TOKENS.Dataset, new FakePointDataset());
    let err: unknown;
    try {
      registryOf(root).create('conditioner', 'text', job);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toBe("conditioner: the 'text' conditioner needs a dataset with captions; 'swiss-roll' has none");
    expect((err as ConfigError).exitCode).toBe(2);
  });
});
