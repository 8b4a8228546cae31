/**
 * Where Vulkan comes from on Linux (no Dawn, no TF.js here: the engine host imports this before it starts the compute
 * worker). A worker thread's process.env is its own copy — setting VK_ICD_FILENAMES there never reaches the Vulkan
 * loader's getenv — so the host sets it in the real environment before the worker starts (prepareWorkerVulkan).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Folders searched for a Vulkan loader and SwiftShader's ICD when the system has none. */
export function vulkanDirs(): string[] {
  const dirs = [process.env.WINNOW_VULKAN_DIR?.trim(), '/usr/lib/chromium', '/usr/lib64/chromium', '/usr/lib/chromium-browser', '/snap/chromium/current/usr/lib/chromium-browser'];
  return dirs.filter((d): d is string => !!d && fs.existsSync(d));
}

export const SYSTEM_LIB_DIRS = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/lib/x86_64-linux-gnu'];

/** A Vulkan driver manifest the loader would read (the user's VK_ICD_FILENAMES/VK_DRIVER_FILES, or a system one). */
export function vulkanDriversInstalled(): boolean {
  if (process.env.VK_ICD_FILENAMES || process.env.VK_DRIVER_FILES) return true;
  const dirs = ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d', '/usr/local/share/vulkan/icd.d', path.join(process.env.HOME ?? '/nonexistent', '.local/share/vulkan/icd.d')];
  for (const x of (process.env.XDG_DATA_DIRS ?? '').split(':').filter(Boolean)) dirs.push(path.join(x, 'vulkan/icd.d'));
  return dirs.some((dir) => {
    try {
      return fs.readdirSync(dir).some((f) => f.endsWith('.json'));
    } catch {
      return false;
    }
  });
}

export function softwareIcd(): string | null {
  for (const dir of vulkanDirs()) {
    const icd = path.join(dir, 'vk_swiftshader_icd.json');
    if (fs.existsSync(icd)) return icd;
  }
  return null;
}

/**
 * Before starting a compute worker whose environment is `env`: when it will be asked for webgpu
 * (WINNOW_BACKEND=webgpu), Linux has no Vulkan driver of its own and the user chose none, point the real
 * environment's VK_ICD_FILENAMES at SwiftShader (Chromium's folder) so the worker's Dawn finds it.
 */
export function prepareWorkerVulkan(env: NodeJS.ProcessEnv): string | null {
  if (process.platform !== 'linux' || env.WINNOW_BACKEND?.trim() !== 'webgpu') return null;
  if (env.VK_ICD_FILENAMES || env.VK_DRIVER_FILES || vulkanDriversInstalled()) return null;
  const icd = softwareIcd();
  if (icd) process.env.VK_ICD_FILENAMES = icd;
  return icd;
}
