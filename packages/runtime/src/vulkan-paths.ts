/** Where Debian's chromium package puts SwiftShader's Vulkan driver manifest (and a Vulkan loader beside it). */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
