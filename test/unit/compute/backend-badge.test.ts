/**
 * The top bar's backend badge (renderer/src/components/backend.ts): the kind of chip first and the backend in
 * brackets, never the engine's raw reason; the popover's reason without what its "Not available" list repeats.
 * Adapter fields as Dawn reports them (SwiftShader as the CI machine sees it; a hardware GPU whose description is a
 * product name or a driver string).
 */
import { describe, expect, it } from 'vitest';
import type { BackendInfo, GpuAdapterInfo } from '../../../preload/contract';
import { backendBadge, fasterAdvice, reasonHead } from '../../../renderer/src/components/backend';
import { plural } from '../../../renderer/src/components/format';

const limits = { maxStorageBufferBindingSize: 2 ** 30, maxBufferSize: 2 ** 30, shaderF16: false, vulkanFrom: null };
const swiftshader: GpuAdapterInfo = { vendor: 'google', architecture: 'swiftshader', device: '', description: 'SwiftShader driver 5.0.0', software: true, ...limits };
const h100: GpuAdapterInfo = { vendor: 'nvidia', architecture: 'hopper', device: '', description: 'NVIDIA H100 80GB HBM3', software: false, ...limits };
const h100Driver: GpuAdapterInfo = { ...h100, device: 'NVIDIA H100 80GB HBM3', description: 'NVIDIA: 550.54.15 550.54.15.0' };
const unnamed: GpuAdapterInfo = { ...h100, device: '', description: '' };

const WASM_REASON =
  'best available: webgpu: no WebGPU adapter: no Vulkan driver installed (install your GPU vendor’s Vulkan driver); tensorflow: tfjs-node-gpu not installed; tfjs-node not installed; 1 thread (set WINNOW_WASM_THREADS=n for more)';
const wasm = (threads: number): BackendInfo => ({
  name: 'wasm',
  reason: WASM_REASON,
  threads,
  unavailable: [
    { name: 'webgpu', why: 'no WebGPU adapter: no Vulkan driver installed (install your GPU vendor’s Vulkan driver)' },
    { name: 'tensorflow', why: 'tfjs-node-gpu not installed; tfjs-node not installed' },
  ],
});
const webgpu = (adapter: GpuAdapterInfo): BackendInfo => ({ name: 'webgpu', reason: 'best available', threads: 1, unavailable: [], adapter });

describe('backendBadge', () => {
  it('names the chip, then the backend', () => {
    expect(backendBadge(webgpu(h100))).toBe('GPU · NVIDIA H100 80GB HBM3 (webgpu)');
    expect(backendBadge(webgpu(h100Driver))).toBe('GPU · NVIDIA H100 80GB HBM3 (webgpu)');
    expect(backendBadge(webgpu(unnamed))).toBe('GPU · nvidia hopper (webgpu)');
    expect(backendBadge(webgpu(swiftshader))).toBe('CPU · SwiftShader (webgpu, software)');
    expect(backendBadge(wasm(1))).toBe('CPU · wasm, 1 thread');
    expect(backendBadge(wasm(4))).toBe('CPU · wasm, 4 threads');
    expect(backendBadge({ name: 'cpu', reason: 'best available', threads: 1, unavailable: [] })).toBe('CPU · plain JavaScript (cpu)');
  });

  it('keeps diagnostics out of the badge and repeats nothing in the popover', () => {
    expect(backendBadge(wasm(1))).not.toContain('best available');
    expect(reasonHead(wasm(1))).toBe('best available on this machine');
    expect(reasonHead({ ...wasm(1), reason: 'forced by WINNOW_BACKEND=wasm' })).toBe('forced by WINNOW_BACKEND=wasm');
    expect(fasterAdvice(wasm(1))).toContain('WINNOW_WASM_THREADS');
    expect(fasterAdvice(webgpu(swiftshader))).toContain('CPU pretending to be a GPU');
    expect(fasterAdvice(webgpu(h100))).toBe('This is the fastest backend Winnow has.');
  });
});

describe('plural', () => {
  it('says "1 row" and "2 rows", with irregular plurals and grouped digits', () => {
    expect(plural(1, 'row')).toBe('1 row');
    expect(plural(0, 'row')).toBe('0 rows');
    expect(plural(1234, 'tree')).toBe('1,234 trees');
    expect(plural(2, 'batch', 'batches')).toBe('2 batches');
  });
});
