/**
 * The little of the WebGPU API this package touches, typed locally so that its declarations do
 * not pull `@webgpu/types` into users' builds.
 */
export interface GpuAdapterInfoLike {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}

export interface GpuAdapterLike {
  info?: GpuAdapterInfoLike;
  isFallbackAdapter?: boolean;
}

export interface GpuLike {
  requestAdapter(options?: { powerPreference?: 'low-power' | 'high-performance' }): Promise<GpuAdapterLike | null>;
}

/** Adapter facts as `describeBackend()` reports them. */
export interface AdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A software renderer (SwiftShader, WARP, llvmpipe...) or a fallback adapter. */
  software: boolean;
}

export function describeAdapter(adapter: GpuAdapterLike): AdapterDescription {
  const i = adapter.info ?? {};
  const vendor = i.vendor ?? '';
  const architecture = i.architecture ?? '';
  const device = i.device ?? '';
  const description = i.description ?? '';
  const text = `${vendor} ${architecture} ${device} ${description}`.toLowerCase();
  const software =
    !!(adapter.isFallbackAdapter || i.isFallbackAdapter) || /swiftshader|llvmpipe|lavapipe|warp|software/.test(text);
  return { vendor, architecture, device, description, software };
}

/** One line: "google swiftshader (SwiftShader driver 5.0.0)". */
export function formatAdapter(a: AdapterDescription): string {
  const head = [a.vendor, a.architecture].filter(Boolean).join(' ') || a.device || 'unknown adapter';
  const tail = a.description || (a.device && a.device !== head ? a.device : '');
  return tail ? `${head} (${tail})` : head;
}
