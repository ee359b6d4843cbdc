import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { startBackend } from './start-backend.js';
import { hasSwiftShader, SWIFTSHADER_SKIP_REASON } from './testing/swiftshader.js';
import { probeVulkan, SWIFTSHADER_ICD, VULKAN_DRIVER_VARS } from './vulkan.js';

/*
 * A driver manifest whose library does not load (what a bare GPU machine without the glvnd
 * libraries shows for NVIDIA's manifest) must not stop WebGPU when SwiftShader is at hand:
 * startBackend retries with SwiftShader and says so in its notes. Own file: Dawn is created once
 * per process, and this test needs to be the first to create it.
 */
const explicit = VULKAN_DRIVER_VARS.filter((v) => process.env[v]);
const dir = mkdtempSync(join(tmpdir(), 'difflab-vk-'));
const saved = process.env.XDG_DATA_DIRS;

afterAll(async () => {
  if (saved === undefined) delete process.env.XDG_DATA_DIRS;
  else process.env.XDG_DATA_DIRS = saved;
  rmSync(dir, { recursive: true, force: true });
  await startBackend('wasm');
  expect(tf.getBackend()).toBe('wasm');
});

describe('webgpu in Node with a broken installed Vulkan driver', () => {
  it('falls back to SwiftShader and reports it', async (ctx) => {
    ctx.skip(!hasSwiftShader, SWIFTSHADER_SKIP_REASON);
    ctx.skip(explicit.length > 0, `${explicit.join(', ')} set: the user's Vulkan choice is left alone`);
    const realDrivers = (await probeVulkan()).systemIcds.length > 0;
    mkdirSync(join(dir, 'vulkan', 'icd.d'), { recursive: true });
    writeFileSync(
      join(dir, 'vulkan', 'icd.d', 'broken_icd.json'),
      JSON.stringify({ file_format_version: '1.0.0', ICD: { library_path: '/nonexistent/libdifflab_broken_icd.so', api_version: '1.3.0' } }),
    );
    process.env.XDG_DATA_DIRS = [dir, saved || '/usr/local/share:/usr/share'].join(':');
    const r = await startBackend('webgpu');
    expect(r.backend).toBe('webgpu');
    expect(r.notes.some((n) => n.startsWith('vulkan: system drivers ') && n.includes('broken_icd.json'))).toBe(true);
    if (realDrivers) return; // a working driver next to the broken one: no fallback needed
    expect(r.notes).toContain(`vulkan: the installed driver(s) gave no adapter; using SwiftShader via VK_ICD_FILENAMES=${SWIFTSHADER_ICD}`);
    expect(r.adapter).toMatch(/swiftshader/i);
    const y = tf.tidy(() => tf.matMul(tf.tensor2d([[1, 2]]), tf.tensor2d([[3], [4]])));
    expect(Array.from(await y.data())).toEqual([11]);
    y.dispose();
  });
});
