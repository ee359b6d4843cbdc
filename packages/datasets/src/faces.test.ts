import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PluginRegistry, Rng } from '@difflab/core';
import { decodePng, encodePng, imageGrid } from '@difflab/viz';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { wordsOf } from './captions.js';
import {
  BACKGROUND_RGB,
  CENTRED_FACE_LAYOUT,
  FACE_ACCESSORIES,
  FACE_CLASSES,
  FACE_COLORS,
  FACE_EXPRESSIONS,
  FACE_EYES,
  FACE_RGB,
  type FaceAttributes,
  type FaceLayout,
  FacesDataset,
  faceAttributesOf,
  faceBrowY,
  faceCaptions,
  faceLabelOf,
  facesPlugin,
  NUM_FACE_CLASSES,
  renderFace,
} from './faces.js';

const S = 32;
/** 720 faces = every class 6 times; drawn once for the statistics below. */
const ds = new FacesDataset({ size: 720, seed: 1 });
const faces = Array.from({ length: ds.size }, (_, i) => ({ img: ds.image(i), a: faceAttributesOf(ds.label(i)), L: ds.layout(i) }));

/** Channel c of the pixel containing the point (x, y) (pixel i spans [i, i + 1)). */
const px = (img: Float32Array, x: number, y: number, c: number) => {
  const ix = Math.min(S - 1, Math.max(0, Math.floor(x)));
  const iy = Math.min(S - 1, Math.max(0, Math.floor(y)));
  return img[(iy * S + ix) * 3 + c];
};
const brightness = (img: Float32Array, x: number, y: number) => (px(img, x, y, 0) + px(img, x, y, 1) + px(img, x, y, 2)) / 3;
const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
/** Mean brightness over a box of pixel centres [x0, x1] x [y0, y1] (clipped to the image). */
function boxBrightness(img: Float32Array, x0: number, x1: number, y0: number, y1: number): number {
  let s = 0;
  let n = 0;
  for (let y = Math.max(0, Math.floor(y0)); y <= Math.min(S - 1, Math.floor(y1)); y++) {
    for (let x = Math.max(0, Math.floor(x0)); x <= Math.min(S - 1, Math.floor(x1)); x++) {
      s += brightness(img, x, y);
      n++;
    }
  }
  return s / n;
}

describe('faces: classes, labels and attributes', () => {
  it('120 classes named "expression color eyes accessory"; labels decode and encode back', () => {
    expect(NUM_FACE_CLASSES).toBe(120);
    expect(FACE_CLASSES).toHaveLength(120);
    expect(FACE_CLASSES[0]).toBe('happy yellow open none');
    expect(FACE_CLASSES[1]).toBe('happy yellow open glasses');
    expect(FACE_CLASSES[119]).toBe('neutral blue closed hat');
    for (let k = 0; k < 120; k++) {
      const a = faceAttributesOf(k);
      expect(faceLabelOf(a)).toBe(k);
      expect(FACE_CLASSES[k]).toBe(`${a.expression} ${a.color} ${a.eyes} ${a.accessory}`);
    }
    expect(faceAttributesOf(faceLabelOf({ expression: 'angry', color: 'green', eyes: 'closed', accessory: 'hat' }))).toEqual({
      expression: 'angry',
      color: 'green',
      eyes: 'closed',
      accessory: 'hat',
    });
    expect(() => faceAttributesOf(120)).toThrow('faces: label must be an integer 0..119, got 120');
    expect(() => faceLabelOf({ expression: 'bored', color: 'green', eyes: 'open', accessory: 'none' } as unknown as FaceAttributes)).toThrow('unknown attributes');
    expect(ds.classes).toBe(FACE_CLASSES);
  });

  it('stratified: each run of 120 faces holds every class once', () => {
    const counts = new Array(120).fill(0);
    for (let i = 0; i < 720; i++) counts[ds.label(i)]++;
    expect(counts.every((c) => c === 6)).toBe(true);
    const first = Array.from({ length: 120 }, (_, i) => ds.label(i));
    expect(new Set(first).size).toBe(120);
    expect(first).not.toEqual(Array.from({ length: 120 }, (_, i) => i)); // shuffled
  });

  it('attributes are balanced over 2000 samples', () => {
    const big = new FacesDataset({ size: 10000 });
    const { x, labels } = big.sample(2000, new Rng(5));
    x.dispose();
    const attrs = labels.map(faceAttributesOf);
    const check = <T extends string>(values: readonly T[], get: (a: FaceAttributes) => T) => {
      const expected = 2000 / values.length;
      for (const v of values) {
        const n = attrs.filter((a) => get(a) === v).length;
        // binomial sd: sqrt(2000 p (1 - p)) <= 22.4; 4 sd
        expect(Math.abs(n - expected), `${v}: ${n} of 2000`).toBeLessThan(90);
      }
    };
    check(FACE_EXPRESSIONS, (a) => a.expression);
    check(FACE_COLORS, (a) => a.color);
    check(FACE_EYES, (a) => a.eyes);
    check(FACE_ACCESSORIES, (a) => a.accessory);
  });
});

