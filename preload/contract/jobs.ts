/**
 * Jobs: every job kind's params schema (what a `*.start` call takes, what the job runner parses a job's stored
 * params with before the job function sees them, main/engine/util/job-context.ts jobParams, and what the CLI builds)
 * and the jobs list. Adding a job kind is adding its schema to `JobParamsSchemas` (docs/contributing.md).
 *
 * A job's params are stored as JSON in the project (jobs.params_json) and read again when it resumes, possibly by a
 * newer version: a field added later must stay optional (or take a default that means what its absence meant).
 */
import { z } from 'zod';
import type { ApiError, JobStatus } from './common';
import { ImportJobParamsSchema } from './datasets';
import { EvalJobParamsSchema } from './eval';
import { ExportRequestSchema } from './export';
import { ClusterRequestSchema, UmapRequestSchema } from './map';
import { ParamMaskRequestSchema } from './masks';
import { ScoreJobParamsSchema } from './scoring';
import { SelectRequestSchema } from './subsets';
import { TrainJobParamsSchema } from './training';

/**
 * Every job kind → the schema of its params. The job kind names (`JobKind`) are this object's keys, and the job
 * function of each kind (main/engine/jobs/runners.ts) receives `JobParams<kind>`.
 */
export const JobParamsSchemas = {
  import: ImportJobParamsSchema,
  // the import job's code re-maps too (params.remap)
  remap: ImportJobParamsSchema,
  score: ScoreJobParamsSchema,
  train: TrainJobParamsSchema,
  export: ExportRequestSchema,
  param_mask: ParamMaskRequestSchema,
  cluster: ClusterRequestSchema,
  umap: UmapRequestSchema,
  select: SelectRequestSchema,
  // a generate job is an eval job that only writes completions (and the reference's token losses)
  generate: EvalJobParamsSchema,
  eval: EvalJobParamsSchema,
} as const;
/**
 * The job kinds. import: a file (or finishing a search index); remap: a stored dataset with a new mapping; cluster:
 * K-means on embedding; umap: a Map layout; select: a subset rule too slow to answer at once (k-center); generate /
 * eval: a model (the base or a train run) answering held-out rows, with task metrics for eval
 */
export type JobKind = keyof typeof JobParamsSchemas;
/** a job's params as its job function reads them (defaults filled) */
export type JobParams<K extends JobKind> = z.output<(typeof JobParamsSchemas)[K]>;
/** a job's params as a caller may write them (fields with defaults optional) */
export type JobParamsInput<K extends JobKind> = z.input<(typeof JobParamsSchemas)[K]>;

export interface Job {
  jobId: string;
  kind: JobKind;
  status: JobStatus;
  current: number;
  total: number;
  etaSeconds: number | null;
  message: string;
  /** kind-specific figures: examples/s, tokens/s, loss, output paths … */
  stats: Record<string, number | string>;
  error: ApiError | null;
  /** true when a failed/cancelled job has a saved cursor and can continue */
  resumable: boolean;
  createdAt: string;
  updatedAt: string;
}

/** jobs.*: each call's input schema (composed into ApiInputs, index.ts). */
export const JobsInputs = {
  'jobs.list': z.object({}),
  'jobs.cancel': z.object({ jobId: z.string().min(1) }),
  'jobs.resume': z.object({ jobId: z.string().min(1) }),
  /** drop a failed or cancelled job's saved state, so it can no longer resume (parameter-mask jobs) */
  'jobs.discard': z.object({ jobId: z.string().min(1) }),
  /** remove finished, failed and cancelled jobs from the list (their runs, datasets and files stay) */
  'jobs.clear': z.object({}),
} as const;

/** jobs.*: each call's output. */
export interface JobsOutputs {
  'jobs.list': Job[];
  'jobs.cancel': Job;
  'jobs.resume': Job;
  'jobs.discard': Job;
  'jobs.clear': { cleared: number };
}
