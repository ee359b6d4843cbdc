/**
 * End-to-end: the built web lab (vite build) in Debian's chromium, headless, driven by
 * playwright-core, on WebGPU (SwiftShader's software adapter with --enable-unsafe-webgpu) and
 * forced to wasm. Screenshots go to test-results/web/. Skipped, with the reason, where chromium
 * is not installed (.ci/run installs it).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runNode } from '../../../tools/vitest/spawn.js';

const CHROMIUM = '/usr/bin/chromium';
const appDir = fileURLToPath(new URL('..', import.meta.url));
const dist = join(appDir, 'dist');
const shots = join(appDir, '..', '..', 'test-results', 'web');
const hasChromium = existsSync(CHROMIUM);

const MIME: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm', '.bin': 'application/octet-stream', '.json': 'application/json', '.png': 'image/png' };

/** A static file server over dist/ (what any static host does). */
function serve(root: string): Promise<Server> {
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)).replace(/^(\.\.[/\\])+/, '');
    let file = join(root, path);
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
    if (!file.startsWith(root) || !existsSync(file)) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': MIME[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(server)));
}

let server: Server;
let browser: Browser;
let base = '';

beforeAll(async () => {
  if (!hasChromium) return;
  if (!existsSync(join(dist, 'index.html'))) execFileSync('npx', ['vite', 'build', '--logLevel', 'warn'], { cwd: appDir, stdio: 'inherit' });
  server = await serve(dist);
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--enable-unsafe-webgpu', '--no-sandbox'] });
  mkdirSync(shots, { recursive: true });
}, 300_000);

afterAll(async () => {
  await browser?.close();
  server?.close();
});

const canvasUrl = (page: Page, id: string) => page.$eval(`#${id}`, (c) => (c as HTMLCanvasElement).toDataURL());

/**
 * The lab's flow. `steps` / `n`: training steps and sampled points; WebGPU on SwiftShader inside
 * chromium runs ~1-2 s per spiral step on a 2-core machine, so that flow is shorter.
 */
async function labFlow(backend: 'webgpu' | 'wasm', steps: number, n: number): Promise<void> {
  const page = await browser.newPage({ acceptDownloads: true });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // The built site's Content Security Policy (no 'unsafe-eval') must not block anything the lab does.
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) errors.push(`CSP: ${m.text()}`);
  });
  await page.goto(`${base}?backend=${backend}&steps=${steps}&n=${n}${backend === 'webgpu' ? '&img_n=2' : ''}`);
  await page.waitForFunction(() => document.getElementById('badge')?.dataset.backend, undefined, { timeout: 120_000 });
  expect(await page.$eval('#badge', (b) => (b as HTMLElement).dataset.backend)).toBe(backend);
  const csp = await page.$eval('meta[http-equiv="Content-Security-Policy"]', (m) => m.getAttribute('content'));
  expect(csp).toContain("script-src 'self' 'wasm-unsafe-eval'");
  expect(csp).not.toMatch(/(^|\s)'unsafe-eval'/);
  expect(await page.$eval('#status', (s) => s.textContent)).not.toMatch(/^error/);

  // task 4: the t slider redraws q(x_t | x_0)
  const at0 = await canvasUrl(page, 'forward');
  await page.$eval('#t', (el) => {
    const s = el as HTMLInputElement;
    s.value = '40';
    s.dispatchEvent(new Event('input'));
  });
  expect(await page.$eval('#tval', (o) => o.textContent)).toBe('40');
  expect(await canvasUrl(page, 'forward')).not.toBe(at0);

  // training in the worker: progress shown, the loss falls (over 200 steps) or at least is finite
  await page.click('#train');
  await page.waitForFunction(() => document.getElementById('progress')?.dataset.done === 'true', undefined, { timeout: 400_000 });
  expect(await page.$eval("#progress", (p) => p.textContent)).toMatch(new RegExp(`^trained ${steps} steps in `));
  const first = Number(await page.$eval('#progress', (p) => (p as HTMLElement).dataset.firstLoss));
  const last = Number(await page.$eval('#progress', (p) => (p as HTMLElement).dataset.lastLoss));
  expect(Number.isFinite(first) && Number.isFinite(last)).toBe(true);
  if (steps >= 200) expect(last).toBeLessThan(0.8 * first);

  // sampling finishes and shows the metric
  await page.click('#sample');
  await page.waitForFunction(() => document.getElementById('metric')?.dataset.value, undefined, { timeout: 240_000 });
  const value = Number(await page.$eval('#metric', (m) => (m as HTMLElement).dataset.value));
  expect(Number.isFinite(value) && value > 0).toBe(true);
  expect(await page.$eval('#metric', (m) => m.textContent)).toMatch(/^sliced W2 \d/);

  // task 8: the step scrubber shows x_t and the predicted x_0 of every reverse step
  const T = Number(await page.$eval('#scrub', (s) => (s as HTMLInputElement).max));
  expect(T).toBe(50);
  const end = await canvasUrl(page, 'trace');
  const scrubTo = (v: number) =>
    page.$eval(
      '#scrub',
      (el, val) => {
        const s = el as HTMLInputElement;
        s.value = String(val);
        s.dispatchEvent(new Event('input'));
      },
      v,
    );
  await scrubTo(0);
  expect(await page.$eval('#scrub-step', (o) => o.textContent)).toBe('1/50 (t = 49)');
  const firstStep = await canvasUrl(page, 'trace');
  expect(firstStep).not.toBe(end);
  await scrubTo(25);
  expect(await page.$eval('#scrub-step', (o) => o.textContent)).toBe('26/50 (t = 24)');
  expect(await canvasUrl(page, 'trace')).not.toBe(firstStep);
  await page.screenshot({ path: join(shots, `spiral-${backend}.png`), fullPage: true });
  if (backend === 'wasm') {
    await exportImportFlow(page);
    await ablationFlow(page);
    await settingsFlow(page);
  }
  await imagesFlow(page, backend, backend === 'wasm' ? 10 : 2);
  expect(errors).toEqual([]);
  await page.close();
}

