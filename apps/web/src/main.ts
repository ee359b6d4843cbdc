/**
 * The lab page (main thread): controls and canvases; everything TensorFlow.js runs in the lab
 * worker (worker.ts). User text is only ever set as textContent.
 */
import { DATA_COLOR, encodeGif, imageGrid as gridRaster, linePlot, type Raster, SAMPLE_COLOR, scatterPlot, toImageData } from '@difflab/viz';
import { lossCurve, scatter } from './plot.js';
import type { FromWorker, ToWorker } from './protocol.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const badge = $<HTMLSpanElement>('badge');
const status = $<HTMLSpanElement>('status');
const backendSel = $<HTMLSelectElement>('backend');
const presetSel = $<HTMLSelectElement>('preset');
const datasetSel = $<HTMLSelectElement>('dataset');
const samplerSel = $<HTMLSelectElement>('sampler');
const stepsIn = $<HTMLInputElement>('steps');
const scheduleSel = $<HTMLSelectElement>('schedule');
const tIn = $<HTMLInputElement>('T');
const embeddingSel = $<HTMLSelectElement>('embedding');
const hiddenIn = $<HTMLInputElement>('hidden');
const tSlider = $<HTMLInputElement>('t');
const tOut = $<HTMLOutputElement>('tval');
const trainBtn = $<HTMLButtonElement>('train');
const sampleBtn = $<HTMLButtonElement>('sample');
const progress = $<HTMLOutputElement>('progress');
const metric = $<HTMLOutputElement>('metric');

const params = new URLSearchParams(location.search);
const requested = (params.get('backend') ?? 'auto') as 'auto' | 'webgpu' | 'wasm';
backendSel.value = ['auto', 'webgpu', 'wasm'].includes(requested) ? requested : 'auto';
if (params.get('steps')) stepsIn.value = String(Number(params.get('steps')) || 2000);
/** Points per sampling run (?n=, default 2,000). */
const sampleN = Math.max(10, Math.min(100_000, Number(params.get('n')) || 2000));

let worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
let data: Float32Array = new Float32Array();
let abar: Float64Array = new Float64Array([1]);
let losses: number[] = [];
/** Fixed noise for the forward-process view, so the slider moves the same points. */
let eps: Float32Array = new Float32Array();

function send(m: ToWorker): void {
  worker.postMessage(m);
}

function setOptions(sel: HTMLSelectElement, ids: string[], value: string): void {
  sel.replaceChildren(
    ...ids.map((id) => {
      const o = document.createElement('option');
      o.value = id;
      o.textContent = id;
      return o;
    }),
  );
  sel.value = value;
}

/** Box-Muller normals from a small LCG (the view needs the same noise every time). */
function normals(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const u = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 0.5) / 2 ** 32;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(u()));
    const th = 2 * Math.PI * u();
    out[i] = r * Math.cos(th);
    if (i + 1 < n) out[i + 1] = r * Math.sin(th);
  }
  return out;
}

/** q(x_t | x_0): x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps, on up to 2,000 data points. */
function drawForward(): void {
  const t = Number(tSlider.value);
  tOut.textContent = String(t);
  const a = abar[Math.min(t, abar.length - 1)] ?? 1;
  const n = Math.min(data.length, 4000);
  const xt = new Float32Array(n);
  for (let i = 0; i < n; i++) xt[i] = Math.sqrt(a) * data[i] + Math.sqrt(1 - a) * eps[i];
  scatter($('forward'), [{ xy: xt, color: 'rgba(31,119,180,0.6)' }]);
}

function setUnlessFocused(el: HTMLInputElement, value: string): void {
  if (document.activeElement !== el) el.value = value;
}

/** Number of the latest init sent: a 'ready' for an older one is stale (settings changed since). */
let initSeq = 0;

function init(): void {
  trainBtn.disabled = true;
  sampleBtn.disabled = true;
  status.textContent = 'starting…';
  initSeq += 1;
  send({
    type: 'init',
    seq: initSeq,
    backend: backendSel.value as 'auto' | 'webgpu' | 'wasm',
    preset: presetSel.value || 'spiral-default',
    dataset: datasetSel.value || undefined,
    sampler: samplerSel.value || undefined,
    steps: Number(stepsIn.value) || 2000,
    schedule: scheduleSel.value || undefined,
    T: Number(tIn.value) || undefined,
    embedding: embeddingSel.value || undefined,
    hidden: Number(hiddenIn.value) || undefined,
  });
}

