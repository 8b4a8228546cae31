import type { JobParams } from '../../../preload/contract';

/**
 * A scoring job's parameters (job kind `score`), as run.ts and gradient-pass.ts read them: the scoring.start input as
 * the service resolved it, parsed with preload/contract/scoring.ts ScoreJobParamsSchema (each field's meaning is there).
 * Absent fields keep the meaning they had before their option existed: no `historyModelId` (sstoken's history was
 * `refModelId`, passes/reference.ts historyModelOf), no `fimLoss` (the mean, gradient-pass.ts fimLossOf), no `rows`
 * (every row of the dataset).
 */
export type ScoreParams = JobParams<'score'>;
