/// <reference types="@webgpu/types" />
/**
 * The 'webgpu' backend: tfjs-backend-webgpu on Dawn's Node binding (npm `webgpu`, a N-API addon with a prebuilt
 * dawn.node for linux-x64, darwin and win32). Created inside the compute worker, so the desktop app, browser mode
 * and the CLI run the same code.
 *
 * Linux needs a Vulkan loader (libvulkan.so.1) and a driver (ICD). Where the system has none, a software one is
 * looked for in Chromium's library folder (Debian's chromium ships SwiftShader's Vulkan driver and the loader):
 * the loader is preloaded by absolute path (so the dynamic loader finds it by soname when Dawn asks for
 * libvulkan.so.1, with no LD_LIBRARY_PATH needed at process start) and VK_ICD_FILENAMES names SwiftShader's ICD.
 *
 * A software adapter (SwiftShader, lavapipe/llvmpipe, WARP, any fallback adapter) is slower than wasm; it is used
 * only when asked for (WINNOW_BACKEND=webgpu or the app's backend setting).
 *
 * Env: WINNOW_VULKAN_DIR (a folder with libvulkan.so.1 and/or vk_swiftshader_icd.json, tried first),
 * WINNOW_WEBGPU_MAX_BUFFER_BYTES (cap the buffer size the engine plans with — compute/shard.ts splits weights over
 * it; tests use it to exercise sharding on a tiny model. The device itself never goes below WebGPU's 128 MiB default).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';
import { WinnowError } from '../util/errors';
import { registerWebgpuFixes } from './webgpu-fixes';
import type { GpuAdapterInfo } from '../../../preload/contract';
import { SYSTEM_LIB_DIRS, softwareIcd, vulkanDirs, vulkanDriversInstalled } from './vulkan-env';

/** The adapter as BackendInfo carries it (preload/contract/project.ts GpuAdapterInfo). */
export type AdapterSummary = GpuAdapterInfo;

const SOFTWARE = /swiftshader|llvmpipe|lavapipe|softpipe|warp|microsoft basic render|software/i;

let loaderFrom: string | null | undefined;

/** Make libvulkan.so.1 loadable in this process: the system's, else one preloaded from vulkanDirs(). */
function ensureVulkanLoader(): string | null {
  if (loaderFrom !== undefined) return loaderFrom;
  loaderFrom = null;
  if (process.platform !== 'linux') return null;
  if (SYSTEM_LIB_DIRS.some((d) => fs.existsSync(path.join(d, 'libvulkan.so.1')))) return null;
  for (const dir of vulkanDirs()) {
    const lib = path.join(dir, 'libvulkan.so.1');
    if (!fs.existsSync(lib)) continue;
    try {
      // RTLD_NOW | RTLD_GLOBAL | RTLD_NODELETE (glibc 0x1000; Node does not export it on Linux): process.dlopen
      // throws "did not self-register" (it is not a Node addon) and closes it, but NODELETE keeps it mapped, so a
      // later dlopen("libvulkan.so.1") by Dawn matches it by soname
      process.dlopen({ exports: {} } as NodeJS.Module, lib, 2 | 256 | 0x1000);
    } catch {
      // expected: not an addon
    }
    loaderFrom = dir;
    return dir;
  }
  return null;
}

/** Point the Vulkan loader at SwiftShader's ICD unless the user chose drivers (VK_ICD_FILENAMES / VK_DRIVER_FILES). */
function useSoftwareIcd(): string | null {
  if (process.env.VK_ICD_FILENAMES || process.env.VK_DRIVER_FILES) return null;
  const icd = softwareIcd();
  if (icd) process.env.VK_ICD_FILENAMES = icd; // setenv: the loader reads it at vkCreateInstance
  return icd;
}

type DawnModule = { create: (opts: string[]) => GPU; globals: Record<string, unknown> };
let dawn: DawnModule | null = null;

async function loadDawn(): Promise<DawnModule> {
  if (dawn) return dawn;
  // a variable specifier keeps the bundler from inlining the package (dawn.node is resolved next to it at run time)
  const spec = 'webgpu';
  const mod = (await import(/* @vite-ignore */ spec)) as Partial<DawnModule> & { default?: DawnModule };
  dawn = typeof mod.create === 'function' ? (mod as DawnModule) : mod.default!;
  // GPUBufferUsage, GPUMapMode, GPUShaderStage…: tfjs-backend-webgpu reads them as globals
  for (const [k, v] of Object.entries(dawn.globals)) if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
  return dawn;
}