worker.onmessage = (ev: MessageEvent<FromWorker>) => onMessage(ev.data);

function onMessage(m: FromWorker): void {
  switch (m.type) {
    case 'ready':
      if (m.seq !== initSeq) break;
      status.dataset.ready = String(m.seq);
      badge.textContent = m.adapter ? `${m.backend}: ${m.adapter}` : m.backend;
      badge.dataset.backend = m.backend;
      setOptions(presetSel, m.menus.presets, m.config.preset);
      setOptions(datasetSel, m.menus.datasets, m.config.dataset);
      setOptions(samplerSel, m.menus.samplers, m.config.sampler);
      setOptions(scheduleSel, m.menus.schedules, m.config.schedule);
      setOptions(embeddingSel, m.menus.embeddings, m.config.embedding);
      setUnlessFocused(tIn, String(m.config.T));
      setUnlessFocused(hiddenIn, String(m.config.hidden));
      // (a field the user is typing in keeps what they typed: its change event sends a new init)
      setUnlessFocused(stepsIn, String(m.config.steps));
      data = m.data;
      abar = m.alphasCumprod;
      eps = normals(data.length, 7);
      tSlider.max = String(m.config.T - 1);
      losses = [];
      lossCurve($('loss'), losses);
      scatter($('samples'), [{ xy: data.subarray(0, 4000), color: 'rgba(31,119,180,0.35)' }]);
      drawForward();
      status.textContent = m.notes.filter((n) => /software|fallback/i.test(n)).join('; ');
      trainBtn.disabled = false;
      sampleBtn.disabled = false;
      ablateBtn.disabled = false;
      slots = m.slots;
      fillAblationValues();
      break;
    case 'progress':
      losses.push(m.loss);
      lossCurve($('loss'), losses);
      progress.textContent = `step ${m.step}/${m.steps}, loss ${m.loss.toFixed(4)}, ${m.stepsPerSec.toFixed(0)} steps/s, ETA ${Math.ceil(m.etaSec)} s`;
      progress.dataset.step = String(m.step);
      break;
    case 'trained':
      losses = m.losses;
      lossCurve($('loss'), losses);
      progress.textContent = `trained ${m.losses.length} steps in ${m.seconds.toFixed(1)} s`;
      progress.dataset.done = 'true';
      {
        const k = Math.max(1, Math.min(20, Math.floor(m.losses.length / 4)));
        progress.dataset.firstLoss = String(mean(m.losses.slice(0, k)));
        progress.dataset.lastLoss = String(mean(m.losses.slice(-k)));
      }
      trainBtn.disabled = false;
      sampleBtn.disabled = false;
      exportWeightsBtn.disabled = false;
      break;
    case 'sampled':
      scatter($('samples'), [
        { xy: data.subarray(0, 4000), color: 'rgba(31,119,180,0.35)' },
        { xy: m.points, color: 'rgba(255,127,14,0.7)' },
      ]);
      metric.textContent = `${m.metric.name} ${m.metric.value.toFixed(4)} (data floor ${m.metric.floor.toFixed(4)}), ${m.seconds.toFixed(1)} s`;
      metric.dataset.value = String(m.metric.value);
      trace = m.trace;
      scrub.max = String(trace.t.length); // the last position shows the final x_0
      scrub.value = scrub.max;
      scrub.disabled = false;
      traceGif.disabled = false;
      drawTrace();
      trainBtn.disabled = false;
      sampleBtn.disabled = false;
      break;
    case 'error':
      status.textContent = `error: ${m.message}`;
      status.dataset.error = m.message;
      trainBtn.disabled = false;
      sampleBtn.disabled = false;
      generateBtn.disabled = !imagesReady;
      ablateBtn.disabled = false;
      break;
    case 'ablate-progress':
      ablLosses[m.variant] = ablLosses[m.variant] ?? [];
      ablLosses[m.variant].push(m.loss);
      ablProgress.textContent = `${m.variant === 0 ? 'A' : 'B'}: step ${m.step}/${m.steps}, loss ${m.loss.toFixed(4)}`;
      drawAblationLoss();
      break;
    case 'ablate-variant': {
      ablLosses[m.variant] = m.losses;
      drawAblationLoss();
      const side = m.variant === 0 ? 'a' : 'b';
      const r = scatterPlot(
        [
          { points: m.data.subarray(0, 8000), color: DATA_COLOR, alpha: 0.2 },
          { points: m.points, color: SAMPLE_COLOR, alpha: 0.5 },
        ],
        { width: 280, height: 280, xlim: [-2.5, 2.5], ylim: [-2.5, 2.5], aspect: 'equal', pointSize: 1, title: `${ablSlotName()}=${m.value}`, titleScale: 1 },
      );
      putRaster($(`abl-${side}-samples`), r);
      const out = $(`abl-${side}-metric`);
      out.textContent = `${m.metric.name} ${m.metric.value.toFixed(4)} (floor ${m.metric.floor.toFixed(4)}), trained in ${m.trainSeconds.toFixed(1)} s, final loss ${m.losses[m.losses.length - 1]?.toFixed(4)}`;
      out.dataset.value = String(m.metric.value);
      if (m.variant === 1) {
        ablProgress.textContent = 'done';
        ablProgress.dataset.done = 'true';
        ablateBtn.disabled = false;
      }
      break;
    }
    case 'images-ready':
      imagesReady = true;
      imgShape = m.shape;
      setOptions(imgModelSel, m.models, m.model);
      setOptions(imgSamplerSel, m.samplers, m.sampler);
      imgStepsIn.value = String(m.steps);
      examples.replaceChildren(
        ...m.examples.map((e) => {
          const o = document.createElement('option');
          o.value = e;
          return o;
        }),
      );
      if (resetPrompt && m.examples.length) promptIn.value = m.examples[0];
      resetPrompt = false;
      imgStatus.textContent = `${m.model} loaded`;
      imgStatus.dataset.model = m.model;
      generateBtn.disabled = false;
      checkPrompt();
      break;
    case 'images-words':
      if (m.prompt === promptIn.value) showUnknown(m.unknown);
      break;
    case 'images-step':
      onImagesStep(m);
      break;
    case 'images-done':
      strip.push(m.images.slice(0, imgSize()));
      imgFrames.push(m.images.slice());
      stepsGif.disabled = false;
      drawStrip();
      imgStatus.textContent = `done: ${imgN} images for the prompt and ${imgN} for the empty prompt in ${m.seconds.toFixed(1)} s`;
      imgStatus.dataset.done = 'true';
      showUnknown(m.unknown);
      generateBtn.disabled = false;
      break;
    case 'exported':
      if (m.what === 'config') download('config.json', new Blob([m.json], { type: 'application/json' }));
      else {
        download('model.json', new Blob([m.modelJson], { type: 'application/json' }));
        download('weights.bin', new Blob([m.weightsBin as BlobPart], { type: 'application/octet-stream' }));
      }
      io.textContent = `exported ${m.what}`;
      break;
    case 'imported':
      io.textContent = `imported ${m.tensors} weight tensors: sample to see them`;
      io.dataset.imported = String(m.tensors);
      trainBtn.disabled = false;
      sampleBtn.disabled = false;
      exportWeightsBtn.disabled = false;
      break;
  }
}

