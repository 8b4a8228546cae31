/**
 * The backend this process started, kept apart from backend.ts: importing backend.ts registers the wasm (and webgpu)
 * backends with TF.js, which then outrank cpu and must be initialised before any tensor is made. Code that only asks
 * which backend runs (the in-process job executor) imports this module instead.
 */
import type { AdapterSummary } from './webgpu';

export interface BackendInfo {
  name: string;
  reason: string;
  unavailable: Array<{ name: string; why: string }>;
  threads: number;
  /** the WebGPU adapter (webgpu only): vendor, architecture, description, buffer limits */
  adapter?: AdapterSummary;
}

let current: BackendInfo | null = null;

export function getBackendInfo(): BackendInfo | null {
  return current;
}

export function setBackendInfo(info: BackendInfo): BackendInfo {
  current = info;
  return info;
}
