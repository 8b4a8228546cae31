/**
 * TF.js backend choice: 'webgpu' on a hardware adapter (Dawn: Vulkan, D3D12, Metal) › 'tensorflow' (tfjs-node-gpu,
 * then tfjs-node; optional, CUDA/native) › 'wasm' › 'cpu'. A software WebGPU adapter (SwiftShader, lavapipe) is
 * slower than wasm and is used only when asked for (WINNOW_BACKEND=webgpu, or prefer 'webgpu').
 * The result says which backend runs, why, and why the better ones did not, so the UI can show it.
 * WINNOW_BACKEND=<name> forces one backend (and fails loudly if it cannot start).
 */
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { getThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { WinnowError } from '../util/errors';
import { registerWasmFixes } from './wasm-fixes';
import { withWasmThreads } from './wasm-threads';
import { describeAdapter, startWebgpu, type AdapterSummary } from './webgpu';
import { getBackendInfo, setBackendInfo, type BackendInfo } from './backend-info';
import { BACKEND_NAMES, type BackendName } from '../../../preload/contract';

export type { BackendName };
/** fastest first: the contract's list of backends */
export const BACKEND_ORDER: readonly BackendName[] = BACKEND_NAMES;

export { getBackendInfo, type BackendInfo } from './backend-info';

function errText(err: unknown): string {
  const m = err instanceof Error ? err.message : String(err);
  return m.split('\n')[0].slice(0, 200);
}

/** Optional native bindings; a variable specifier keeps bundlers from trying to resolve them at build time. */
async function tryTensorflow(): Promise<{ ok: true; pkg: string } | { ok: false; why: string }> {
  const whys: string[] = [];
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      await import(/* @vite-ignore */ pkg);
      if (await tf.setBackend('tensorflow')) return { ok: true, pkg };
      whys.push(`${pkg.replace('@tensorflow/', '')} loaded but its backend did not start`);
    } catch (err) {
      const code = (err as { code?: string }).code;
      whys.push(
        code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND'
          ? `${pkg.replace('@tensorflow/', '')} not installed`
          : `${pkg.replace('@tensorflow/', '')} failed to load: ${errText(err)}`,
      );
    }
  }
  return { ok: false, why: whys.join('; ') };
}

/**
 * Folder of the installed tfjs-backend-wasm .wasm files. Resolved from this module's own location, so it works
 * from sources (tsx/vitest) and from a bundled file next to node_modules.
 */
export function wasmDir(): string {
  // import.meta.url is the bundle's own URL when bundled; fall back to cwd if a CJS bundle left it undefined
  const require = createRequire(import.meta.url ?? path.join(process.cwd(), 'index.js'));
  const pkg = require.resolve('@tensorflow/tfjs-backend-wasm/package.json');
  const dir = path.join(path.dirname(pkg), 'dist');
  if (!fs.existsSync(path.join(dir, 'tfjs-backend-wasm.wasm'))) {
    throw new Error(`no tfjs-backend-wasm.wasm in ${dir}`);
  }
  return dir + path.sep;
}

/**
 * wasm threads: WINNOW_WASM_THREADS=<n> (default 1). n > 1 loads the threaded-SIMD build through the Node shims in
 * wasm-threads.ts. Off by default: on an idle 2-core machine 2 threads ran a GPT-2-small forward 1.5–1.8× faster but
 * stories260K at batch 1 1.7× slower, and on shared, loaded cores they only add contention (README, "Compute backends").
 */
export function wasmThreadsWanted(): number {
  const v = process.env.WINNOW_WASM_THREADS?.trim();
  if (!v) return 1;
  const n = Number(v);
  // the threaded build preloads 8 pthread workers; more would be started later, outside our Node shims
  if (!Number.isInteger(n) || n < 1 || n > 8) {
    throw new WinnowError('bad_input', `WINNOW_WASM_THREADS="${v}" must be a whole number of threads from 1 to 8`);
  }
  return n;
}

