/**
 * The compute worker: initialises the TF.js backend once, then runs one job at a time for the engine host.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { getPriority, setPriority } from 'node:os';
import { initBackend } from '../compute/backend';
import { runJob } from './runners';
import { toErrorValue } from '../util/errors';
import type { WorkerJobSpec } from './worker-client';
import type { JobProgress } from './types';

const port = parentPort!;
const cancelFlag: Int32Array = workerData.cancelFlag;

/**
 * Jobs run at a lower CPU priority than the engine host's thread, so table queries keep their latency while a job
 * computes (bench/concurrency.ts, 100k rows, 2 loaded cores: the p95 of 20 concurrent queries while scoring went
 * from 1.5–2.8× idle to 0.7–0.8×). The price: a job gets only the CPU the host leaves while queries pour in. On
 * Linux a nice value is per thread, so this lowers only this worker (and the threads it starts), not the host.
 * WINNOW_COMPUTE_NICE (0–19, default 10) is how many nice steps below the host it runs; 0 leaves it alone.
 */
function lowerPriority(): void {
  const nice = Number(process.env.WINNOW_COMPUTE_NICE ?? 10);
  if (process.platform !== 'linux' || !Number.isInteger(nice) || nice <= 0 || nice > 19) return;
  try {
    setPriority(Math.min(19, getPriority() + nice));
  } catch {
    // not permitted in this sandbox: run at normal priority
  }
}

async function main(): Promise<void> {
  lowerPriority();
  // the app's saved choice (app.setBackend), null for the usual order; WINNOW_BACKEND wins over it in initBackend
  const backend = await initBackend(workerData.prefer ?? undefined);
  port.postMessage({ t: 'ready', backend });
  port.on('message', async (msg: { t: 'run'; spec: WorkerJobSpec }) => {
    if (msg.t !== 'run') return;
    const { spec } = msg;
    let lastPost = 0;
    try {
      const outcome = await runJob(spec.kind, {
        jobId: spec.jobId,
        dbPath: spec.dbPath,
        projectDir: spec.projectDir,
        params: spec.params,
        isCancelled: () => Atomics.load(cancelFlag, 0) === 1,
        progress: (progress: JobProgress) => {
          const now = Date.now();
          // metrics always go through; plain progress at most every 100 ms
          if (!progress.metric && now - lastPost < 100 && progress.current < progress.total) return;
          lastPost = now;
          port.postMessage({ t: 'progress', jobId: spec.jobId, progress });
        },
        log: (level, message) => port.postMessage({ t: 'log', jobId: spec.jobId, level, message }),
      });
      port.postMessage({ t: 'done', jobId: spec.jobId, outcome });
    } catch (err) {
      port.postMessage({ t: 'failed', jobId: spec.jobId, error: toErrorValue(err) });
    }
  });
}

main().catch((err) => {
  // a backend that cannot start is fatal for the worker; the host reports it
  console.error('[compute-worker]', err);
  process.exit(1);
});