// ---- Step scrubber (task 8) ---------------------------------------------------------------

const scrub = $<HTMLInputElement>('scrub');
const traceGif = $<HTMLButtonElement>('trace-gif');
let trace: Extract<FromWorker, { type: 'sampled' }>['trace'] | null = null;

/**
 * Position i < steps: the x_t entering step i and the model's x_0 prediction there; i = steps:
 * the final sample. Drawn with @difflab/viz, the same figures as the CLI's trace.
 */
function traceFrame(i: number): Raster {
  const tr = trace!;
  const steps = tr.t.length;
  const size = tr.xt.length / steps;
  const lim: [number, number] = [-2.5, 2.5];
  const opts = { width: 360, height: 360, xlim: lim, ylim: lim, aspect: 'equal' as const, pointSize: 1, alpha: 0.5 };
  const bg = { points: data.subarray(0, Math.min(data.length, 4000)), color: DATA_COLOR, alpha: 0.15, label: 'data q(x0)' };
  if (i >= steps) {
    return scatterPlot([bg, { points: tr.x0.subarray((steps - 1) * size, steps * size), color: SAMPLE_COLOR, label: 'x0' }], { ...opts, title: `after ${steps} steps: x0`, legend: 'upper-right' });
  }
  return scatterPlot(
    [bg, { points: tr.xt.subarray(i * size, (i + 1) * size), color: '#777', label: `x_t` }, { points: tr.x0.subarray(i * size, (i + 1) * size), color: SAMPLE_COLOR, label: 'predicted x0' }],
    { ...opts, title: `step ${i + 1}/${steps}, t = ${tr.t[i]}`, legend: 'upper-right' },
  );
}

