import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { startBackend } from './start-backend.js';
import { SWIFTSHADER_SKIP_REASON as SKIP_REASON, hasSwiftShader, lcgValues as values } from './testing/swiftshader.js';
import { DISPATCH_CACHE_LIMITS, dispatchCacheStats, layoutUniforms, setDispatchCacheLimits } from './webgpu-dispatch.js';



afterAll(async () => {
  await startBackend('wasm');
});

describe('layoutUniforms (WGSL struct layout of tfjs-webgpu uniforms)', () => {
  it('aligns scalars to 4, vec2 to 8, vec3/vec4 to 16 and pads the struct to its largest alignment', () => {
    const buf = layoutUniforms([
      { type: 'float32', data: [Number.NaN] },
      { type: 'float32', data: [Number.POSITIVE_INFINITY] },
      { type: 'int32', data: [2, 3] }, // vec2 at 8
      { type: 'int32', data: [3] }, // i32 at 16
      { type: 'int32', data: [4, 5, 6] }, // vec3 at 32
      { type: 'int32', data: [] }, // empty -> one 1, at 44
    ]);
    expect(buf.byteLength).toBe(48);
    const i = new Int32Array(buf);
    const f = new Float32Array(buf);
    expect(Number.isNaN(f[0])).toBe(true);
    expect(f[1]).toBe(Number.POSITIVE_INFINITY);
    expect([i[2], i[3], i[4], i[8], i[9], i[10], i[11]]).toEqual([2, 3, 3, 4, 5, 6, 1]);
  });

  it('puts the field after a vec5 / vec6 on a 16-byte boundary, and refuses 7 values', () => {
    const buf = layoutUniforms([
      { type: 'int32', data: [1, 2, 3, 4, 5] }, // vec5 (a struct of 5 i32) at 0
      { type: 'int32', data: [7] }, // at 32, not 20
      { type: 'uint32', data: [1, 2, 3, 4, 5, 6] }, // vec6 at 48
      { type: 'float32', data: [0.5] }, // at 80
    ]);
    const i = new Int32Array(buf);
    expect(i[8]).toBe(7);
    expect(Array.from(i.slice(12, 18))).toEqual([1, 2, 3, 4, 5, 6]);
    expect(new Float32Array(buf)[20]).toBe(0.5);
    expect(buf.byteLength).toBe(96);
    expect(() => layoutUniforms([{ type: 'int32', data: [1, 2, 3, 4, 5, 6, 7] }])).toThrow(/at most 6/);
  });
});