/** A small spiral run trained by the CLI (same preset as the page), for the import test. */
async function cliRun(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'difflab-web-cli-'));
  const bin = fileURLToPath(new URL('../../cli/bin/difflab.js', import.meta.url));
  const r = await runNode([bin, '-q', 'train', '--config', 'spiral-default', '--steps', '20', '--out', dir]);
  if (r.status !== 0) throw new Error(`difflab train failed: ${r.stderr}`);
  return dir;
}

/**
 * Export the run's config and weights (downloads; the weights as model.json + weights.bin with
 * the same tensor names as a CLI run's), then import weights trained by the CLI and sample them.
 */
async function exportImportFlow(page: Page): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'difflab-web-dl-'));
  const files: Record<string, string> = {};
  const pending: Promise<void>[] = [];
  page.on('download', (d) => {
    const p = join(dir, d.suggestedFilename());
    pending.push(d.saveAs(p).then(() => void (files[d.suggestedFilename()] = p)));
  });
  const until = async (names: string[]) => {
    const t0 = Date.now();
    while (!names.every((n) => files[n]) && Date.now() - t0 < 60_000) {
      await page.waitForTimeout(200);
      await Promise.all(pending);
    }
    for (const n of names) expect(files[n], n).toBeTruthy();
  };
  await page.click('#trace-gif');
  await until(['trace.gif']);
  expect(readFileSync(files['trace.gif']).subarray(0, 6).toString('latin1')).toBe('GIF89a');
  await page.click('#export-config');
  await until(['config.json']);
  expect(JSON.parse(readFileSync(files['config.json'], 'utf8')).name).toBe('spiral-default');
  await page.click('#export-weights');
  await until(['model.json', 'weights.bin']);
  const names = (path: string) => (JSON.parse(readFileSync(path, 'utf8')).weightsManifest[0].weights as { name: string }[]).map((e) => e.name).sort();
  const run = await cliRun();
  expect(names(files['model.json'])).toEqual(names(join(run, 'model.json')));
  await page.setInputFiles('#import-weights', [join(run, 'model.json'), join(run, 'weights.bin')]);
  await page.waitForFunction(() => document.getElementById('io')?.dataset.imported, undefined, { timeout: 60_000 });
  expect(Number(await page.$eval('#io', (o) => (o as HTMLElement).dataset.imported))).toBe(names(join(run, 'model.json')).length);
  // sampling now uses the imported (20-step) weights: a finite metric, different from before
  const before = await page.$eval('#metric', (m) => (m as HTMLElement).dataset.value);
  await page.click('#sample');
  await page.waitForFunction((b) => { const v = document.getElementById('metric')?.dataset.value; return v && v !== b; }, before, { timeout: 240_000 });
  expect(Number.isFinite(Number(await page.$eval('#metric', (m) => (m as HTMLElement).dataset.value)))).toBe(true);
}