function drawTrace(): void {
  if (!trace) return;
  const i = Number(scrub.value);
  const r = traceFrame(i);
  const canvas = $<HTMLCanvasElement>('trace');
  canvas.width = r.width;
  canvas.height = r.height;
  canvas.getContext('2d')!.putImageData(toImageData(r) as ImageData, 0, 0);
  $('scrub-step').textContent = i >= trace.t.length ? `end (x_0)` : `${i + 1}/${trace.t.length} (t = ${trace.t[i]})`;
  scrub.dataset.shown = String(i);
}

scrub.addEventListener('input', drawTrace);
traceGif.addEventListener('click', () => {
  if (!trace) return;
  const frames = Array.from({ length: trace.t.length + 1 }, (_, i) => traceFrame(i));
  download('trace.gif', new Blob([encodeGif(frames, { delayMs: 120 }) as BlobPart], { type: 'image/gif' }));
});

// ---- Ablation view -----------------------------------------------------------------------

const ablSlot = $<HTMLSelectElement>('abl-slot');
const ablA = $<HTMLInputElement>('abl-a');
const ablB = $<HTMLInputElement>('abl-b');
const ablateBtn = $<HTMLButtonElement>('ablate');
const ablProgress = $<HTMLOutputElement>('abl-progress');
let slots: Record<string, string[]> = {};
let ablLosses: number[][] = [];
const ablSlotName = () => ablSlot.value;

function putRaster(canvas: HTMLCanvasElement, r: Raster): void {
  canvas.width = r.width;
  canvas.height = r.height;
  canvas.getContext('2d')!.putImageData(toImageData(r) as ImageData, 0, 0);
}

function fillAblationValues(): void {
  const list = $<HTMLDataListElement>('abl-values');
  list.replaceChildren(
    ...(slots[ablSlot.value] ?? []).map((v) => {
      const o = document.createElement('option');
      o.value = v;
      return o;
    }),
  );
}

function drawAblationLoss(): void {
  const series = ablLosses.map((l, k) => ({ y: l.map((v) => Math.max(v, 1e-8)), label: k === 0 ? `A ${ablA.value}` : `B ${ablB.value}` })).filter((s) => s.y.length > 1);
  if (series.length) putRaster($('abl-loss'), linePlot(series, { width: 360, height: 280, logY: true, title: 'training loss', xlabel: 'step', titleScale: 1 }));
}

ablSlot.addEventListener('change', () => {
  fillAblationValues();
  const ids = slots[ablSlot.value] ?? [];
  ablA.value = ids[0] ?? '';
  ablB.value = ids[1] ?? '';
});
ablateBtn.addEventListener('click', () => {
  ablateBtn.disabled = true;
  ablLosses = [];
  delete ablProgress.dataset.done;
  // The values are the user's text: shown only as text (textContent), validated by the worker.
  $('abl-a-name').textContent = `${ablSlot.value}=${ablA.value}`;
  $('abl-b-name').textContent = `${ablSlot.value}=${ablB.value}`;
  ablProgress.textContent = 'starting…';
  send({ type: 'ablate', slot: ablSlot.value, values: [ablA.value.trim(), ablB.value.trim()], n: sampleN });
});

// ---- Images tab --------------------------------------------------------------------------

