/**
 * The lab page (main thread): controls and canvases; everything TensorFlow.js runs in the lab
 * worker (worker.ts). User text is only ever set as textContent.
 */
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

function init(): void {
  trainBtn.disabled = true;
  sampleBtn.disabled = true;
  status.textContent = 'starting…';
  send({ type: 'init', backend: backendSel.value as 'auto' | 'webgpu' | 'wasm', preset: presetSel.value || 'spiral-default', dataset: datasetSel.value || undefined, sampler: samplerSel.value || undefined, steps: Number(stepsIn.value) || 2000 });
}

worker.onmessage = (ev: MessageEvent<FromWorker>) => onMessage(ev.data);

function onMessage(m: FromWorker): void {
  switch (m.type) {
    case 'ready':
      badge.textContent = m.adapter ? `${m.backend}: ${m.adapter}` : m.backend;
      badge.dataset.backend = m.backend;
      setOptions(presetSel, m.menus.presets, m.config.preset);
      setOptions(datasetSel, m.menus.datasets, m.config.dataset);
      setOptions(samplerSel, m.menus.samplers, m.config.sampler);
      stepsIn.value = String(m.config.steps);
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
      break;
    case 'sampled':
      scatter($('samples'), [
        { xy: data.subarray(0, 4000), color: 'rgba(31,119,180,0.35)' },
        { xy: m.points, color: 'rgba(255,127,14,0.7)' },
      ]);
      metric.textContent = `${m.metric.name} ${m.metric.value.toFixed(4)} (data floor ${m.metric.floor.toFixed(4)}), ${m.seconds.toFixed(1)} s`;
      metric.dataset.value = String(m.metric.value);
      trainBtn.disabled = false;
      sampleBtn.disabled = false;
      break;
    case 'error':
      status.textContent = `error: ${m.message}`;
      trainBtn.disabled = false;
      sampleBtn.disabled = false;
      break;
  }
}

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
for (const sel of [presetSel, datasetSel, samplerSel, stepsIn]) sel.addEventListener('change', init);
backendSel.addEventListener('change', () => {
  // A backend is chosen once per worker: start a fresh one.
  worker.terminate();
  worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
  worker.onmessage = (ev: MessageEvent<FromWorker>) => onMessage(ev.data);
  init();
});
init();
