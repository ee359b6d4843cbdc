/**
 * A cheaper dispatch path for tfjs-backend-webgpu (4.22): cached bind groups and uniform buffers.
 *
 * Measured on an H100 through Dawn in Node (tools/bench/RESULTS.md): the patch transformer's
 * training step issues ~505 programs and is bound by the host, ~120 µs per program; a V8 profile
 * put a quarter of it in `device.createBindGroup` (~27 µs a call through Dawn's Node binding),
 * with `getBindGroupLayout`, the uniform buffer's `queue.writeBuffer` and its pool bookkeeping
 * next. A training step dispatches the same programs on the same buffers step after step, so:
 *
 * - Uniform buffers are keyed by what determines their bytes (the shapes, the size, the
 *   program's own uniforms and their types) and written once: a program that runs again with the
 *   same shapes binds the buffer it had, with no write. A uniform buffer is never written after creation, so a queued command
 *   can never see other bytes than those it was recorded with.
 * - Bind groups are keyed by pipeline and the buffers bound (output, inputs, uniforms) and
 *   reused. tfjs-webgpu returns tensor buffers to its pool without destroying them (only mapped
 *   staging buffers, never bound, are destroyed, and everything at `dispose`), so a cached bind
 *   group never names a destroyed buffer; tensors on external buffers take tfjs's own path.
 * - The buffers a program gets depend on when earlier ones were freed, and tfjs-webgpu frees a
 *   buffer that queued work uses only at the next submit (every 15 programs by default). So that
 *   a step repeated finds the same buffers in the same order, what is recorded is also submitted
 *   when an outermost `tf.tidy` ends (a training or sampling step): each step then starts on a
 *   fresh command encoder. And the pool hands out, of the free buffers of a size, the one created
 *   first (tfjs-webgpu: the one freed last), so which buffer an op gets depends on which buffers
 *   are free, not on the order they were freed in: from the second step on, a step's bind groups
 *   are the last step's.
 * - Both caches are dropped whole when they pass their size limits (programs whose uniforms
 *   change every call, such as a learning rate, would otherwise grow them); the dropped uniform
 *   buffers are destroyed after the next submit (WebGPU keeps a destroyed buffer alive until the
 *   queued work that uses it has finished).
 *
 * The uniform layout is WGSL's for tfjs-webgpu's `Uniforms` struct (alignment 4/8/16 by length,
 * 16 after a vec5/vec6), as tfjs's `makeUniforms` lays it out. Timed runs (`tf.profile`, query
 * timestamps) and texture programs keep tfjs's own `recordAndSubmit`.
 */

interface UniformLike {
  type: 'float32' | 'int32' | 'uint32';
  data: number[];
}

interface ProgramLike {
  pipeline: unknown;
  pixelsOpType?: unknown;
  size?: boolean;
  outputShape: number[];
  outputComponent?: number;
  dispatch: [number, number, number];
}

interface TensorInfoLike {
  dataId: object;
  shape: number[];
}

interface PassLike {
  setPipeline(p: unknown): void;
  setBindGroup(i: number, g: unknown): void;
  dispatchWorkgroups(x: number, y?: number, z?: number): void;
}

interface PoolLike {
  freeBuffers: Map<string, object[]>;
  acquireBuffer(size: number, usage: number, mappedAtCreation?: boolean, reuse?: boolean): object;
}

interface BackendLike {
  bufferManager: PoolLike;
  recordAndSubmit(program: ProgramLike, output: TensorInfoLike, inputs: TensorInfoLike[], uniforms?: UniformLike[]): void;
  tensorMap: { get(dataId: object): { resource: unknown; external?: boolean } | undefined };
  device: {
    createBuffer(d: { size: number; usage: number; mappedAtCreation?: boolean }): { getMappedRange(): ArrayBuffer; unmap(): void; destroy(): void };
    createBindGroup(d: { layout: unknown; entries: { binding: number; resource: { buffer: unknown } }[] }): unknown;
  };
  activeTimers?: unknown;
  commandQueueOwnedIds: WeakSet<object>;
  commandEncoder: { beginComputePass(d: object): PassLike } | null;
  computePassEncoder: PassLike | null;
  dispatchCountInPass: number;
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
  dispose(): void;
}