const imgModelSel = $<HTMLSelectElement>('img-model');
const imgSamplerSel = $<HTMLSelectElement>('img-sampler');
const imgStepsIn = $<HTMLInputElement>('img-steps');
const promptIn = $<HTMLInputElement>('prompt');
const guidanceIn = $<HTMLInputElement>('guidance');
const generateBtn = $<HTMLButtonElement>('generate');
const unknownOut = $<HTMLOutputElement>('unknown');
const imgStatus = $<HTMLOutputElement>('img-status');
const examples = $<HTMLDataListElement>('prompt-examples');
const io = $<HTMLOutputElement>('io');
const exportWeightsBtn = $<HTMLButtonElement>('export-weights');
/** Images per side (?img_n=, default 4). */
const imgN = Math.max(1, Math.min(16, Number(params.get('img_n')) || 4));
let imagesReady = false;
/** After a model change: start from one of the new model's example prompts. */
let resetPrompt = false;
let imagesRequested = false;
let imgShape: number[] = [28, 28, 1];
/** The prompt's first image every few steps (then x_0): the step-by-step strip. */
let strip: Float32Array[] = [];
/** Every step's x_t of both rows (prompt, empty prompt), for steps.gif. */
let imgFrames: Float32Array[] = [];
const imgSize = () => imgShape.reduce((a, b) => a * b, 1);

function showUnknown(words: string[]): void {
  // Words come from the user's prompt: text only, never markup.
  unknownOut.textContent = words.length ? words.join(', ') : 'none';
  unknownOut.dataset.count = String(words.length);
  unknownOut.classList.toggle('warn', words.length > 0);
}

function checkPrompt(): void {
  if (imagesReady) send({ type: 'images-check', prompt: promptIn.value });
}

function onImagesStep(m: Extract<FromWorker, { type: 'images-step' }>): void {
  const size = imgSize();
  const cols = imgN;
  drawImages($('img-cond'), m.xt.subarray(0, imgN * size), imgN, cols);
  drawImages($('img-empty'), m.xt.subarray(imgN * size), imgN, cols);
  drawImages($('img-cond-x0'), m.x0.subarray(0, imgN * size), imgN, cols);
  drawImages($('img-empty-x0'), m.x0.subarray(imgN * size), imgN, cols);
  $('img-step').textContent = `${m.index + 1}/${m.total} (t = ${m.t})`;
  imgFrames.push(m.xt.slice());
  const every = Math.max(1, Math.ceil(m.total / 9));
  if (m.index % every === 0) {
    strip.push(m.xt.slice(0, size));
    drawStrip();
  }
  imgStatus.textContent = `step ${m.index + 1}/${m.total}`;
  imgStatus.dataset.step = String(m.index + 1);
}

/** Images [count, H, W, C] in [-1, 1] as a grid (@difflab/viz, as the CLI's figures and steps.gif). */
function drawImages(canvas: HTMLCanvasElement, images: Float32Array, count: number, cols: number, scale = 3): void {
  const [h, w, c] = imgShape;
  putRaster(canvas, gridRaster(images, { n: count, h, w, c, cols, scale, padding: 2, range: [-1, 1] }));
}

function drawStrip(): void {
  const size = imgSize();
  const all = new Float32Array(strip.length * size);
  strip.forEach((f, i) => {
    all.set(f, i * size);
  });
  drawImages($('img-strip'), all, strip.length, Math.max(1, strip.length), 2);
}

function generate(): void {
  generateBtn.disabled = true;
  strip = [];
  imgFrames = [];
  delete imgStatus.dataset.done;
  // The prompt is shown as typed, as text (textContent), whatever it contains.
  $('prompt-shown').textContent = promptIn.value;
  $('guidance-shown').textContent = guidanceIn.value;
  send({ type: 'images-sample', prompt: promptIn.value, guidance: Math.max(0, Number(guidanceIn.value) || 0), steps: Math.max(1, Number(imgStepsIn.value) || 50), n: imgN, sampler: imgSamplerSel.value });
}