describe('faces: determinism and splits', () => {
  it('is a function of (seed, split, index)', () => {
    const a = new FacesDataset({ size: 40, seed: 3 });
    const b = new FacesDataset({ size: 40, seed: 3 });
    const c = new FacesDataset({ size: 40, seed: 4 });
    let differ = 0;
    for (let i = 0; i < 40; i++) {
      expect(b.label(i)).toBe(a.label(i));
      expect(Array.from(b.image(i))).toEqual(Array.from(a.image(i)));
      if (a.image(i).some((v, k) => v !== c.image(i)[k])) differ++;
    }
    expect(differ).toBe(40);
    // a bigger set under the same seed starts with the same faces
    const big = new FacesDataset({ size: 400, seed: 3 });
    expect(Array.from(big.image(7))).toEqual(Array.from(a.image(7)));
    const s1 = a.sample(16, new Rng(9));
    const s2 = b.sample(16, new Rng(9));
    expect(Array.from(s2.x.dataSync())).toEqual(Array.from(s1.x.dataSync()));
    expect(s2.labels).toEqual(s1.labels);
    expect(s2.captions).toEqual(s1.captions);
    tf.dispose([s1.x, s2.x]);
  });

  it('train and test are disjoint streams: no face of one is in the other', () => {
    const tr = new FacesDataset({ size: 300, seed: 0 });
    const te = new FacesDataset({ size: 300, seed: 0, split: 'test' });
    const key = (img: Float32Array) => Array.from(img, (v) => Math.round((v + 1) * 127.5)).join(',');
    const seen = new Set(Array.from({ length: 300 }, (_, i) => key(tr.image(i))));
    expect(seen.size).toBe(300);
    for (let i = 0; i < 300; i++) expect(seen.has(key(te.image(i)))).toBe(false);
    expect(Array.from({ length: 120 }, (_, i) => te.label(i))).not.toEqual(Array.from({ length: 120 }, (_, i) => tr.label(i)));
  });
});