function summarize(adapter: GPUAdapter, device: GPUDevice, vulkanFrom: string | null): AdapterSummary {
  const info = (adapter as GPUAdapter & { info?: GPUAdapterInfo }).info ?? ({} as GPUAdapterInfo);
  const words = [info.vendor, info.architecture, info.device, info.description].join(' ');
  const fallback = (info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter === true;
  return {
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    device: info.device ?? '',
    description: info.description ?? '',
    software: fallback || SOFTWARE.test(words),
    maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize,
    maxBufferSize: device.limits.maxBufferSize,
    shaderF16: adapter.features.has('shader-f16'),
    vulkanFrom,
  };
}

/** "google swiftshader (SwiftShader driver 5.0.0, software), 1 GiB buffers" */
export function describeAdapter(a: AdapterSummary): string {
  const name = [a.vendor, a.architecture].filter(Boolean).join(' ') || 'unknown adapter';
  const detail = [a.description || a.device, a.software ? 'software' : ''].filter(Boolean).join(', ');
  const gib = (n: number) => (n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(n % 2 ** 30 ? 1 : 0)} GiB` : `${Math.round(n / 2 ** 20)} MiB`);
  return `${name}${detail ? ` (${detail})` : ''}, buffers ≤ ${gib(Math.min(a.maxStorageBufferBindingSize, a.maxBufferSize))}`;
}

/** The cap from WINNOW_WEBGPU_MAX_BUFFER_BYTES, or null. */
export function bufferCap(): number | null {
  const v = process.env.WINNOW_WEBGPU_MAX_BUFFER_BYTES?.trim();
  if (!v) return null;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 << 20) {
    throw new WinnowError('bad_input', `WINNOW_WEBGPU_MAX_BUFFER_BYTES="${v}" must be a whole number of bytes, at least 1048576`);
  }
  return n;
}

/** Every limit at the adapter's maximum (the defaults are far lower: 128 MiB bindings), buffers capped if asked. */
function maxLimits(adapter: GPUAdapter): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k in adapter.limits) {
    const v = (adapter.limits as unknown as Record<string, unknown>)[k];
    if (typeof v === 'number') out[k] = v;
  }
  const cap = bufferCap();
  if (cap !== null) {
    // Dawn requires maxStorageBufferBindingSize to be a multiple of 4 and ≤ maxBufferSize
    const c = cap - (cap % 4);
    out.maxStorageBufferBindingSize = Math.min(out.maxStorageBufferBindingSize ?? c, c);
    out.maxBufferSize = Math.min(out.maxBufferSize ?? c, c);
  }
  return out;
}

let current: AdapterSummary | null = null;
let registered = false;

export function webgpuAdapter(): AdapterSummary | null {
  return tf.getBackend() === 'webgpu' ? current : null;
}

/**
 * Find an adapter. allowSoftware=false: only a hardware adapter is accepted (a software one is reported as the
 * reason webgpu is not used). Returns the reason in words when none is usable.
 */
async function findAdapter(allowSoftware: boolean): Promise<{ ok: true; gpu: GPU; adapter: GPUAdapter; vulkanFrom: string | null } | { ok: false; why: string }> {
  const linux = process.platform === 'linux';
  // Linux without any Vulkan driver manifest: nothing for Dawn to find (and asking it only prints loader warnings)
  const systemDrivers = !linux || vulkanDriversInstalled();
  const software = linux && allowSoftware && softwareIcd() !== null;
  if (!systemDrivers && !software) {
    const sw = linux && softwareIcd() ? '; a software one (SwiftShader, from chromium) is there: set WINNOW_BACKEND=webgpu to use it' : '';
    return { ok: false, why: `no WebGPU adapter: no Vulkan driver installed (install your GPU vendor’s Vulkan driver${sw ? '' : ', or chromium for a software one'})${sw}` };
  }
  let d: DawnModule;
  try {
    ensureVulkanLoader();
    d = await loadDawn();
  } catch (err) {
    return { ok: false, why: `the webgpu package (Dawn) did not load: ${(err instanceof Error ? err.message : String(err)).split('\n')[0]}` };
  }
  const tries: Array<() => string | null> = [];
  if (systemDrivers) tries.push(() => null);
  // no adapter from the system's drivers: SwiftShader from Chromium's folder, when software is acceptable
  if (software) tries.push(useSoftwareIcd);
  let seen = '';
  for (const prepare of tries) {
    const icd = prepare();
    const gpu = d.create([]);
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) continue;
    const info = (adapter as GPUAdapter & { info?: GPUAdapterInfo }).info;
    const words = info ? [info.vendor, info.architecture, info.device, info.description].join(' ') : '';
    const soft = (info as (GPUAdapterInfo & { isFallbackAdapter?: boolean }) | undefined)?.isFallbackAdapter === true || SOFTWARE.test(words);
    if (soft && !allowSoftware) {
      seen = `only a software adapter (${[info?.vendor, info?.architecture, info?.description].filter(Boolean).join(' ')}), slower than wasm; set WINNOW_BACKEND=webgpu to use it anyway`;
      continue;
    }
    return { ok: true, gpu, adapter, vulkanFrom: icd ? path.dirname(icd) : loaderFrom ?? null };
  }
  if (seen) return { ok: false, why: seen };
  const vk = linux
    ? loaderFrom === null && !SYSTEM_LIB_DIRS.some((dir) => fs.existsSync(path.join(dir, 'libvulkan.so.1')))
      ? ' (no Vulkan loader: install libvulkan1 and your GPU vendor’s Vulkan driver)'
      : ' (no Vulkan driver answered: check your GPU vendor’s Vulkan driver with `vulkaninfo --summary`)'
    : '';
  return { ok: false, why: `no WebGPU adapter${vk}` };
}

/** Start the webgpu backend; resolves false with the reason when no acceptable adapter exists. */
export async function startWebgpu(allowSoftware: boolean): Promise<{ ok: true; adapter: AdapterSummary } | { ok: false; why: string }> {
  if (registered && current) {
    // one device per process: switching back reuses it (a second Dawn instance and device only waste memory)
    if (!allowSoftware && current.software) return { ok: false, why: `only a software adapter (${describeAdapter(current)}), slower than wasm; set WINNOW_BACKEND=webgpu to use it anyway` };
    if (tf.getBackend() === 'webgpu' || (await tf.setBackend('webgpu'))) return { ok: true, adapter: current };
    return { ok: false, why: 'the webgpu backend did not restart on its device' };
  }
  const found = await findAdapter(allowSoftware);
  if (!found.ok) return found;
  const { adapter, gpu, vulkanFrom } = found;
  // tfjs-backend-webgpu registers its kernels on import; its own backend factory needs navigator.gpu at import time
  // (absent in Node), so the backend is registered here with our device
  const webgpuPkg = '@tensorflow/tfjs-backend-webgpu';
  const req = createRequire(import.meta.url ?? path.join(process.cwd(), 'index.js'));
  let WebGPUBackend: new (device: GPUDevice, info?: GPUAdapterInfo) => tf.KernelBackend;
  try {
    // the same tfjs-core instance as the engine's (CommonJS node build of both)
    ({ WebGPUBackend } = req(webgpuPkg) as { WebGPUBackend: typeof WebGPUBackend });
  } catch (err) {
    return { ok: false, why: `${webgpuPkg} did not load: ${(err instanceof Error ? err.message : String(err)).split('\n')[0]}` };
  }
  registerWebgpuFixes(WebGPUBackend as never);
  const features: GPUFeatureName[] = [];
  for (const f of ['timestamp-query', 'shader-f16'] as GPUFeatureName[]) if (adapter.features.has(f)) features.push(f);
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ requiredFeatures: features, requiredLimits: maxLimits(adapter) });
  } catch (err) {
    return { ok: false, why: `the adapter refused a device: ${(err instanceof Error ? err.message : String(err)).split('\n')[0]}` };
  }
  device.lost.then((l) => {
    if (l.reason !== 'destroyed') console.error(`[webgpu] device lost: ${l.message}`);
  });
  current = summarize(adapter, device, vulkanFrom);
  // tfjs-backend-webgpu checks navigator.gpu (Node ≤ 20 has no navigator; Node 21+ has one without gpu)
  const g = globalThis as { navigator?: object };
  if (!g.navigator) g.navigator = {};
  if (!(g.navigator as { gpu?: GPU }).gpu) Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true, writable: true });
  const info = (adapter as GPUAdapter & { info?: GPUAdapterInfo }).info;
  tf.registerBackend('webgpu', () => new WebGPUBackend(device, info), 1);
  registered = true;
  if (!(await tf.setBackend('webgpu'))) return { ok: false, why: 'the webgpu backend did not start on its device' };
  return { ok: true, adapter: current };
}
