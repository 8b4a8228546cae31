/**
 * The compute worker: initialises the TF.js backend once, then runs one job at a time for the engine host.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend } from './backend';
import { runJob } from '../jobs/runners';
import { toErrorValue } from '../util/errors';
import type { WorkerJobSpec } from '../jobs/worker-client';
import type { JobProgress } from '../jobs/types';

const port = parentPort!;
const cancelFlag: Int32Array = workerData.cancelFlag;

async function main(): Promise<void> {
  const backend = await initBackend();
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
