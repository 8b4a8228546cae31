/**
 * Multithreaded tfjs-backend-wasm under Node. tfjs 4.22 turns threads off in Node (WASM_HAS_MULTITHREAD_SUPPORT is
 * false when IS_NODE, tensorflow/tfjs#3830) because its Emscripten glue starts pthread workers from Blob URLs, which
 * Node's worker_threads cannot load. What this does, only while the backend initialises:
 *  - Blob is replaced by a subclass that remembers its text, and URL.createObjectURL writes such a Blob to a temp
 *    .cjs file and returns its path (worker_threads loads paths). The main-script Blob (the Emscripten factory's
 *    source) is written with the bundle-scope names it refers to (require$$0.. = fs, path, perf_hooks, os).
 *  - The pthread worker script is prefixed so its own createObjectURL returns that main-script file.
 *  - os.cpus() reports twice the cores: the C++ side caps threads at cores / 2 (it assumes hyper-threading).
 *  - worker_threads.Worker starts workers with no execArgv: they would inherit ours (tsx/vitest loader flags).
 * After init the pthread workers are unref'd: XNNPACK's pool threads never end, and Emscripten refs running
 * pthreads so a C program's threads keep Node alive — here they would keep every process from exiting.
 * Everything is restored right after. XNNPACK then runs matmuls (and other XNNPACK ops) on `threads` threads; the
 * pthreads are Node worker threads, so this also works inside our compute worker.
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setThreadsCount } from '@tensorflow/tfjs-backend-wasm';

const BUNDLE_NAMES =
  "var require$$0=require('fs'),require$$1=require('path'),require$$3=require('perf_hooks'),require$$4=require('os'),commonjsGlobal=globalThis;\n";

type Unref = { unref?: () => void };

/** Run `init` (which must start the wasm backend) with the threaded build enabled for `threads` threads. */
export async function withWasmThreads<T>(threads: number, init: () => Promise<T>): Promise<T> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'winnow-wasm-threads-'));
  // pthread workers read these files as they start, which may be after init resolves: remove them at exit
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  const mainFile = path.join(dir, 'main.cjs');
  const OrigBlob = globalThis.Blob;
  const origCreate = URL.createObjectURL;
  const origCpus = os.cpus;
  class TextBlob extends OrigBlob {
    readonly text_: string;
    constructor(parts: Array<string | ArrayBuffer>, opts?: { type?: string }) {
      super(parts, opts);
      this.text_ = parts.map((p) => (typeof p === 'string' ? p : '')).join('');
      if (this.text_.startsWith('var WasmBackendModuleThreadedSimd')) fs.writeFileSync(mainFile, BUNDLE_NAMES + this.text_);
    }
  }
  let n = 0;
  globalThis.Blob = TextBlob as unknown as typeof Blob;
  URL.createObjectURL = (b: Blob) => {
    if (!(b instanceof TextBlob)) return origCreate(b);
    const file = path.join(dir, `worker${n++}.cjs`);
    fs.writeFileSync(file, `URL.createObjectURL=()=>${JSON.stringify(mainFile)};URL.revokeObjectURL=()=>{};\n${b.text_}`);
    return file;
  };
  os.cpus = () => {
    const c = origCpus();
    return [...c, ...c];
  };
  const wt = createRequire(import.meta.url)('node:worker_threads') as { Worker: new (f: string, o?: object) => unknown };
  const OrigWorker = wt.Worker;
  wt.Worker = class extends (OrigWorker as new (f: string, o?: object) => object) {
    constructor(file: string, opts?: object) {
      super(file, { ...opts, execArgv: [] });
    }
  };
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  setThreadsCount(threads);
  try {
    const out = await init();
    const pt = (tf.findBackend('wasm') as unknown as { wasm?: { PThread?: { unusedWorkers: Unref[]; runningWorkers: Unref[] } } } | null)?.wasm?.PThread;
    for (const w of [...(pt?.unusedWorkers ?? []), ...(pt?.runningWorkers ?? [])]) w.unref?.();
    return out;
  } finally {
    globalThis.Blob = OrigBlob;
    URL.createObjectURL = origCreate;
    os.cpus = origCpus;
    wt.Worker = OrigWorker;
  }
}
