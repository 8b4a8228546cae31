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
import type { BackendInfo, BackendName } from '../../../preload/contract';
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
  /** setPreference is replacing the worker: `ready` already stands for the switch's outcome */
  private switching = false;

  /**
   * env: added to the worker's environment. prefer: the backend its TF.js starts first (the app's saved choice;
   * WINNOW_BACKEND still wins), null for the usual order.
   */
  constructor(
    private readonly env: Record<string, string> = {},
    private prefer: BackendName | null = null,
  ) {}

  start(): Promise<BackendInfo> {
    this.ready ??= this.spawn(this.prefer).then((backend) => (this.backend = backend));
    return this.ready;
  }

  /** A job runs in the worker now. */
  get busy(): boolean {
    return this.current !== null;
  }

  /**
   * Restart the worker on `prefer` (null: automatic). initBackend falls back to the next backend when the asked one
   * does not start; that counts as a failure here: the worker is started again on the previous preference and this
   * throws, naming the backend and why (details: backend, why). Jobs that start meanwhile wait for the worker.
   */
  async setPreference(prefer: BackendName | null): Promise<BackendInfo> {
    if (this.current) throw new WinnowError('conflict', 'a job is running in the compute worker: the backend cannot be switched under it');
    if (prefer === this.prefer && this.backend && this.worker) return this.backend;
    const previous = this.prefer;
    // app.info waits for the new backend rather than naming the one that is stopping
    this.backend = null;
    this.switching = true;
    const attempt = this.switchTo(prefer, previous).finally(() => (this.switching = false));
    const ready = attempt.then((r) => (this.backend = r.backend));
    this.ready = ready;
    // neither worker started: the next job starts one afresh
    ready.catch(() => this.ready === ready && (this.ready = null));
    const r = await attempt;
    if (r.failed === null) return r.backend;
    throw new WinnowError('unsupported', `${prefer ?? 'automatic'} did not start: ${r.failed}; still on ${r.backend.name}`, { backend: prefer, why: r.failed });
  }

  private async switchTo(prefer: BackendName | null, previous: BackendName | null): Promise<{ backend: BackendInfo; failed: string | null }> {
    await this.terminate();
    const started = await this.spawn(prefer).catch((err: Error) => err);
    if (!(started instanceof Error) && (prefer === null || started.name === prefer)) {
      this.prefer = prefer;
      return { backend: started, failed: null };
    }
    const why = started instanceof Error ? started.message : (started.unavailable.find((u) => u.name === prefer)?.why ?? `${started.name} started instead`);
    await this.terminate();
    return { backend: await this.spawn(previous), failed: why };
  }

  /** A new worker whose TF.js starts `prefer` first (then the usual order); resolves with its backend once it is up. */
  private spawn(prefer: BackendName | null): Promise<BackendInfo> {
    const entry = resolveWorkerEntry();
    const env = { ...process.env, ...this.env };
    // software WebGPU asked for (WINNOW_BACKEND, else the app's choice): VK_ICD_FILENAMES must be in the real
    // environment, which a worker cannot set
    prepareWorkerVulkan(prefer === 'webgpu' && !env.WINNOW_BACKEND?.trim() ? { ...env, WINNOW_BACKEND: 'webgpu' } : env);
    const worker = new Worker(entry.file, {
      eval: entry.eval,
      workerData: { cancelFlag: this.cancelFlag, prefer },
      env,
    });
    this.worker = worker;
    return new Promise<BackendInfo>((resolve, reject) => {
      worker.on('message', (msg: FromWorker) => {
        if (msg.t === 'ready') {
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
        // a worker replaced by a switch exits after its successor started: it must not forget the successor
        if (this.worker === worker) {
          this.worker = null;
          if (!this.switching) this.ready = null;
        }
        reject(new WinnowError('internal', `compute worker exited with code ${code}`));
        this.failCurrent(new WinnowError('internal', `compute worker exited with code ${code} during the job`));
      });
    });
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
    this.ready = null;
    await this.terminate();
  }

  private async terminate(): Promise<void> {
    const w = this.worker;
    this.worker = null;
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