describe('faces: pictures show their attributes', () => {
  it('face colour: the cheeks have the colour of the attribute', () => {
    for (const color of FACE_COLORS) {
      const group = faces.filter((f) => f.a.color === color);
      const cheeks = (c: number) =>
        mean(group.flatMap(({ img, L }) => [px(img, L.cx - 0.55 * L.r, L.cy + 0.2 * L.r, c), px(img, L.cx + 0.55 * L.r, L.cy + 0.2 * L.r, c)]));
      const got = [0, 1, 2].map(cheeks);
      const want = FACE_RGB[color].map((v) => Math.min(v * 0.99, 1) * 2 - 1); // mean shade 0.99
      for (let c = 0; c < 3; c++) expect(Math.abs(got[c] - want[c]), `${color} channel ${c}: ${got[c]} vs ${want[c]}`).toBeLessThan(0.06);
    }
  });

  it('eyes: open eyes show white, closed eyes none; the eye region differs', () => {
    const noGlasses = faces.filter((f) => f.a.accessory !== 'glasses');
    const whites = (img: Float32Array) => {
      let n = 0;
      for (let k = 0; k < S * S; k++) if (img[3 * k] > 0.9 && img[3 * k + 1] > 0.9 && img[3 * k + 2] > 0.9) n++;
      return n;
    };
    const open = noGlasses.filter((f) => f.a.eyes === 'open').map((f) => whites(f.img));
    const closed = noGlasses.filter((f) => f.a.eyes === 'closed').map((f) => whites(f.img));
    expect(Math.min(...open)).toBeGreaterThanOrEqual(OPEN_MIN_WHITES);
    expect(Math.max(...closed)).toBe(0);
    // with glasses too, the eye band of open eyes is brighter on average (sclera vs skin + a thin lid)
    const eyeBand = (f: (typeof faces)[number]) => boxBrightness(f.img, f.L.cx - f.L.eyeDx - 2, f.L.cx + f.L.eyeDx + 2, f.L.eyeY - 2, f.L.eyeY + 2);
    const glasses = faces.filter((f) => f.a.accessory === 'glasses');
    const gOpen = mean(glasses.filter((f) => f.a.eyes === 'open').map(eyeBand));
    const gClosed = mean(glasses.filter((f) => f.a.eyes === 'closed').map(eyeBand));
    expect(gOpen - gClosed).toBeGreaterThan(EYES_GLASSES_DIFF);
  });

  it('glasses darken the eye band; a hat darkens the space above the head', () => {
    const band = (f: (typeof faces)[number]) => boxBrightness(f.img, f.L.cx - f.L.r * 0.8, f.L.cx + f.L.r * 0.8, f.L.eyeY - 1, f.L.eyeY + 1);
    const withGlasses = mean(faces.filter((f) => f.a.accessory === 'glasses').map(band));
    const without = mean(faces.filter((f) => f.a.accessory === 'none').map(band));
    expect(without - withGlasses).toBeGreaterThan(GLASSES_DIFF);
    const above = (f: (typeof faces)[number]) => boxBrightness(f.img, f.L.cx - 3, f.L.cx + 3, 0, f.L.cy - f.L.r - 1);
    const hat = mean(faces.filter((f) => f.a.accessory === 'hat').map(above));
    const noHat = mean(faces.filter((f) => f.a.accessory !== 'hat').map(above));
    expect(noHat).toBeCloseTo(BACKGROUND_RGB.reduce((a, b) => a + b) / 3 * 2 - 1, 1);
    expect(noHat - hat).toBeGreaterThan(0.6);
  });

  it('expressions: smile and frown curve opposite ways, surprise opens the mouth, anger and sadness show in the brows', () => {
    const by = (e: string) => faces.filter((f) => f.a.expression === e && f.a.accessory !== 'glasses');
    // the height of the ink (darkness relative to the column's brightest pixel) in a column of the mouth
    const inkRow = (f: (typeof faces)[number], dx: number) => {
      const x = Math.floor(f.L.cx + dx);
      const rows: number[] = [];
      for (let y = Math.floor(f.L.mouthY - f.L.mouthW); y <= Math.floor(f.L.mouthY + f.L.mouthW); y++) rows.push(y);
      const b = rows.map((y) => brightness(f.img, x, y));
      const top = Math.max(...b);
      let sw = 0;
      let sy = 0;
      rows.forEach((y, i) => {
        sw += top - b[i];
        sy += (top - b[i]) * y;
      });
      return sy / sw;
    };
    // y grows downwards: a smile's middle is below its corners, a frown's above
    const curve = (f: (typeof faces)[number]) =>
      inkRow(f, 0) - (inkRow(f, -0.75 * f.L.mouthW) + inkRow(f, 0.75 * f.L.mouthW)) / 2;
    expect(mean(by('happy').map(curve))).toBeGreaterThan(CURVE_DIFF);
    expect(mean(by('sad').map(curve))).toBeLessThan(-CURVE_DIFF);
    expect(Math.abs(mean(by('neutral').map(curve)))).toBeLessThan(CURVE_DIFF / 2);
    // surprise: an open round mouth, dark across its whole height
    const mouthBox = (f: (typeof faces)[number]) =>
      -boxBrightness(f.img, f.L.cx - 0.3 * f.L.mouthW, f.L.cx + 0.3 * f.L.mouthW, f.L.mouthY - 0.4 * f.L.mouthW, f.L.mouthY + 0.4 * f.L.mouthW);
    const surprised = mean(by('surprised').map(mouthBox));
    for (const e of ['happy', 'sad', 'angry', 'neutral']) expect(surprised - mean(by(e).map(mouthBox)), e).toBeGreaterThan(MOUTH_DIFF);
    // brows: a band above the eyes is inked for angry, sad and surprised, bare for happy and neutral
    const brows = (f: (typeof faces)[number]) =>
      -boxBrightness(f.img, f.L.cx - f.L.eyeDx - 1, f.L.cx + f.L.eyeDx + 1, faceBrowY(f.L) - 1, faceBrowY(f.L) + 1);
    const bare = Math.max(mean(by('happy').map(brows)), mean(by('neutral').map(brows)));
    for (const e of ['angry', 'sad', 'surprised']) expect(mean(by(e).map(brows)) - bare, e).toBeGreaterThan(BROW_DIFF);
  });

  it('a nearest-class-mean classifier fitted on train faces reads every attribute of test faces', () => {
    const tr = new FacesDataset({ size: 1200, seed: 2 });
    const te = new FacesDataset({ size: 360, seed: 2, split: 'test' });
    type Features = (img: Float32Array, L: FaceLayout) => number[];
    const accuracy = <T extends string>(values: readonly T[], get: (a: FaceAttributes) => T, features: Features) => {
      const sums: number[][] = values.map(() => []);
      const counts = values.map(() => 0);
      for (let i = 0; i < tr.size; i++) {
        const k = values.indexOf(get(faceAttributesOf(tr.label(i))));
        const f = features(tr.image(i), tr.layout(i));
        if (sums[k].length === 0) sums[k] = f.map(() => 0);
        for (let j = 0; j < f.length; j++) sums[k][j] += f[j];
        counts[k]++;
      }
      const means = sums.map((s, k) => s.map((v) => v / counts[k]));
      let right = 0;
      for (let i = 0; i < te.size; i++) {
        const f = features(te.image(i), te.layout(i));
        let best = -1;
        let bestD = Number.POSITIVE_INFINITY;
        means.forEach((m, k) => {
          let d = 0;
          for (let j = 0; j < f.length; j++) d += (f[j] - m[j]) ** 2;
          if (d < bestD) {
            bestD = d;
            best = k;
          }
        });
        if (values[best] === get(faceAttributesOf(te.label(i)))) right++;
      }
      return right / te.size;
    };
    // colour and accessory: the whole picture; eyes and expression: grey crops at the face's own
    // eye, brow and mouth positions (the jitter moves them by a few pixels)
    const whole: Features = (img) => Array.from(img);
    const crop = (img: Float32Array, x0: number, y0: number, w: number, h: number) => {
      const out: number[] = [];
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out.push(brightness(img, x0 + x, y0 + y));
      return out;
    };
    const eyeCrops: Features = (img, L) => [...crop(img, L.cx - L.eyeDx - 3, L.eyeY - 4, 7, 8), ...crop(img, L.cx + L.eyeDx - 3, L.eyeY - 4, 7, 8)];
    const expressionCrops: Features = (img, L) => [
      ...crop(img, L.cx - 5, L.mouthY - 4, 11, 8),
      ...crop(img, L.cx - L.eyeDx - 3, faceBrowY(L) - 2, 7, 4),
      ...crop(img, L.cx + L.eyeDx - 3, faceBrowY(L) - 2, 7, 4),
    ];
    expect(accuracy(FACE_COLORS, (a) => a.color, whole)).toBeGreaterThan(0.97);
    expect(accuracy(FACE_ACCESSORIES, (a) => a.accessory, whole)).toBeGreaterThan(0.95);
    expect(accuracy(FACE_EYES, (a) => a.eyes, eyeCrops)).toBeGreaterThan(0.97);
    expect(accuracy(FACE_EXPRESSIONS, (a) => a.expression, expressionCrops)).toBeGreaterThan(0.9);
  });
});

