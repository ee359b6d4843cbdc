/**
 * End-to-end: the built web lab (vite build) in Debian's chromium, headless, driven by
 * playwright-core, on WebGPU (SwiftShader's software adapter with --enable-unsafe-webgpu) and
 * forced to wasm. Screenshots go to test-results/web/. Skipped, with the reason, where chromium
 * is not installed (.ci/run installs it).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

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
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${base}?backend=${backend}&steps=${steps}&n=${n}`);
  await page.waitForFunction(() => document.getElementById('badge')?.dataset.backend, undefined, { timeout: 120_000 });
  expect(await page.$eval('#badge', (b) => (b as HTMLElement).dataset.backend)).toBe(backend);
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
  await page.screenshot({ path: join(shots, `spiral-${backend}.png`), fullPage: true });
  expect(errors).toEqual([]);
  await page.close();
}

describe('web lab in chromium (playwright-core)', () => {
  it('spiral forced to wasm (?backend=wasm): badge, t slider, 200 training steps with a falling loss, sampling with a metric', async (ctx) => {
    ctx.skip(!hasChromium, `no ${CHROMIUM} (install Debian's chromium package)`);
    await labFlow('wasm', 200, 2000);
  }, 600_000);

  it('spiral on webgpu (SwiftShader): badge webgpu, t slider, 20 training steps in the worker, sampling 200 points with a metric', async (ctx) => {
    ctx.skip(!hasChromium, `no ${CHROMIUM} (install Debian's chromium package)`);
    await labFlow('webgpu', 20, 200);
  }, 900_000);
});