/** Counters of the cached path (for the bench and the tests). */
export interface DispatchCacheStats {
  dispatches: number;
  fallbacks: number;
  bindGroupHits: number;
  bindGroupMisses: number;
  uniformHits: number;
  uniformMisses: number;
  resets: number;
  /** Submits made at the end of an outermost tidy. */
  tidySubmits: number;
}

const PATCHED = Symbol.for('difflab.webgpuCachedDispatch');
/** Default size limits of the two caches (entries). */
export const DISPATCH_CACHE_LIMITS = { bindGroups: 16384, uniforms: 4096 };

interface State {
  stats: DispatchCacheStats;
  ids: WeakMap<object, number>;
  nextId: number;
  uniforms: Map<string, { buffer: { destroy(): void }; id: number }>;
  bindGroups: Map<string, unknown>;
  layouts: WeakMap<object, unknown>;
  retired: { destroy(): void }[];
  limits: { bindGroups: number; uniforms: number };
}

const states = new WeakMap<object, State>();

/** The part of tfjs's engine used to find the end of an outermost tidy. */
export interface EngineLike {
  endScope(result?: unknown): void;
  state: { scopeStack: unknown[] };
  /** The active backend (the field behind tfjs's `backend` getter, which may initialise one). */
  backendInstance: unknown;
}

/** The cached path's counters on a patched backend, or undefined. */
export function dispatchCacheStats(backend: unknown): DispatchCacheStats | undefined {
  const s = backend ? states.get(backend as object) : undefined;
  return s ? { ...s.stats } : undefined;
}

/** Change the caches' size limits on a patched backend (tests use tiny ones); false if not patched. */
export function setDispatchCacheLimits(backend: unknown, limits: Partial<typeof DISPATCH_CACHE_LIMITS>): boolean {
  const s = backend ? states.get(backend as object) : undefined;
  if (!s) return false;
  Object.assign(s.limits, limits);
  return true;
}

/**
 * Install the cached dispatch path on a started tfjs-webgpu backend instance. Returns false (and
 * changes nothing) if the backend does not look like the one this was written for.
 */
