/** The compute backend in words: the top bar's badge, the reason without repeats, what would make it faster. */
import type { BackendInfo, GpuAdapterInfo } from '../../../preload/contract';
import { plural } from './format';

const SOFTWARE_GPUS = /swiftshader|lavapipe|llvmpipe|softpipe|warp/i;
/** a driver string, not a product name: "SwiftShader driver 5.0.0", "NVIDIA: 550.54.15 550.54.15.0" */
const DRIVER_STRING = /driver|^[\w .]+: *\d/i;

/** The adapter's name as people call it: "SwiftShader", "NVIDIA H100 80GB HBM3", else "nvidia hopper". */
function adapterName(a: GpuAdapterInfo): string {
  const soft = a.software ? SOFTWARE_GPUS.exec([a.description, a.device, a.vendor, a.architecture].join(' ')) : null;
  if (soft) return soft[0].toLowerCase() === 'swiftshader' ? 'SwiftShader' : soft[0];
  const product = [a.device, a.description].find((t) => t && !DRIVER_STRING.test(t));
  return product || [a.vendor, a.architecture].filter(Boolean).join(' ') || 'unnamed adapter';
}

/** The badge's text: the kind of chip first, then the backend in brackets. */
export function backendBadge(b: BackendInfo): string {
  if (b.name === 'webgpu') {
    if (!b.adapter) return 'GPU (webgpu)';
    return b.adapter.software ? `CPU · ${adapterName(b.adapter)} (webgpu, software)` : `GPU · ${adapterName(b.adapter)} (webgpu)`;
  }
  if (b.name === 'wasm') return `CPU · wasm, ${plural(b.threads, 'thread')}`;
  if (b.name === 'tensorflow') return 'TensorFlow native (tensorflow)';
  if (b.name === 'cpu') return 'CPU · plain JavaScript (cpu)';
  return b.name;
}

/**
 * The reason without what the "Not available" list and the thread count already say: "best available: webgpu: …;
 * tensorflow: …; 1 thread (…)" reads "best available".
 */
export function reasonHead(b: BackendInfo): string {
  if (!b.reason.startsWith('best available')) return b.reason;
  const cut = b.unavailable.length ? b.reason.indexOf(`: ${b.unavailable[0]!.name}:`) : b.reason.indexOf(';');
  return cut > 0 ? `${b.reason.slice(0, cut)} on this machine` : b.reason;
}

/** What would make it faster, in the user's terms. */
export function fasterAdvice(b: BackendInfo): string {
  if (b.name === 'webgpu' && b.adapter && !b.adapter.software) return 'This is the fastest backend Winnow has.';
  if (b.name === 'webgpu')
    return 'This is a CPU pretending to be a GPU, usually slower than wasm. A GPU with its driver (Vulkan on Linux, D3D12 on Windows, Metal on macOS) is picked by itself; WINNOW_BACKEND=wasm runs on the CPU directly.';
  const gpu = 'A GPU with its driver (Vulkan on Linux, D3D12 on Windows, Metal on macOS): Winnow picks WebGPU by itself when it finds one.';
  if (b.name === 'wasm' && b.threads <= 1) return `${gpu} On the CPU, more threads help on an idle machine: start Winnow with WINNOW_WASM_THREADS=4 (up to 8).`;
  if (b.name === 'cpu') return `${gpu} The wasm backend is many times faster than this one; see why it did not start below.`;
  return gpu;
}

/** "nvidia hopper · buffers ≤ 4 GiB · NVIDIA H100 80GB HBM3" */
export function adapterLabel(a: GpuAdapterInfo): string {
  const gib = Math.min(a.maxStorageBufferBindingSize, a.maxBufferSize) / 2 ** 30;
  const parts = [
    [a.vendor, a.architecture].filter(Boolean).join(' '),
    a.software ? 'software' : '',
    `buffers ≤ ${gib >= 1 ? `${gib.toFixed(gib % 1 ? 1 : 0)} GiB` : `${Math.round(gib * 1024)} MiB`}`,
    a.description || a.device,
  ];
  return parts.filter(Boolean).join(' · ');
}