async function tryWasm(): Promise<{ ok: true } | { ok: false; why: string }> {
  try {
    setWasmPaths(wasmDir());
    registerWasmFixes();
    const threads = wasmThreadsWanted();
    const started = threads > 1 ? await withWasmThreads(threads, () => tf.setBackend('wasm')) : await tf.setBackend('wasm');
    if (started) return { ok: true };
    return { ok: false, why: 'wasm backend did not start' };
  } catch (err) {
    return { ok: false, why: `wasm failed: ${errText(err)}` };
  }
}

async function tryOne(name: BackendName, asked: boolean): Promise<{ ok: true; note?: string; adapter?: AdapterSummary } | { ok: false; why: string }> {
  if (name === 'webgpu') {
    try {
      const r = await startWebgpu(asked);
      return r.ok ? { ok: true, note: describeAdapter(r.adapter), adapter: r.adapter } : r;
    } catch (err) {
      return { ok: false, why: `webgpu failed: ${errText(err)}` };
    }
  }
  if (name === 'tensorflow') {
    const r = await tryTensorflow();
    return r.ok ? { ok: true, note: r.pkg.replace('@tensorflow/', '') } : r;
  }
  if (name === 'wasm') return tryWasm();
  try {
    if (await tf.setBackend('cpu')) return { ok: true };
    return { ok: false, why: 'cpu backend did not start' };
  } catch (err) {
    return { ok: false, why: `cpu failed: ${errText(err)}` };
  }
}

function threadsOf(name: string): number {
  if (name === 'wasm') return getThreadsCount();
  if (name === 'cpu') return 1;
  return 0; // native: TensorFlow's own thread pool, not visible from JS
}

/**
 * Start the best available backend (or `prefer` first, then the usual order). Idempotent: calling it again
 * returns the current backend unless a different one is asked for.
 */
export async function initBackend(prefer?: BackendName): Promise<BackendInfo> {
  const envForced = process.env.WINNOW_BACKEND?.trim();
  if (envForced && !BACKEND_ORDER.includes(envForced as BackendName)) {
    throw new WinnowError('bad_input', `WINNOW_BACKEND="${envForced}" is not a backend (use one of: ${BACKEND_ORDER.join(', ')})`);
  }
  const forced = envForced as BackendName | undefined;
  const want = forced ?? prefer;
  const last = getBackendInfo();
  if (last && (!want || last.name === want) && tf.getBackend() === last.name) return last;

  const order = forced ? [forced] : want ? [want, ...BACKEND_ORDER.filter((b) => b !== want)] : BACKEND_ORDER;
  const unavailable: BackendInfo['unavailable'] = [];
  for (const name of order) {
    const r = await tryOne(name, name === want);
    if (!r.ok) {
      unavailable.push({ name, why: r.why });
      continue;
    }
    await tf.ready();
    const via = r.note ? ` (${r.note})` : '';
    let reason: string;
    if (forced) reason = `forced by WINNOW_BACKEND=${forced}${via}`;
    else if (want === name) reason = `requested${via}`;
    else if (unavailable.length) reason = `best available${via}: ${unavailable.map((u) => `${u.name}: ${u.why}`).join('; ')}`;
    else reason = `best available${via}`;
    const threads = threadsOf(name);
    if (name === 'wasm') {
      reason += threads > 1 ? `; ${threads} threads (WINNOW_WASM_THREADS)` : '; 1 thread (set WINNOW_WASM_THREADS=n for more)';
    }
    return setBackendInfo(r.adapter ? { name, reason, unavailable, threads, adapter: r.adapter } : { name, reason, unavailable, threads });
  }
  throw new WinnowError(
    'unsupported',
    `no TF.js backend could start: ${unavailable.map((u) => `${u.name}: ${u.why}`).join('; ')}`,
    { unavailable },
  );
}