/** The spiral settings from the registry: schedule and T rebuild the job (the t slider follows). */
async function settingsFlow(page: Page): Promise<void> {
  // two quick changes: the answer to the first must not overwrite the second (stale 'ready')
  await page.selectOption('#schedule', 'cosine');
  await page.fill('#T', '40');
  await page.$eval('#T', (el) => el.dispatchEvent(new Event('change')));
  await page.waitForFunction(() => (document.getElementById('t') as HTMLInputElement).max === '39', undefined, { timeout: 60_000 });
  expect(await page.$eval('#T', (t) => (t as HTMLInputElement).value)).toBe('40');
  expect(await page.$eval('#schedule', (s) => (s as HTMLSelectElement).value)).toBe('cosine');
  await page.selectOption('#embedding', 'zero');
  await page.waitForFunction(() => !(document.getElementById('train') as HTMLButtonElement).disabled, undefined, { timeout: 60_000 });
  expect(await page.$eval('#embedding', (s) => (s as HTMLSelectElement).value)).toBe('zero');
}

/**
 * The ablation view: timestep embedding sinusoidal vs zero, both trained (same seed and steps),
 * sampled and measured side by side; an unknown plugin id is a one-line error that lists the ids.
 */
async function ablationFlow(page: Page): Promise<void> {
  await page.selectOption('#abl-slot', 'timestepEmbedding');
  await page.fill('#abl-a', 'sinusoidal');
  await page.fill('#abl-b', 'nope');
  await page.click('#ablate');
  await page.waitForFunction(() => document.getElementById('status')?.dataset.error, undefined, { timeout: 60_000 });
  expect(await page.$eval('#status', (s) => s.textContent)).toMatch(/^error: timestepEmbedding\.id: unknown timestep-embedding 'nope'; available: .*sinusoidal/);
  await page.$eval('#status', (s) => {
    (s as HTMLElement).textContent = '';
    delete (s as HTMLElement).dataset.error;
  });
  await page.fill('#abl-b', 'zero');
  await page.click('#ablate');
  await page.waitForFunction(() => document.getElementById('abl-progress')?.dataset.done === 'true' || document.getElementById('status')?.dataset.error, undefined, { timeout: 300_000 });
  expect(await page.$eval('#status', (s) => s.textContent)).toBe('');
  const a = Number(await page.$eval('#abl-a-metric', (o) => (o as HTMLElement).dataset.value));
  const b = Number(await page.$eval('#abl-b-metric', (o) => (o as HTMLElement).dataset.value));
  expect(Number.isFinite(a) && Number.isFinite(b)).toBe(true);
  expect(a).not.toBe(b);
  expect(await page.$eval('#abl-b-name', (o) => o.textContent)).toBe('timestepEmbedding=zero');
  await page.screenshot({ path: join(shots, 'ablation-wasm.png'), fullPage: true });
}

/**
 * The images tab: the shipped mnist-text model, a prompt with markup in it (shown as text, its
 * unknown words flagged, no element created, no script run), sampled beside the empty prompt.
 */
