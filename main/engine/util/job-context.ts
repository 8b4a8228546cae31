/**
 * The interface between the job runner (jobs/) and the job functions it runs (scoring, training, selection, export,
 * data import). It sits at the bottom of the engine so those functions can take a JobContext without importing the
 * runner above them.
 */
import { JobParamsSchemas, type JobKind, type JobParams } from '../../../preload/contract';
import { WinnowError } from './errors';

/** What a job implementation sees. The same runner works in the compute worker, in the CLI (in-process) and in tests. */
export interface JobContext {
  jobId: string;
  /** the project's SQLite file; runners open their own connection (SQLite WAL allows the host to keep reading) */
  dbPath: string;
  projectDir: string;
  params: Record<string, unknown>;
  /** report progress; cheap to call often (throttled by the transport) */
  progress(update: JobProgress): void;
  /** true once cancel was requested; runners check it between batches and then throw `cancelledError()` */
  isCancelled(): boolean;
  log(level: 'info' | 'warn' | 'error', message: string): void;
}

export interface JobProgress {
  current: number;
  total: number;
  message?: string;
  etaSeconds?: number | null;
  stats?: Record<string, number | string>;
  /** optional structured side channel, e.g. a training metric to push as its own event */
  metric?: { runId: number; step: number; split: 'train' | 'eval'; loss: number; lr: number; tokensPerSec: number };
}

export interface JobOutcome {
  stats: Record<string, number | string>;
  message: string;
}

export type JobRunner = (ctx: JobContext) => Promise<JobOutcome>;

/**
 * A job's params, parsed with its kind's schema (preload/contract/jobs.ts) once as the job function starts: defaults
 * filled, types checked, so no job function casts `ctx.params` by hand. Params stored by an older version parse too
 * (fields added since are optional). Bad params fail the job before it touches anything, naming the field.
 */
export function jobParams<K extends JobKind>(kind: K, ctx: Pick<JobContext, 'params'>): JobParams<K> {
  const parsed = JobParamsSchemas[kind].safeParse(ctx.params);
  if (parsed.success) return parsed.data as JobParams<K>;
  const issue = parsed.error.issues[0];
  const field = issue && issue.path.length ? issue.path.join('.') : '(params)';
  throw new WinnowError('bad_input', `${kind} job params: field "${field}": ${issue?.message ?? 'invalid'}`);
}
