/**
 * Uploads through `queue.writeBuffer` for tfjs-backend-webgpu (4.22).
 *
 * tfjs-webgpu moves every tensor that lives on the CPU to the GPU when an op first uses it: each
 * scalar an op makes from a number (`mul(x, 2)`, the learning rate, the gradients' constants), each
 * batch of indices or noise. Its path for that creates a MAP_WRITE staging buffer, copies from it
 * inside the current command encoder (ending the current compute pass), and destroys it at the
 * next submit: a buffer creation and destruction per upload. A spiral training step makes ~36 of
 * them. This replaces that path with `GPUQueue.writeBuffer` into a pooled buffer (Dawn stages
 * such writes in its own ring buffer), the way tfjs-webgpu already writes its uniforms.
 *
 * Ordering: a queue write lands after all work submitted before it and before the command buffer
 * now being recorded is submitted. The target comes from the backend's free pool, and tfjs-webgpu
 * returns a buffer to that pool only once no unsubmitted command uses it (`commandQueueOwnedIds`),
 * so no recorded command can see the write early or late.
 */

/** The parts of tfjs-webgpu's backend this patch relies on (checked at install). */
interface WebGpuBackendLike {
  uploadToGPU(dataId: object): void;
  tensorMap: { get(dataId: object): TensorDataLike | undefined };
  bufferManager: { acquireBuffer(size: number, usage: number, mappedAtCreation?: boolean, reuse?: boolean): unknown };
  queue: { writeBuffer(buffer: unknown, offset: number, data: ArrayBufferView, dataOffset?: number, size?: number): void };
}

interface TensorDataLike {
  values: ArrayLike<number> | null | unknown;
  dtype: string;
  shape: number[];
  resource: unknown;
}

const PATCHED = Symbol.for('difflab.webgpuWriteBufferUploads');

/**
 * Install the writeBuffer upload path on a started tfjs-webgpu backend instance. Returns false
 * (and changes nothing) if the backend does not look like the one this was written for.
 */
export function useWriteBufferUploads(backend: unknown): boolean {
  const b = backend as WebGpuBackendLike & { [PATCHED]?: boolean };
  if (!b || typeof b.uploadToGPU !== 'function' || !b.tensorMap || !b.bufferManager || !b.queue?.writeBuffer) return false;
  if (b[PATCHED]) return true;
  const original = b.uploadToGPU;
  const usage = storageUsage();
  if (usage === undefined) return false;
  b.uploadToGPU = function uploadToGPU(this: WebGpuBackendLike, dataId: object): void {
    const data = this.tensorMap.get(dataId);
    if (!data || data.resource != null || !data.values || (data.dtype !== 'float32' && data.dtype !== 'int32' && data.dtype !== 'bool')) {
      original.call(this, dataId);
      return;
    }
    const values = data.values as ArrayLike<number>;
    const intLike = data.dtype !== 'float32';
    const view = intLike ? (values instanceof Int32Array ? values : Int32Array.from(values)) : values instanceof Float32Array ? values : Float32Array.from(values);
    const buffer = this.bufferManager.acquireBuffer(view.byteLength, usage);
    if (view.byteLength > 0) this.queue.writeBuffer(buffer, 0, view, 0, view.length);
    // Once uploaded, tfjs-webgpu keeps no CPU copy.
    data.values = null;
    data.resource = buffer;
  };
  b[PATCHED] = true;
  return true;
}

/** STORAGE | COPY_SRC | COPY_DST, the usage tfjs-webgpu gives tensor buffers. */
function storageUsage(): number | undefined {
  const u = (globalThis as unknown as { GPUBufferUsage?: Record<string, number> }).GPUBufferUsage;
  return u ? u.STORAGE | u.COPY_SRC | u.COPY_DST : undefined;
}