export function useCachedDispatch(backend: unknown, batchSize: () => number, engine?: EngineLike): boolean {
  const b = backend as BackendLike & { [PATCHED]?: boolean };
  if (!b || typeof b.recordAndSubmit !== 'function' || !b.tensorMap || !b.device || typeof b.submitQueue !== 'function' || typeof b.ensureCommandEncoderReady !== 'function') return false;
  if (b[PATCHED]) return true;
  const usage = (globalThis as unknown as { GPUBufferUsage?: Record<string, number> }).GPUBufferUsage;
  const BufferCtor = (globalThis as unknown as { GPUBuffer?: new () => object }).GPUBuffer;
  if (!usage || !BufferCtor) return false;
  const uniformUsage = usage.UNIFORM | usage.COPY_DST;
  const state: State = {
    stats: { dispatches: 0, fallbacks: 0, bindGroupHits: 0, bindGroupMisses: 0, uniformHits: 0, uniformMisses: 0, resets: 0, tidySubmits: 0 },
    ids: new WeakMap(),
    nextId: 1,
    uniforms: new Map(),
    bindGroups: new Map(),
    layouts: new WeakMap(),
    retired: [],
    limits: { ...DISPATCH_CACHE_LIMITS },
  };
  states.set(b, state);
  // Ids of buffers and pipelines: a property under a symbol of this backend's own (a plain
  // property read; a WeakMap lookup cost ~as much as the rest of a dispatch's keying), in the
  // WeakMap only for an object that takes no new properties.
  const ID = Symbol('difflab.dispatchId');
  const idOf = (o: object) => {
    const own = (o as Record<symbol, number | undefined>)[ID];
    if (own !== undefined) return own;
    let id = state.ids.get(o);
    if (id === undefined) {
      id = state.nextId++;
      if (Object.isExtensible(o)) Object.defineProperty(o, ID, { value: id });
      else state.ids.set(o, id);
    }
    return id;
  };
  const reset = () => {
    for (const u of state.uniforms.values()) state.retired.push(u.buffer);
    state.uniforms.clear();
    state.bindGroups.clear();
    state.stats.resets++;
  };

  // The pool: of the free buffers of a size and usage, hand out the oldest (lowest id).
  const pool = b.bufferManager;
  if (pool && pool.freeBuffers instanceof Map && typeof pool.acquireBuffer === 'function') {
    const acquire = pool.acquireBuffer;
    pool.acquireBuffer = function (this: PoolLike, size: number, bufferUsage: number, mappedAtCreation = false, reuse = true): object {
      const free = reuse ? this.freeBuffers.get(`${size}_${bufferUsage}`) : undefined;
      if (free && free.length > 1) {
        // tfjs pops the last one: move the oldest there.
        let best = free.length - 1;
        let bestId = idOf(free[best]);
        for (let i = 0; i < free.length - 1; i++) {
          const id = idOf(free[i]);
          if (id < bestId) {
            best = i;
            bestId = id;
          }
        }
        const last = free.length - 1;
        if (best !== last) [free[best], free[last]] = [free[last], free[best]];
      }
      return acquire.call(this, size, bufferUsage, mappedAtCreation, reuse);
    };
  }

  const original = b.recordAndSubmit;
  const originalSubmit = b.submitQueue;
  const originalDispose = b.dispose;

  b.submitQueue = function submitQueue(this: BackendLike): void {
    originalSubmit.call(this);
    if (state.retired.length) {
      for (const buf of state.retired) buf.destroy();
      state.retired = [];
    }
  };

  if (engine && typeof engine.endScope === 'function' && Array.isArray(engine.state?.scopeStack)) {
    const endScope = engine.endScope;
    engine.endScope = function (this: EngineLike, result?: unknown): void {
      endScope.call(this, result);
      if (this.state.scopeStack.length === 0 && this.backendInstance === b && b.commandEncoder) {
        b.endComputePassEncoder();
        b.submitQueue();
        state.stats.tidySubmits++;
      }
    };
  }

  b.dispose = function dispose(this: BackendLike): void {
    originalDispose.call(this);
    for (const u of state.uniforms.values()) u.buffer.destroy();
    for (const buf of state.retired) buf.destroy();
    state.bindGroups.clear();
    state.uniforms.clear();
    state.retired = [];
  };

  b.recordAndSubmit = function recordAndSubmit(this: BackendLike, program: ProgramLike, output: TensorInfoLike, inputs: TensorInfoLike[], programDefinedUniform?: UniformLike[]): void {
    if (this.activeTimers != null || program.pixelsOpType != null || program.pipeline instanceof Promise) {
      state.stats.fallbacks++;
      original.call(this, program, output, inputs, programDefinedUniform);
      return;
    }
    const tensors = [output, ...inputs];
    const buffers: object[] = [];
    for (const t of tensors) {
      const d = this.tensorMap.get(t.dataId);
      if (!d || d.external || !(d.resource instanceof BufferCtor)) {
        state.stats.fallbacks++;
        original.call(this, program, output, inputs, programDefinedUniform);
        return;
      }
      buffers.push(d.resource as object);
    }
    state.stats.dispatches++;

    // The uniforms' key: what determines their bytes (each input's and the output's shape, the
    // size, the program's own values and their types), built without laying the bytes out; the
    // bytes (NAN, INFINITY, shapes and strides, size, the program's own, as tfjs-webgpu builds
    // them) only when the key is new.
    let ukey = '';
    for (let i = 1; i < tensors.length; i++) ukey += `${tensors[i].shape.join(',')};`;
    ukey += `${output.shape.join(',')};`;
    const sizeValue = program.size ? uniformSize(program) : null;
    ukey += `${sizeValue};`;
    if (programDefinedUniform) for (const u of programDefinedUniform) ukey += `${u.type[0]}${u.data.join(',')};`;
    let uniform = state.uniforms.get(ukey);
    if (uniform) state.stats.uniformHits++;
    else {
      const fields: UniformLike[] = [
        { type: 'float32', data: [Number.NaN] },
        { type: 'float32', data: [Number.POSITIVE_INFINITY] },
      ];
      for (const t of tensors.slice(1).concat(tensors[0])) {
        fields.push({ type: 'int32', data: t.shape }, { type: 'int32', data: strides(t.shape) });
      }
      if (sizeValue !== null) fields.push({ type: 'int32', data: [sizeValue] });
      if (programDefinedUniform) for (const u of programDefinedUniform) fields.push(u);
      const bytes = layoutUniforms(fields);
      if (state.uniforms.size >= state.limits.uniforms) reset();
      const buffer = this.device.createBuffer({ size: bytes.byteLength, usage: uniformUsage, mappedAtCreation: true });
      new Int32Array(buffer.getMappedRange()).set(new Int32Array(bytes));
      buffer.unmap();
      uniform = { buffer, id: idOf(buffer) };
      state.uniforms.set(ukey, uniform);
      state.stats.uniformMisses++;
    }

    const pipeline = program.pipeline as { getBindGroupLayout(i: number): unknown };
    let key = `${idOf(pipeline)}`;
    for (const buf of buffers) key += `,${idOf(buf)}`;
    key += `,${uniform.id}`;
    let bindGroup = state.bindGroups.get(key);
    if (bindGroup) state.stats.bindGroupHits++;
    else {
      if (state.bindGroups.size >= state.limits.bindGroups) reset();
      let layout = state.layouts.get(pipeline);
      if (!layout) {
        layout = pipeline.getBindGroupLayout(0);
        state.layouts.set(pipeline, layout);
      }
      const entries = buffers.map((buffer, i) => ({ binding: i, resource: { buffer } }));
      entries.push({ binding: buffers.length, resource: { buffer: uniform.buffer } });
      bindGroup = this.device.createBindGroup({ layout, entries });
      state.bindGroups.set(key, bindGroup);
      state.stats.bindGroupMisses++;
    }

    for (const t of tensors) this.commandQueueOwnedIds.add(t.dataId);
    this.ensureCommandEncoderReady();
    if (!this.computePassEncoder) this.computePassEncoder = this.commandEncoder!.beginComputePass({});
    const pass = this.computePassEncoder;
    pass.setPipeline(program.pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(program.dispatch[0], program.dispatch[1], program.dispatch[2]);
    this.dispatchCountInPass++;
    if (batchSize() <= this.dispatchCountInPass) {
      this.endComputePassEncoder();
      this.submitQueue();
    }
  };
  b[PATCHED] = true;
  return true;
}

/** The `size` uniform tfjs-webgpu adds for a program with `size` set. */
function uniformSize(program: ProgramLike): number {
  const size = program.outputShape.reduce((p, q) => p * q, 1);
  return program.outputComponent ? size / program.outputComponent : size;
}

/** Row-major strides of a shape (tfjs's `util.computeStrides`: none for rank < 2). */
function strides(shape: number[]): number[] {
  const rank = shape.length;
  if (rank < 2) return [];
  const out = new Array<number>(rank - 1);
  out[rank - 2] = shape[rank - 1];
  for (let i = rank - 3; i >= 0; --i) out[i] = out[i + 1] * shape[i + 1];
  return out;
}

/**
 * The bytes of tfjs-webgpu's `Uniforms` struct for these fields (WGSL layout: a field of 1, 2 or
 * 3+ scalars aligns to 4, 8 or 16 bytes; the field after a vec5/vec6 aligns to 16; an empty
 * field is one scalar 1; the struct's size is a multiple of its largest alignment).
 */
export function layoutUniforms(fields: UniformLike[]): ArrayBuffer {
  let offset = 0;
  let prevLength = 0;
  let maxAlign = 1;
  const offsets: number[] = [];
  const data = fields.map((f) => (f.data.length === 0 ? [1] : f.data));
  for (const d of data) {
    if (d.length > 6) throw new Error(`webgpu uniforms: a field of ${d.length} values (at most 6)`);
    let align = d.length === 1 ? 4 : d.length === 2 ? 8 : 16;
    if (prevLength === 5 || prevLength === 6) align = 16;
    if (align > maxAlign) maxAlign = align;
    offset = Math.ceil(offset / align) * align;
    prevLength = d.length;
    offsets.push(offset);
    offset += d.length * 4;
  }
  offset = Math.ceil(offset / maxAlign) * maxAlign;
  const buf = new ArrayBuffer(offset);
  fields.forEach((f, i) => {
    const d = data[i];
    if (f.type === 'int32') new Int32Array(buf, offsets[i], d.length).set(d);
    else if (f.type === 'uint32') new Uint32Array(buf, offsets[i], d.length).set(d);
    else new Float32Array(buf, offsets[i], d.length).set(d);
  });
  return buf;
}
