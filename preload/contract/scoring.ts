/**
 * Scoring: which signals to compute on which rows with which models, the plan, and the runs recorded.
 */
import { z } from 'zod';
import { id, signalName } from './common';
import { LoraConfigSchema } from './training';

/**
 * The rows a scoring run covers: all of them, a subset's rows (its name at the time is recorded with the run), or a
 * seeded random sample of n rows (the rows a `random` subset rule with the same n and seed picks).
 */
export const RowScopeSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('all') }),
  z.object({ kind: z.literal('subset'), subsetId: z.number().int().positive(), name: z.string().optional() }),
  z.object({ kind: z.literal('sample'), n: z.number().int().positive().max(100_000_000), seed: z.number().int().default(0) }),
]);
export type RowScope = z.infer<typeof RowScopeSchema>;

/** scoring.start: which signals to compute on which rows with which models */
export const ScoreRequestSchema = z.object({
  modelId: id,
  datasetId: id.optional(),
  signals: z.array(signalName).min(1),
  /** excess_loss, learnability: the LATER reference model (e.g. the one tuned from the scored model) */
  refModelId: id.optional(),
  /** sstoken: the EARLIER history model (e.g. the base the scored model was tuned from) */
  historyModelId: id.optional(),
  batchSize: z.number().int().positive().max(256).default(8),
  maxTokens: z.number().int().positive().max(1 << 16).default(512),
  /** gradient signals (fim, layer_grad_norm): how many examples, drawn with `seed` from the dataset or `subsetId` */
  fimExamples: z.number().int().positive().max(100_000).optional(),
  /** fim, layer_grad_norm: each example's gradient is that of its summed response NLL Σ_t ℓ_t ('sum', as surgical
   * fine-tuning's fim_calculator.py differentiates one scalar per example) or of its mean Σ_t ℓ_t / T ('mean') */
  fimLoss: z.enum(['sum', 'mean']).default('sum'),
  seed: z.number().int().optional(),
  subsetId: id.optional(),
  /** grad_norm / grad_sim_base: the parameters the gradient is taken over, as a layer spec (default all) */
  gradLayers: z.string().min(1).max(10_000).optional(),
  /** grad_sim_base / grad_sim: projection dimension d (default 1024 / LESS's 8192) and the target set whose mean
   * gradient examples are compared with */
  gradDim: z.number().int().min(8).max(65_536).optional(),
  targetSubsetId: id.optional(),
  /** grad_sim (LESS): several target subsets, one per subtask — mean cosine within each, max across them */
  targetSubsetIds: z.array(id).min(1).max(64).optional(),
  /** grad_sim (LESS): instead, an example column (e.g. `cluster`, or an imported task id) whose values among the
   * target set's examples are its subtasks */
  targetColumn: z.string().regex(/^[a-z][a-z0-9_]*$/).max(64).optional(),
  /** grad_sim (LESS): the LoRA warm-up run whose kept checkpoints give the gradients, Adam states and learning rates */
  lessRunId: id.optional(),
  /** grad_sim (LESS), instead of lessRunId: train the warm-up first, as an ordinary subset and training run queued
   * before the scoring — LoRA on a seeded random `percent`% of the scope for `epochs` epochs, keeping `checkpoints`
   * (LESS: 5%, 4 epochs, one checkpoint per epoch; batch 4, linear lr with 3% warm-up) */
  lessWarmup: z.object({
    percent: z.number().gt(0).max(100).default(5),
    epochs: z.number().int().positive().max(1000).default(4),
    checkpoints: z.number().int().positive().max(100).default(4),
    lora: LoraConfigSchema.default({ r: 8, alpha: 32, dropout: 0, targets: ['attention'], rslora: false }),
    /** the blocks that carry adapters (a layer spec) */
    layers: z.string().min(1).max(10_000).default('all'),
    lr: z.number().positive().max(1).default(2e-5),
    batchSize: z.number().int().positive().max(512).default(4),
    seed: z.number().int().default(0),
  }).optional(),
  /** sstoken: γ, the weight of the loss-difference term against the attention term (default 0.5) */
  sstokenGamma: z.number().min(0).max(1).optional(),
  /** a PEFT LoRA adapter folder (adapter_config.json + adapter_model.safetensors) applied to the scored model */
  adapterPath: z.string().min(1).max(4096).optional(),
  /** score only this subset's rows (the CLI's `score --shard I/N`: one process's share of the file) */
  onlySubsetId: id.optional(),
  /** which rows of the dataset to score (default all) */
  rows: RowScopeSchema.optional(),
});

/**
 * score jobs: the scoring.start input as the service resolved it (the subset scope's name, the LESS warm-up run, the
 * model's folder). `fimLoss` has no default here: a job stored before the option was the mean (scoring/gradient-pass.ts
 * fimLossOf), so its absence must stay absent.
 */
export const ScoreJobParamsSchema = ScoreRequestSchema.omit({ lessWarmup: true, fimLoss: true }).extend({
  fimLoss: z.enum(['sum', 'mean']).optional(),
  projectModelPath: z.string().min(1),
});

export interface ScorePlan {
  passes: Array<{
    model: string;
    /** text: exact_dup / near_dup, computed at import without a model (model 'none'); the run records them */
    kind: 'forward' | 'forward_answer_only' | 'forward_reverse' | 'forward_instruction_only' | 'backward' | 'text';
    signals: string[];
    /** examples this pass runs over, and its share of the estimate */
    examples?: number;
    estimatedSeconds?: number | null;
  }>;
  examples: number;
  estimatedSeconds: number | null;
  /** the rows scored, in words: "all rows", "subset 'target' (5 rows)", "random 500, seed 0" */
  rows: string;
}

export interface ScoreRunInfo {
  id: number;
  /** given by a rename (items.rename); runs are numbered */
  label: string | null;
  jobId: string | null;
  modelId: number | null;
  modelName: string | null;
  datasetId: number | null;
  /** "all datasets" for a run over every dataset; null when its dataset is gone */
  datasetName: string | null;
  signals: string[];
  status: string;
  rows: RowScope;
  /** the rows in words: "all rows (120 rows)", "subset 'target' (5 rows)", "random 500, seed 0" */
  rowsText: string;
  createdAt: string;
  finishedAt: string | null;
}

/** scoring.*: each call's input schema (composed into ApiInputs, index.ts). */
export const ScoringInputs = {
  'scoring.start': ScoreRequestSchema,
  /** every score run (clusterings and map layouts too), newest first, with the rows it covered */
  'scoring.runs': z.object({}),
} as const;

/** scoring.*: each call's output. */
export interface ScoringOutputs {
  /** lessRunId: the warm-up run `lessWarmup` queued before the scoring */
  'scoring.start': { jobId: string; plan: ScorePlan; lessRunId?: number };
  'scoring.runs': ScoreRunInfo[];
}
