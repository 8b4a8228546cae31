/**
 * Evaluation: a model (the base or a train run's) answering held-out rows, with task metrics and token losses.
 */
import { z } from 'zod';
import { id, type JobStatus } from './common';

/** generate / eval jobs: the evaluation run to fill (eval_runs holds what it was asked, eval.start) */
export const EvalJobParamsSchema = z.object({ evalRunId: id });

/** A model evaluated on a held-out set (Playground, experiment report): the base, or a train run's model. */
export interface EvalRunInfo {
  id: number;
  kind: 'generate' | 'eval';
  jobId: string | null;
  modelId: number;
  /** null: the base model itself */
  trainRunId: number | null;
  /** the run's adapter applied to the base (else its merged model folder) */
  adapter: boolean;
  subsetId: number | null;
  dataPath: string | null;
  status: JobStatus;
  totalRows: number;
  doneRows: number;
  params: { metrics: Array<'exact_match' | 'accuracy' | 'loss'>; answerRegex?: string; maxNewTokens: number; maxTokens: number; limit?: number };
  /** set when it finished: shares of rows right (null: not asked or no row checkable), token-weighted loss and exp(loss) */
  metrics: { n: number; exact_match: number | null; accuracy: number | null; loss: number | null; perplexity: number | null; tokens: number } | null;
  createdAt: string;
}

/** One held-out row as a model answered it, with its loss on each token of the reference conversation. */
export interface EvalRowView {
  rowIndex: number;
  exampleId: number | null;
  prompt: string;
  reference: string | null;
  completion: string | null;
  finishReason: string | null;
  prediction: string | null;
  referenceAnswer: string | null;
  correct: boolean | null;
  labelPrediction: string | null;
  labelCorrect: boolean | null;
  /** the reference conversation's tokens; label: an answer token (the loss counts it) */
  tokens: Array<{ text: string; label: boolean }>;
  /** −log p of each token given the ones before (null for the first) */
  tokenLoss: Array<number | null>;
  /** mean over the answer tokens (null when none) */
  loss: number | null;
}

/** eval.*: each call's input schema (composed into ApiInputs, index.ts). */
export const EvalInputs = {
  /**
   * start a `generate` or `eval` job: the base model (modelId), or train run `trainRunId`'s merged model (or the base
   * with its adapter), on held-out rows — a subset's, or a data file's — saved with the run in the project
   */
  'eval.start': z.object({
    kind: z.enum(['generate', 'eval']).default('eval'),
    modelId: id,
    trainRunId: id.optional(),
    adapter: z.boolean().default(false),
    subsetId: id.optional(),
    dataPath: z.string().min(1).max(4096).optional(),
    limit: z.number().int().positive().max(100_000).optional(),
    metrics: z.array(z.enum(['exact_match', 'accuracy', 'loss'])).min(1).default(['exact_match', 'loss']),
    answerRegex: z.string().min(1).max(1000).optional(),
    labels: z.array(z.string().min(1)).min(2).max(1000).optional(),
    maxNewTokens: z.number().int().positive().max(4096).default(64),
    temperature: z.number().min(0).max(10).optional(),
    seed: z.number().int().optional(),
    batchSize: z.number().int().positive().max(256).default(4),
    maxTokens: z.number().int().positive().max(1 << 16).default(512),
  }),
  /** evaluation runs, newest first (of one train run, or of the base with trainRunId 0) */
  'eval.list': z.object({ trainRunId: z.number().int().min(0).optional() }),
  'eval.rows': z.object({ evalRunId: id, offset: z.number().int().min(0).default(0), limit: z.number().int().min(1).max(500).default(50) }),
} as const;

/** eval.*: each call's output. */
export interface EvalOutputs {
  'eval.start': { jobId: string; evalRunId: number };
  'eval.list': EvalRunInfo[];
  'eval.rows': EvalRowView[];
}