function showTab(name: string): void {
  const stepsGif = $<HTMLButtonElement>('steps-gif');
stepsGif.addEventListener('click', () => {
  // Each frame: the prompt's images (top row) over the empty prompt's (bottom row), x_t per step, then x_0.
  const [h, w, c] = imgShape;
  const frames = imgFrames.map((f) => gridRaster(f, { n: 2 * imgN, h, w, c, cols: imgN, scale: 3, padding: 2, range: [-1, 1] }));
  download('steps.gif', new Blob([encodeGif(frames, { delayMs: 100 }) as BlobPart], { type: 'image/gif' }));
});

for (const b of document.querySelectorAll<HTMLButtonElement>('nav [data-tab]')) {
    const on = b.dataset.tab === name;
    b.setAttribute('aria-selected', String(on));
    $(b.dataset.tab!).hidden = !on;
  }
  if (name === 'images' && !imagesRequested) {
    imagesRequested = true;
    imgStatus.textContent = 'loading the model…';
    send({ type: 'images-load', model: imgModelSel.value });
  }
}

const stepsGif = $<HTMLButtonElement>('steps-gif');
stepsGif.addEventListener('click', () => {
  // Each frame: the prompt's images (top row) over the empty prompt's (bottom row), x_t per step, then x_0.
  const [h, w, c] = imgShape;
  const frames = imgFrames.map((f) => gridRaster(f, { n: 2 * imgN, h, w, c, cols: imgN, scale: 3, padding: 2, range: [-1, 1] }));
  download('steps.gif', new Blob([encodeGif(frames, { delayMs: 100 }) as BlobPart], { type: 'image/gif' }));
});

for (const b of document.querySelectorAll<HTMLButtonElement>('nav [data-tab]')) b.addEventListener('click', () => showTab(b.dataset.tab!));
promptIn.addEventListener('input', checkPrompt);
generateBtn.addEventListener('click', generate);
imgModelSel.addEventListener('change', () => {
  imagesReady = false;
  resetPrompt = true;
  delete imgStatus.dataset.model;
  generateBtn.disabled = true;
  send({ type: 'images-load', model: imgModelSel.value });
});

// ---- Export / import ---------------------------------------------------------------------

function download(name: string, blob: Blob): void {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

for (const b of document.querySelectorAll<HTMLButtonElement>('button.png')) {
  b.addEventListener('click', () => {
    $<HTMLCanvasElement>(b.dataset.canvas!).toBlob((blob) => {
      if (blob) download(b.textContent ?? 'view.png', blob);
    }, 'image/png');
  });
}
$('export-config').addEventListener('click', () => send({ type: 'export', what: 'config' }));
exportWeightsBtn.addEventListener('click', () => send({ type: 'export', what: 'weights' }));
$<HTMLInputElement>('import-weights').addEventListener('change', async (ev) => {
  const files = [...((ev.target as HTMLInputElement).files ?? [])];
  const json = files.find((f) => f.name.endsWith('.json'));
  const bin = files.find((f) => f.name.endsWith('.bin'));
  if (!json || !bin) {
    // File names are the user's: shown as text.
    io.textContent = `choose both model.json and weights.bin (got: ${files.map((f) => f.name).join(', ') || 'nothing'})`;
    return;
  }
  io.textContent = `importing ${json.name} + ${bin.name}…`;
  const weightsBin = await bin.arrayBuffer();
  worker.postMessage({ type: 'import-weights', modelJson: await json.text(), weightsBin } satisfies ToWorker, [weightsBin]);
});

const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / Math.max(1, a.length);

tSlider.addEventListener('input', drawForward);
trainBtn.addEventListener('click', () => {
  trainBtn.disabled = true;
  sampleBtn.disabled = true;
  delete progress.dataset.done;
  losses = [];
  send({ type: 'train' });
});
sampleBtn.addEventListener('click', () => {
  trainBtn.disabled = true;
  sampleBtn.disabled = true;
  metric.textContent = 'sampling…';
  send({ type: 'sample', n: sampleN });
});
for (const sel of [datasetSel, samplerSel, stepsIn, scheduleSel, tIn, embeddingSel, hiddenIn]) sel.addEventListener('change', init);
// A preset brings its own schedule, T, embedding and width.
presetSel.addEventListener('change', () => {
  for (const el of [scheduleSel, embeddingSel]) el.value = '';
  tIn.value = '';
  hiddenIn.value = '';
  init();
});
backendSel.addEventListener('change', () => {
  // A backend is chosen once per worker: start a fresh one.
  worker.terminate();
  worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
  worker.onmessage = (ev: MessageEvent<FromWorker>) => onMessage(ev.data);
  init();
});
init();