async function imagesFlow(page: Page, backend: string, steps: number): Promise<void> {
  const dialogs: string[] = [];
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  await page.click('#tab-images');
  expect(await page.$eval('#spiral', (s) => (s as HTMLElement).hidden)).toBe(true);
  await page.waitForFunction(() => !(document.getElementById('generate') as HTMLButtonElement).disabled, undefined, { timeout: 120_000 });
  const prompt = '<img src=x onerror=alert(1)> a handwritten 7';
  await page.fill('#prompt', prompt);
  await page.waitForFunction(() => document.getElementById('unknown')?.dataset.count === '5', undefined, { timeout: 30_000 });
  expect(await page.$eval('#unknown', (o) => o.textContent)).toBe('img, src, x, onerror, alert');
  await page.fill('#img-steps', String(steps));
  const blank = await canvasUrl(page, 'img-cond');
  await page.click('#generate');
  await page.waitForFunction(() => document.getElementById('img-status')?.dataset.done === 'true' || document.getElementById('status')?.dataset.error, undefined, { timeout: 600_000 });
  expect(await page.$eval('#status', (s) => s.textContent)).not.toMatch(/^error/);
  expect(await page.$eval('#img-status', (s) => (s as HTMLElement).dataset.step)).toBe(String(steps));
  expect(await page.$eval('#prompt-shown', (s) => s.textContent)).toBe(prompt);
  expect(await page.$$eval('img', (imgs) => imgs.length)).toBe(0);
  const cond = await canvasUrl(page, 'img-cond');
  expect(cond).not.toBe(blank);
  // same x_T, different condition: the prompt's images differ from the empty prompt's
  expect(cond).not.toBe(await canvasUrl(page, 'img-empty'));
  await page.screenshot({ path: join(shots, `images-${backend}.png`), fullPage: true });
  const [gif] = await Promise.all([page.waitForEvent('download'), page.click('#steps-gif')]);
  expect(gif.suggestedFilename()).toBe('steps.gif');
  const gifPath = join(mkdtempSync(join(tmpdir(), 'difflab-web-gif-')), 'steps.gif');
  await gif.saveAs(gifPath);
  const bytes = readFileSync(gifPath);
  expect(bytes.subarray(0, 6).toString('latin1')).toBe('GIF89a');
  // one image descriptor (0x2c after a graphic control block) per step plus the final x_0
  expect(bytes.toString('latin1').split('\x21\xf9\x04').length - 1).toBe(steps + 1);

  // the shipped faces model: RGB images, its own example prompts
  await page.selectOption('#img-model', 'faces-text');
  await page.waitForFunction(() => document.getElementById('img-status')?.dataset.model === 'faces-text', undefined, { timeout: 120_000 });
  const facePrompt = await page.$eval('#prompt', (p) => (p as HTMLInputElement).value);
  expect(facePrompt).toMatch(/face/);
  await page.waitForFunction(() => document.getElementById('unknown')?.dataset.count === '0', undefined, { timeout: 30_000 });
  await page.fill('#img-steps', String(steps));
  await page.click('#generate');
  await page.waitForFunction(() => document.getElementById('img-status')?.dataset.done === 'true' || document.getElementById('status')?.dataset.error, undefined, { timeout: 600_000 });
  expect(await page.$eval('#status', (s) => s.textContent)).not.toMatch(/^error/);
  expect(await page.$eval('#prompt-shown', (s) => s.textContent)).toBe(facePrompt);
  await page.screenshot({ path: join(shots, `images-faces-${backend}.png`), fullPage: true });
  expect(dialogs).toEqual([]);
}

describe('web lab in chromium (playwright-core)', () => {
  it('forced to wasm (?backend=wasm): badge, t slider, 200 training steps with a falling loss, sampling with a metric, step scrubber, export and import, ablation, settings, the images tab (markup prompt shown as text)', async (ctx) => {
    ctx.skip(!hasChromium, `no ${CHROMIUM} (install Debian's chromium package)`);
    await labFlow('wasm', 200, 2000);
  }, 600_000);

  it('on webgpu (SwiftShader): badge webgpu, t slider, 20 training steps in the worker, sampling 200 points with a metric, the images tab (2 steps)', async (ctx) => {
    ctx.skip(!hasChromium, `no ${CHROMIUM} (install Debian's chromium package)`);
    await labFlow('webgpu', 20, 200);
  }, 900_000);
});