describe('cached dispatch on webgpu (Dawn + SwiftShader)', () => {
  /** Ranks 1-6 (vec5/vec6 uniforms), broadcasting, matmul, conv, reductions and a programs' own uniforms. */
  const work = (a: tf.Tensor, img: tf.Tensor4D, k: tf.Tensor4D, lo: number) =>
    tf.tidy(() => {
      const x5 = tf.transpose(tf.reshape(a, [2, 3, 4, 5, 6]), [4, 2, 0, 3, 1]);
      const x6 = tf.transpose(tf.reshape(a, [2, 3, 2, 2, 5, 6]), [5, 1, 3, 0, 4, 2]);
      const m = tf.matMul(tf.reshape(a, [40, 18]), tf.reshape(a, [18, 40]));
      const c = tf.conv2d(img, k, 1, 'same');
      const b = tf.add(tf.reshape(a, [30, 24]), tf.range(0, 24));
      const clip = tf.clipByValue(a, lo, lo + 0.5);
      const flat = (t: tf.Tensor) => tf.reshape(t, [-1]);
      return tf.concat([flat(x5), flat(x6), flat(m), flat(c), tf.sum(b, 0), flat(clip)]);
    });

  async function compute(backend: 'cpu' | 'webgpu', lo: number[]): Promise<number[][]> {
    await startBackend(backend);
    const a = tf.tensor1d(values(720, 3));
    const img = tf.tensor4d(values(2 * 8 * 8 * 3, 5), [2, 8, 8, 3]);
    const k = tf.tensor4d(values(3 * 3 * 3 * 4, 9), [3, 3, 3, 4]);
    const out: number[][] = [];
    const before = tf.memory().numTensors;
    for (const l of lo) {
      const r = work(a, img, k, l);
      out.push(Array.from(await r.data()));
      r.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([a, img, k]);
    return out;
  }

  it('gives cpu results, and a repeated workload reuses its bind groups and uniform buffers', async (ctx) => {
    ctx.skip(!hasSwiftShader, SKIP_REASON);
    const lo = [-0.2, -0.2, -0.2];
    const want = await compute('cpu', lo);
    await startBackend('webgpu');
    const backend = tf.engine().registry.webgpu;
    const s0 = dispatchCacheStats(backend)!;
    expect(s0).toBeDefined();
    const got = await compute('webgpu', lo);
    const s1 = dispatchCacheStats(backend)!;
    for (let r = 0; r < lo.length; r++) {
      const err = got[r].reduce((m, v, i) => Math.max(m, Math.abs(v - want[r][i])), 0);
      expect(err).toBeLessThan(1e-4);
    }
    const dispatched = s1.dispatches - s0.dispatches;
    expect(dispatched).toBeGreaterThan(20);
    // The second and third passes find the first pass's uniform buffers (same shapes, same bounds).
    expect(s1.uniformHits - s0.uniformHits).toBeGreaterThan(dispatched / 2);
    expect(s1.bindGroupHits - s0.bindGroupHits).toBeGreaterThan(0);
    // Each pass is one outermost tidy: what it recorded is submitted when it ends.
    expect(s1.tidySubmits - s0.tidySubmits).toBe(lo.length);
  });

  it('a repeated workload finds its buffers again: no new bind group after the first passes', async (ctx) => {
    ctx.skip(!hasSwiftShader, SKIP_REASON);
    await startBackend('webgpu');
    const backend = tf.engine().registry.webgpu;
    const a = tf.tensor1d(values(720, 3));
    const img = tf.tensor4d(values(2 * 8 * 8 * 3, 5), [2, 8, 8, 3]);
    const k = tf.tensor4d(values(3 * 3 * 3 * 4, 9), [3, 3, 3, 4]);
    // Keep some results alive across passes, freed in a shifting order, as training keeps losses.
    const kept: tf.Tensor[] = [];
    const misses: number[] = [];
    for (let pass = 0; pass < 8; pass++) {
      const s0 = dispatchCacheStats(backend)!;
      kept.push(work(a, img, k, -0.2));
      if (kept.length > 2) kept.splice(pass % 2, 1)[0].dispose();
      await kept[kept.length - 1].data();
      misses.push(dispatchCacheStats(backend)!.bindGroupMisses - s0.bindGroupMisses);
    }
    tf.dispose([a, img, k, ...kept]);
    expect(misses.slice(4)).toEqual([0, 0, 0, 0]);
  });

  it('stays correct through cache resets (limits of 4 entries, new clip bounds every pass)', async (ctx) => {
    ctx.skip(!hasSwiftShader, SKIP_REASON);
    // 8 passes: enough programs for more than 10 resets of the 4-entry caches (a leading-axes Sum is one program)
    const lo = [-0.9, -0.5, -0.1, 0.3, -0.9, -0.7, 0.1, -0.3];
    const want = await compute('cpu', lo);
    await startBackend('webgpu');
    const backend = tf.engine().registry.webgpu;
    expect(setDispatchCacheLimits(backend, { bindGroups: 4, uniforms: 4 })).toBe(true);
    try {
      const s0 = dispatchCacheStats(backend)!;
      const got = await compute('webgpu', lo);
      const s1 = dispatchCacheStats(backend)!;
      expect(s1.resets - s0.resets).toBeGreaterThan(10);
      for (let r = 0; r < lo.length; r++) {
        const err = got[r].reduce((m, v, i) => Math.max(m, Math.abs(v - want[r][i])), 0);
        expect(err).toBeLessThan(1e-4);
      }
    } finally {
      setDispatchCacheLimits(backend, DISPATCH_CACHE_LIMITS);
    }
  });

  it("multi-output programs also run through tfjs' own recordAndSubmit (tf.profile's path) with the same values", async (ctx) => {
    ctx.skip(!hasSwiftShader, SKIP_REASON);
    await startBackend('webgpu');
    const backend = tf.engine().registry.webgpu;
    const x = tf.tensor3d(values(2 * 30 * 8, 21), [2, 30, 8]);
    const gamma = tf.tensor1d(values(8, 22));
    const beta = tf.tensor1d(values(8, 23));
    const run = () => tf.engine().runKernel('DifflabGroupNorm', { x, gamma, beta }, { groups: 2, eps: 1e-5 }) as unknown as tf.Tensor[];
    const cached = run();
    const want = await Promise.all(cached.map((t) => t.data()));
    const s0 = dispatchCacheStats(backend)!;
    const info = await tf.profile(() => run());
    const profiled = info.result as tf.Tensor[];
    const got = await Promise.all(profiled.map((t) => t.data()));
    // timed programs take tfjs' path (counted as fallbacks of the cached one), one program for both outputs
    expect(dispatchCacheStats(backend)!.fallbacks - s0.fallbacks).toBe(1);
    expect(info.kernels.map((k) => k.name)).toEqual(['DifflabGroupNorm']);
    expect(got.map((a) => Array.from(a))).toEqual(want.map((a) => Array.from(a)));
    tf.dispose([x, gamma, beta, ...cached, ...profiled]);
  });

  it('a webgpuDispatch value other than cached or tfjs is refused, naming the option', async (ctx) => {
    ctx.skip(!hasSwiftShader, SKIP_REASON);
    const err = await startBackend('webgpu', { webgpuDispatch: 'fast' as 'tfjs' }).catch((e) => e);
    expect((err as Error).message).toMatch(/webgpuDispatch/);
  });

  it('submits every 32 programs by default; webgpuSubmitBatch sets it, 0 is refused naming the option', async (ctx) => {
    ctx.skip(!hasSwiftShader, SKIP_REASON);
    await startBackend('webgpu');
    expect(tf.env().getNumber('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE')).toBe(32);
    await startBackend('webgpu', { webgpuSubmitBatch: 15 });
    expect(tf.env().getNumber('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE')).toBe(15);
    const err = await startBackend('webgpu', { webgpuSubmitBatch: 0 }).catch((e) => e);
    expect((err as Error).message).toMatch(/webgpuSubmitBatch/);
    await startBackend('webgpu');
  });
});
