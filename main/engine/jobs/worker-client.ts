/**
 * Runs jobs in the compute worker thread so TF.js work never blocks the engine host's table queries.
 * Cancellation is a shared flag (Atomics) because a busy worker does not read messages until it yields.
 */
import { prepareWorkerVulkan } from '../compute/vulkan-env';
import { Worker } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';
import type { JobKind } from '../../../preload/contract';
import type { JobOutcome, JobProgress } from './types';
import type { BackendInfo } from '../../../preload/contract';
import { WinnowError } from '../util/errors';

export interface WorkerJobSpec {
  jobId: string;
  kind: JobKind;
  dbPath: string;
  projectDir: string;
  params: Record<string, unknown>;
}

type FromWorker =
  | { t: 'ready'; backend: BackendInfo }
  | { t: 'progress'; jobId: string; progress: JobProgress }
  | { t: 'log'; jobId: string; level: 'info' | 'warn' | 'error'; message: string }
  | { t: 'done'; jobId: string; outcome: JobOutcome }
  | { t: 'failed'; jobId: string; error: { code: string; message: string; details?: Record<string, unknown> } };

/**
 * Where the worker entry is: the built `compute-worker.js` beside the bundle, or — running from sources (tests, tsx) —
 * a small bootstrap that registers tsx's loader inside the worker (loader flags of the parent do not reach workers).
 */
export function resolveWorkerEntry(): { file: string | URL; eval: boolean } {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const dir of [here, join(here, '..'), join(here, '..', '..')]) {
    const built = join(dir, 'compute-worker.js');
    if (existsSync(built)) return { file: built, eval: false };
  }
  const source = join(here, 'worker.ts');
  if (existsSync(source)) {
    const api = createRequire(import.meta.url).resolve('tsx/esm/api').replace(/index\.cjs$/, 'index.mjs');
    const code = `import(${JSON.stringify(pathToFileURL(api).href)}).then((m) => { m.register(); return import(${JSON.stringify(pathToFileURL(source).href)}); });`;
    return { file: code, eval: true };
  }
  throw new WinnowError('internal', `compute worker not found near ${here}; run "npm run build"`);
}

export class WorkerClient {
  private worker: Worker | null = null;
  private ready: Promise<BackendInfo> | null = null;
  private cancelFlag = new Int32Array(new SharedArrayBuffer(4));
  private current: {
    spec: WorkerJobSpec;
    onProgress: (p: JobProgress) => void;
    onLog: (level: 'info' | 'warn' | 'error', message: string) => void;
    resolve: (o: JobOutcome) => void;
    reject: (e: unknown) => void;
  } | null = null;
  backend: BackendInfo | null = null;

  constructor(private readonly env: Record<string, string> = {}) {}

  start(): Promise<BackendInfo> {
    if (this.ready) return this.ready;
    const entry = resolveWorkerEntry();
    // software WebGPU asked for: VK_ICD_FILENAMES must be in the real environment, which a worker cannot set
    prepareWorkerVulkan({ ...process.env, ...this.env });
    const worker = new Worker(entry.file, {
      eval: entry.eval,
      workerData: { cancelFlag: this.cancelFlag },
      env: { ...process.env, ...this.env },
    });
    this.worker = worker;
    this.ready = new Promise<BackendInfo>((resolve, reject) => {
      worker.on('message', (msg: FromWorker) => {
        if (msg.t === 'ready') {
          this.backend = msg.backend;
          resolve(msg.backend);
          return;
        }
        this.onMessage(msg);
      });
      worker.on('error', (err) => {
        reject(err);
        this.failCurrent(new WinnowError('internal', `compute worker crashed: ${err.message}`));
      });
      worker.on('exit', (code) => {
        this.worker = null;
        this.ready = null;
        reject(new WinnowError('internal', `compute worker exited with code ${code}`));
        this.failCurrent(new WinnowError('internal', `compute worker exited with code ${code} during the job`));
      });
    });
    return this.ready;
  }

  /**
   * The backend the worker runs (or will run once it is up). The worker is started with the engine, but its TF.js
   * start takes seconds; `app.info` waits for it here, so a page that connects right after a (re)start still
   * shows the real backend rather than none.
   */
  whenBackend(): Promise<BackendInfo> {
    return this.start();
  }

  async run(
    spec: WorkerJobSpec,
    onProgress: (p: JobProgress) => void,
    onLog: (level: 'info' | 'warn' | 'error', message: string) => void,
  ): Promise<JobOutcome> {
    if (this.current) throw new WinnowError('conflict', 'the compute worker is busy');
    await this.start();
    Atomics.store(this.cancelFlag, 0, 0);
    return new Promise<JobOutcome>((resolve, reject) => {
      this.current = { spec, onProgress, onLog, resolve, reject };
      this.worker!.postMessage({ t: 'run', spec });
    });
  }

  cancel(): void {
    Atomics.store(this.cancelFlag, 0, 1);
  }

  async stop(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    this.ready = null;
    if (w) await w.terminate();
  }

  private failCurrent(err: unknown): void {
    const cur = this.current;
    this.current = null;
    cur?.reject(err);
  }

  private onMessage(msg: FromWorker): void {
    const cur = this.current;
    if (!cur || msg.t === 'ready' || msg.jobId !== cur.spec.jobId) return;
    if (msg.t === 'progress') cur.onProgress(msg.progress);
    else if (msg.t === 'log') cur.onLog(msg.level, msg.message);
    else if (msg.t === 'done') {
      this.current = null;
      cur.resolve(msg.outcome);
    } else if (msg.t === 'failed') {
      this.current = null;
      cur.reject(new WinnowError(msg.error.code as never, msg.error.message, msg.error.details));
    }
  }
}
