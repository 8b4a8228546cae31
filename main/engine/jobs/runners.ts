/** Job kind → implementation. Imported by the compute worker and by the CLI (in-process); not by the engine host. */
import type { JobKind } from '../../../preload/contract';
import type { JobContext, JobOutcome, JobRunner } from './types';
import { runImportJob } from '../data/import-job';
import { runScoreJob } from '../scoring/run';
import { runTrainJob } from '../training/run';
import { runExportJob } from '../export/run';
import { runClusterJob } from '../selection/clusters';
import { runUmapJob } from '../selection/umap';
import { runSelectJob } from '../selection/subsets';
import { udsSelect } from '../training/uds-select';
import { runParamMaskJob } from '../scoring/param-masks-job';
import { getBackendInfo } from '../compute/backend-info';
import { runEvalJob } from '../eval/job';

const RUNNERS: Record<JobKind, JobRunner> = {
  import: runImportJob,
  // the import job's code re-maps too (params.remap): same index, render and duplicates after it
  remap: runImportJob,
  score: runScoreJob,
  train: runTrainJob,
  export: runExportJob,
  param_mask: runParamMaskJob,
  cluster: runClusterJob,
  umap: runUmapJob,
  select: (ctx) => runSelectJob(ctx, udsSelect),
  // one runner: a generate job is an eval job that only writes completions (and the reference's token losses)
  generate: runEvalJob,
  eval: runEvalJob,
};

export function runJob(kind: JobKind, ctx: JobContext): Promise<JobOutcome> {
  return RUNNERS[kind](ctx);
}

/** Runs jobs in the calling thread (CLI, tests): same runners, no worker. */
export class InProcessExecutor {
  private cancelled = false;
  /** the backend this process started (initBackend), so memory checks use its limits, not wasm's */
  get backend(): import('../../../preload/contract').BackendInfo | null {
    return getBackendInfo();
  }
  async run(
    spec: { jobId: string; kind: JobKind; dbPath: string; projectDir: string; params: Record<string, unknown> },
    onProgress: (p: import('./types').JobProgress) => void,
    onLog: (level: 'info' | 'warn' | 'error', message: string) => void,
  ): Promise<JobOutcome> {
    this.cancelled = false;
    return runJob(spec.kind, {
      ...spec,
      progress: onProgress,
      log: onLog,
      isCancelled: () => this.cancelled,
    });
  }
  cancel(): void {
    this.cancelled = true;
  }
}
