/**
 * The compute backend as a short badge in the top bar ("GPU · NVIDIA H100 (webgpu)", "CPU · wasm, 1 thread"), and, in
 * a popover on hover or click, what runs, why it was chosen, why the better ones did not start and what would make it
 * faster. The bar never shows raw diagnostics.
 */
import { useState } from 'react';
import type { BackendInfo, GpuAdapterInfo } from '../../../preload/contract';
import { plural } from './format';

const SOFTWARE_GPUS = /swiftshader|lavapipe|llvmpipe|warp/i;

/** The adapter's name as people call it: "SwiftShader", "NVIDIA H100 80GB HBM3", "nvidia hopper". */
function adapterName(a: GpuAdapterInfo): string {
  const text = [a.description, a.device, a.vendor, a.architecture].join(' ');
  const soft = SOFTWARE_GPUS.exec(text);
  if (soft) return soft[0].toLowerCase() === 'swiftshader' ? 'SwiftShader' : soft[0];
  return a.description || a.device || [a.vendor, a.architecture].filter(Boolean).join(' ') || 'unnamed adapter';
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
function reasonHead(b: BackendInfo): string {
  if (!b.reason.startsWith('best available')) return b.reason;
  const cut = b.unavailable.length ? b.reason.indexOf(`: ${b.unavailable[0]!.name}:`) : b.reason.indexOf(';');
  return cut > 0 ? `${b.reason.slice(0, cut)} on this machine` : b.reason;
}

/** What would make it faster, in the user's terms. */
function fasterAdvice(b: BackendInfo): string {
  if (b.name === 'webgpu' && b.adapter && !b.adapter.software) return 'This is the fastest backend Winnow has.';
  if (b.name === 'webgpu')
    return 'This is a CPU pretending to be a GPU, usually slower than wasm. A GPU with its driver (Vulkan on Linux, D3D12 on Windows, Metal on macOS) is picked by itself; WINNOW_BACKEND=wasm runs on the CPU directly.';
  const gpu = 'A GPU with its driver (Vulkan on Linux, D3D12 on Windows, Metal on macOS): Winnow picks WebGPU by itself when it finds one.';
  if (b.name === 'wasm' && b.threads <= 1) return `${gpu} On the CPU, more threads help on an idle machine: start Winnow with WINNOW_WASM_THREADS=4 (up to 8).`;
  if (b.name === 'cpu') return `${gpu} The wasm backend is many times faster than this one; see why it did not start below.`;
  return gpu;
}

/** "nvidia hopper · buffers ≤ 4 GiB · NVIDIA H100 80GB HBM3" */
function adapterLabel(a: GpuAdapterInfo): string {
  const gib = Math.min(a.maxStorageBufferBindingSize, a.maxBufferSize) / 2 ** 30;
  const parts = [
    [a.vendor, a.architecture].filter(Boolean).join(' '),
    a.software ? 'software' : '',
    `buffers ≤ ${gib >= 1 ? `${gib.toFixed(gib % 1 ? 1 : 0)} GiB` : `${Math.round(gib * 1024)} MiB`}`,
    a.description || a.device,
  ];
  return parts.filter(Boolean).join(' · ');
}

export function BackendBadge({ backend }: { backend: BackendInfo | null | undefined }) {
  const [pinned, setPinned] = useState(false);
  const [hover, setHover] = useState(false);
  const open = pinned || hover;
  if (!backend) {
    return (
      <div className="backend" data-testid="backend" data-backend="">
        <span className="muted">backend not chosen yet</span>
      </div>
    );
  }
  return (
    <div className="backend-wrap" onMouseEnter={() => setHover(true)} onMouseLeave={() => setHover(false)}>
      <button
        className={`backend backend-badge${backend.name === 'webgpu' && !backend.adapter?.software ? ' gpu' : ''}`}
        data-testid="backend"
        data-backend={backend.name}
        aria-expanded={open}
        aria-controls="backend-popover"
        // a click pins it open; a click on the open popover's badge closes it, hover or not
        onClick={() => {
          if (open) {
            setPinned(false);
            setHover(false);
          } else setPinned(true);
        }}
        onKeyDown={(e) => {
          if (e.key === 'Escape') {
            setPinned(false);
            setHover(false);
          }
        }}
      >
        {backendBadge(backend)}
      </button>
      {/* always in the page (hidden when closed), so its text can be read without opening it */}
      <div className="backend-popover" id="backend-popover" data-testid="backend-popover" role="dialog" aria-label="Compute backend" hidden={!open}>
        <div className="backend-popover-title">
          Computing on <b>{backend.name}</b>
        </div>
        {backend.adapter && (
          <div data-testid="backend-adapter" className="backend-popover-line">
            Adapter: {adapterLabel(backend.adapter)}
          </div>
        )}
        <div data-testid="backend-reason" data-reason={backend.reason} className="backend-popover-line">
          Why: {reasonHead(backend)}
        </div>
        {(backend.name === 'wasm' || backend.name === 'cpu') && <div className="backend-popover-line">Threads: {backend.threads}</div>}
        {backend.unavailable.length > 0 && (
          <div className="backend-popover-line">
            Not available:
            <ul>
              {backend.unavailable.map((u) => (
                <li key={u.name}>
                  <b>{u.name}</b>: {u.why}
                </li>
              ))}
            </ul>
          </div>
        )}
        <div data-testid="backend-faster" className="backend-popover-line">
          <b>Faster:</b> {fasterAdvice(backend)}
        </div>
        <div className="muted backend-popover-line">WINNOW_BACKEND=webgpu|tensorflow|wasm|cpu forces one (see the Backends page of the docs).</div>
      </div>
    </div>
  );
}
