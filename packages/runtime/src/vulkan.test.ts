import { describe, expect, it } from 'vitest';
import { planVulkan, SWIFTSHADER_ICD, type VulkanFacts } from './vulkan.js';

const LOADER = '/usr/lib/chromium/libvulkan.so.1';
const bare: VulkanFacts = { env: {}, systemIcds: [], systemLoader: false, swiftshaderIcd: SWIFTSHADER_ICD, bundledLoader: LOADER };

describe('planVulkan', () => {
  it('no driver, no loader, chromium installed: SwiftShader manifest and chromium loader', () => {
    const p = planVulkan(bare);
    expect(p.setIcd).toBe(SWIFTSHADER_ICD);
    expect(p.preloadLoader).toBe(LOADER);
    expect(p.notes.join('\n')).toContain(`VK_ICD_FILENAMES=${SWIFTSHADER_ICD}`);
  });

  it('a system loader is used as is', () => {
    const p = planVulkan({ ...bare, systemLoader: true });
    expect(p.setIcd).toBe(SWIFTSHADER_ICD);
    expect(p.preloadLoader).toBeUndefined();
  });

  it('an explicit VK_ICD_FILENAMES (or VK_DRIVER_FILES) wins', () => {
    for (const v of ['VK_ICD_FILENAMES', 'VK_DRIVER_FILES', 'VK_ADD_DRIVER_FILES']) {
      const p = planVulkan({ ...bare, systemLoader: true, env: { [v]: '/opt/my_icd.json' } });
      expect(p.setIcd).toBeUndefined();
      expect(p.notes[0]).toBe(`vulkan: drivers from ${v}=/opt/my_icd.json (explicit, left as is)`);
    }
  });

  it('an installed driver (e.g. a GPU vendor ICD) is tried first, SwiftShader kept as the fallback', () => {
    const p = planVulkan({ ...bare, systemLoader: true, systemIcds: ['/usr/share/vulkan/icd.d/nvidia_icd.json'] });
    expect(p.setIcd).toBeUndefined();
    expect(p.preloadLoader).toBeUndefined();
    expect(p.fallbackIcd).toBe(SWIFTSHADER_ICD);
  });

  it("an installed driver without a system loader gets chromium's loader (seen on a bare GPU machine)", () => {
    const p = planVulkan({ ...bare, systemIcds: ['/usr/share/vulkan/icd.d/nvidia_icd.json'] });
    expect(p.setIcd).toBeUndefined();
    expect(p.preloadLoader).toBe(LOADER);
  });

  it('no fallback when the user chose drivers explicitly', () => {
    const p = planVulkan({ ...bare, env: { VK_ICD_FILENAMES: '/opt/my_icd.json' }, systemIcds: ['/usr/share/vulkan/icd.d/x.json'] });
    expect(p.fallbackIcd).toBeUndefined();
    expect(p.preloadLoader).toBe(LOADER);
  });

  it('without chromium nothing is changed and the notes say so', () => {
    const p = planVulkan({ env: {}, systemIcds: [], systemLoader: false });
    expect(p.setIcd).toBeUndefined();
    expect(p.preloadLoader).toBeUndefined();
    expect(p.notes).toEqual([`vulkan: no Vulkan driver found and no SwiftShader manifest at ${SWIFTSHADER_ICD}`, 'vulkan: no libvulkan.so.1 loader found']);
  });
});
