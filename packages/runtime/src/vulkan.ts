/**
 * Vulkan setup for WebGPU in Node (Linux): Dawn (the `webgpu` npm package) drives Vulkan through
 * the Khronos loader `libvulkan.so.1`, which then loads a driver (ICD) listed in a JSON manifest.
 *
 * On a machine without a GPU, Debian's `chromium` package ships both halves of a software
 * renderer in /usr/lib/chromium: a Vulkan loader (`libvulkan.so.1`) and the SwiftShader driver
 * with its manifest (`vk_swiftshader_icd.json`), but neither is on the default search paths.
 * Before Dawn is created this module therefore
 *  - points `VK_ICD_FILENAMES` at the SwiftShader manifest when the user set no Vulkan driver
 *    variable (`VK_ICD_FILENAMES`, `VK_DRIVER_FILES`, `VK_ADD_DRIVER_FILES`: an explicit variable
 *    always wins) and no driver manifest exists in the loader's standard directories, and
 *  - when no system loader can be opened (Debian's `libvulkan1` is not installed), loads
 *    chromium's loader into the process by full path with RTLD_NODELETE, so that Dawn's later
 *    `dlopen("libvulkan.so.1")` finds it by soname (the same effect as LD_LIBRARY_PATH, which
 *    cannot be changed once the process runs).
 * When installed drivers exist but give no adapter (e.g. NVIDIA's manifest without the glvnd
 * libraries it needs), the caller may retry once with SwiftShader (`fallbackIcd`).
 * All of this only changes this process. Node-only: imported lazily by the webgpu starter.
 */

import { SWIFTSHADER_ICD } from './vulkan-paths.js';

export { SWIFTSHADER_ICD };

/** Environment variables by which a user picks Vulkan drivers; any of them set means "hands off". */
export const VULKAN_DRIVER_VARS = ['VK_ICD_FILENAMES', 'VK_DRIVER_FILES', 'VK_ADD_DRIVER_FILES'] as const;

/** The facts the plan depends on, gathered by `probeVulkan` (injected in tests). */
export interface VulkanFacts {
  env: Record<string, string | undefined>;
  /** Driver manifests (*.json) found in the loader's standard directories. */
  systemIcds: string[];
  /** Whether `dlopen("libvulkan.so.1")` succeeds without help. */
  systemLoader: boolean;
  /** The SwiftShader manifest to fall back to, if that file exists. */
  swiftshaderIcd?: string;
  /** A loader next to the SwiftShader manifest, if that file exists. */
  bundledLoader?: string;
}

export interface VulkanPlan {
  /** Value to give `VK_ICD_FILENAMES` for this process, if any. */
  setIcd?: string;
  /** Absolute path of a Vulkan loader to load into the process first, if any. */
  preloadLoader?: string;
  /**
   * SwiftShader manifest to retry with if the installed drivers give no adapter (a driver
   * manifest whose library fails to load, say). Never set when the user chose drivers explicitly.
   */
  fallbackIcd?: string;
  notes: string[];
}

/** Decide what to change; pure, so every branch is testable without Vulkan. */
export function planVulkan(f: VulkanFacts): VulkanPlan {
  const notes: string[] = [];
  const plan: VulkanPlan = { notes };
  const explicit = VULKAN_DRIVER_VARS.filter((v) => f.env[v]);
  let usingSwiftshader = false;
  if (explicit.length) {
    notes.push(`vulkan: drivers from ${explicit.map((v) => `${v}=${f.env[v]}`).join(' ')} (explicit, left as is)`);
    usingSwiftshader = !!f.swiftshaderIcd && explicit.some((v) => f.env[v]!.includes(f.swiftshaderIcd!));
  } else if (f.systemIcds.length) {
    notes.push(`vulkan: system drivers ${f.systemIcds.join(', ')}`);
    plan.fallbackIcd = f.swiftshaderIcd;
  } else if (f.swiftshaderIcd) {
    plan.setIcd = f.swiftshaderIcd;
    usingSwiftshader = true;
    notes.push(`vulkan: no Vulkan driver installed; using SwiftShader (software) via VK_ICD_FILENAMES=${f.swiftshaderIcd}`);
  } else {
    notes.push('vulkan: no Vulkan driver found and no SwiftShader manifest at ' + SWIFTSHADER_ICD);
  }
  if (!f.systemLoader) {
    if (f.bundledLoader && (usingSwiftshader || f.systemIcds.length || explicit.length)) {
      plan.preloadLoader = f.bundledLoader;
      notes.push(`vulkan: no system libvulkan.so.1; loaded ${f.bundledLoader}`);
    } else {
      notes.push('vulkan: no libvulkan.so.1 loader found');
    }
  }
  return plan;
}

