import type { JobKind } from '../../../preload/contract';

export type { JobContext, JobProgress, JobOutcome, JobRunner } from '../util/job-context';

/**
 * kinds that keep their finished work when stopped (generate and eval: the rows saved per batch); a param_mask job only once its pass has saved state, an import
 * only once its rows are committed (it then finishes the search index, render and duplicates)
 */
export const RESUMABLE_KINDS: ReadonlySet<JobKind> = new Set<JobKind>(['score', 'train', 'param_mask', 'import', 'generate', 'eval']);
/** kinds whose saved state `jobs.discard` can drop (a score or train run keeps its results with the run) */
export const DISCARDABLE_KINDS: ReadonlySet<JobKind> = new Set<JobKind>(['param_mask']);