describe('faces: anti-aliasing', () => {
  const attrs: FaceAttributes = { expression: 'surprised', color: 'green', eyes: 'open', accessory: 'glasses' };
  const meanAbs = (a: Float32Array, b: Float32Array) => a.reduce((s, v, i) => s + Math.abs(v - b[i]), 0) / a.length;

  it('analytic coverage matches an 8x8 supersampled box filter; point sampling does not', () => {
    const reference = renderFace(attrs, CENTRED_FACE_LAYOUT, { supersample: 8 });
    const analytic = renderFace(attrs, CENTRED_FACE_LAYOUT);
    const aliased = renderFace(attrs, CENTRED_FACE_LAYOUT, { supersample: 1 });
    const eAA = meanAbs(analytic, reference);
    const eAliased = meanAbs(aliased, reference);
    expect(eAA).toBeLessThan(AA_ERROR);
    expect(eAliased).toBeGreaterThan(3 * eAA);
  });

  it('edges take intermediate values: the head outline fades from background to outline colour', () => {
    const img = renderFace({ expression: 'happy', color: 'blue', eyes: 'open', accessory: 'none' });
    // the row through the centre crosses the head's left edge at x = 16 - 10.75 = 5.25
    const row = Array.from({ length: 8 }, (_, x) => img[(17 * S + x) * 3 + 2]);
    const bg = BACKGROUND_RGB[2];
    const between = row.filter((v) => Math.abs(v - bg) > 0.02 && v > 0.25 && v < bg - 0.02);
    expect(between.length).toBeGreaterThanOrEqual(1);
    // and the dataset's faces have many such pixels: values that are no palette colour
    const levels = new Set(Array.from(faces[0].img, (v) => Math.round(v * 1000)));
    expect(levels.size).toBeGreaterThan(60);
    expect(() => renderFace(attrs, CENTRED_FACE_LAYOUT, { supersample: 0.5 })).toThrow('supersample must be an integer >= 0');
  });
});