const RTLD_NODELETE = 0x1000; // glibc value; Node's os.constants.dlopen does not list it

/**
 * Try to load a shared library into the process and keep it there. `process.dlopen` is Node's
 * addon loader: for a plain library it loads it, finds no addon and throws "did not
 * self-register"; RTLD_NODELETE keeps the library mapped after Node closes its handle.
 */
async function dlopenKeep(file: string): Promise<boolean> {
  const os = await import('node:os');
  try {
    process.dlopen({ exports: {} } as NodeJS.Module, file, os.constants.dlopen.RTLD_NOW | RTLD_NODELETE);
    return true;
  } catch (e) {
    return /did not self-register/.test(String((e as Error).message));
  }
}

/** The loader's standard manifest directories (Khronos loader, Linux). */
function icdDirs(env: Record<string, string | undefined>): string[] {
  const home = env.HOME ?? '';
  const configDirs = (env.XDG_CONFIG_DIRS || '/etc/xdg').split(':');
  const dataHome = env.XDG_DATA_HOME || `${home}/.local/share`;
  const dataDirs = (env.XDG_DATA_DIRS || '/usr/local/share:/usr/share').split(':');
  return [...configDirs, '/usr/local/etc', '/etc', dataHome, ...dataDirs].filter(Boolean).map((d) => `${d}/vulkan/icd.d`);
}

/** Gather the facts on this machine. `swiftshaderIcd` overrides the manifest location. */
export async function probeVulkan(swiftshaderIcd: string = SWIFTSHADER_ICD): Promise<VulkanFacts> {
  const fs = await import('node:fs');
  const path = await import('node:path');
  const env = process.env;
  const systemIcds: string[] = [];
  for (const dir of new Set(icdDirs(env))) {
    try {
      for (const f of fs.readdirSync(dir)) if (f.endsWith('.json')) systemIcds.push(path.join(dir, f));
    } catch {
      // missing directory: nothing installed there
    }
  }
  const hasIcd = fs.existsSync(swiftshaderIcd);
  const loader = path.join(path.dirname(swiftshaderIcd), 'libvulkan.so.1');
  return {
    env,
    systemIcds,
    systemLoader: await dlopenKeep('libvulkan.so.1'),
    swiftshaderIcd: hasIcd ? swiftshaderIcd : undefined,
    bundledLoader: hasIcd && fs.existsSync(loader) ? loader : undefined,
  };
}

/** Probe, plan and apply (env var, loader preload) for this process. Linux only; else a no-op. */
export async function prepareVulkan(swiftshaderIcd?: string): Promise<VulkanPlan> {
  if (process.platform !== 'linux') return { notes: [] };
  const plan = planVulkan(await probeVulkan(swiftshaderIcd));
  if (plan.setIcd) process.env.VK_ICD_FILENAMES = plan.setIcd;
  if (plan.preloadLoader && !(await dlopenKeep(plan.preloadLoader))) {
    plan.notes.push(`vulkan: could not load ${plan.preloadLoader}`);
  }
  return plan;
}