describe('faces: captions', () => {
  it('name the expression and colour always, closed eyes and the accessory when present, never the defaults', () => {
    for (let k = 0; k < 120; k++) {
      const a = faceAttributesOf(k);
      const list = ds.captionsOfClass(k);
      expect(list.length).toBeGreaterThanOrEqual(4);
      for (const c of list) {
        const w = wordsOf(c);
        expect(w).toContain(a.expression);
        expect(w).toContain(a.color);
        expect(w.includes('closed')).toBe(a.eyes === 'closed');
        expect(w.includes('glasses')).toBe(a.accessory === 'glasses');
        expect(w.includes('hat')).toBe(a.accessory === 'hat');
        expect(w).not.toContain('open');
        expect(w).not.toContain('none');
      }
    }
    expect(faceCaptions({ expression: 'happy', color: 'yellow', eyes: 'closed', accessory: 'none' })).toContain('a happy yellow face with closed eyes');
    expect(faceCaptions({ expression: 'sad', color: 'green', eyes: 'open', accessory: 'glasses' })).toContain('a sad green face wearing glasses');
    expect(faceCaptions({ expression: 'angry', color: 'blue', eyes: 'open', accessory: 'none' })).toContain('an angry blue face');
    expect(faceCaptions({ expression: 'surprised', color: 'pink', eyes: 'closed', accessory: 'hat' })).toContain('a surprised pink face with eyes closed and wearing a hat');
    expect(() => ds.captionsOfClass(-1)).toThrow('label must be an integer 0..119');
  });

  it('sampled captions belong to the sampled class; the vocabulary has every word', () => {
    const { x, labels, captions } = ds.sample(1000, new Rng(4));
    x.dispose();
    const owner = new Map<string, number>();
    for (let k = 0; k < 120; k++) for (const c of ds.captionsOfClass(k)) owner.set(c, k);
    captions.forEach((c, i) => {
      expect(owner.get(c)).toBe(labels[i]);
    });
    expect(new Set(captions).size).toBeGreaterThan(300);
    const words = new Set<string>();
    for (const c of owner.keys()) for (const w of c.split(' ')) words.add(w);
    expect(ds.vocabulary).toEqual([...words].sort());
    expect(ds.vocabulary).toEqual(expect.arrayContaining([...FACE_EXPRESSIONS, ...FACE_COLORS, 'closed', 'glasses', 'hat', 'face', 'a', 'an']));
  });
});

describe('faces: tensors, options, plugin, picture', () => {
  it('sample and all: shapes, range, flat tensor count', () => {
    const small = new FacesDataset({ size: 50 });
    const before = tf.memory().numTensors;
    const rng = new Rng(0);
    for (let i = 0; i < 3; i++) {
      const { x } = small.sample(8, rng);
      expect(x.shape).toEqual([8, 32, 32, 3]);
      const v = x.dataSync();
      expect(Math.min(...v)).toBeGreaterThanOrEqual(-1);
      expect(Math.max(...v)).toBeLessThanOrEqual(1);
      x.dispose();
      const all = small.all();
      expect(all.x.shape).toEqual([50, 32, 32, 3]);
      expect(all.labels).toEqual(Array.from({ length: 50 }, (_, j) => small.label(j)));
      all.x.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('options are strict with one-line errors; the plugin is faces', () => {
    expect(new FacesDataset().options).toEqual({ size: 10000, seed: 0, split: 'train' });
    expect(new FacesDataset().size).toBe(10000);
    expect(() => new FacesDataset({ size: 0 })).toThrow(/^faces\.size: /);
    expect(() => new FacesDataset({ split: 'val' as 'test' })).toThrow(/^faces\.split: Invalid option: expected one of "train"\|"test"$/);
    expect(() => new FacesDataset({ colour: 'red' } as object)).toThrow("faces: unknown option(s) 'colour'");
    expect(() => ds.image(720)).toThrow('faces: index must be an integer 0..719, got 720');
    const reg = new PluginRegistry().add(facesPlugin);
    expect(reg.list('dataset')[0].defaults).toEqual({ size: 10000, seed: 0, split: 'train' });
    const made = facesPlugin.create(facesPlugin.options.parse({ size: 10 }), undefined as never);
    expect(made.size).toBe(10);
  });

  it('an 8x8 grid of faces encodes to a PNG of the right size (DIFFLAB_WRITE_DOCS=1 rewrites docs/images/faces-grid.png)', () => {
    const png = facesGridPng();
    const decoded = decodePng(png);
    expect(decoded.width).toBe(8 * 96 + 9 * 4);
    expect(decoded.height).toBe(8 * 96 + 9 * 4);
    const dir = mkdtempSync(join(tmpdir(), 'faces-'));
    try {
      writeFileSync(join(dir, 'grid.png'), png);
      expect(decodePng(readFileSync(join(dir, 'grid.png'))).width).toBe(decoded.width);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const docs = fileURLToPath(new URL('../../../docs/images/faces-grid.png', import.meta.url));
    if (process.env.DIFFLAB_WRITE_DOCS === '1') {
      mkdirSync(dirname(docs), { recursive: true });
      writeFileSync(docs, png);
    }
    // the committed picture is what the code draws (a byte of slack for libm differences)
    const committed = decodePng(readFileSync(docs), docs);
    expect([committed.width, committed.height]).toEqual([decoded.width, decoded.height]);
    let worst = 0;
    for (let k = 0; k < decoded.data.length; k++) worst = Math.max(worst, Math.abs(decoded.data[k] - committed.data[k]));
    expect(worst, 'docs/images/faces-grid.png is out of date: rerun with DIFFLAB_WRITE_DOCS=1').toBeLessThanOrEqual(1);
  });
});

/** The first 64 faces of the default set (seed 0, train), 3x, in an 8x8 grid. */
function facesGridPng(): Uint8Array {
  const set = new FacesDataset({ size: 64 });
  const { x } = set.all();
  const raster = imageGrid(x.dataSync(), { h: 32, w: 32, c: 3, cols: 8, scale: 3, padding: 4, range: [-1, 1] });
  x.dispose();
  return encodePng(raster);
}

// Thresholds at about half of what the default drawing gives (seed 1, 720 faces: 2 white pixels
// at least per open-eyed face, eye band +0.12 with open eyes behind glasses, -0.49 with glasses,
// smile +1.2 / frown -1.1 px, open mouth +0.49, brows +0.27; analytic AA error 0.0045 vs 0.034
// for point sampling).
const OPEN_MIN_WHITES = 2;
const EYES_GLASSES_DIFF = 0.06;
const GLASSES_DIFF = 0.3;
const CURVE_DIFF = 0.6;
const MOUTH_DIFF = 0.3;
const BROW_DIFF = 0.15;
const AA_ERROR = 0.01;
