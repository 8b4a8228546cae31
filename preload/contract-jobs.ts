/**
 * The parameters of every job kind, as zod schemas: what a `*.start` call takes (preload/contract.ts's ApiInputs use
 * these), what the job runner parses a job's stored params with before the job function sees them
 * (main/engine/util/job-context.ts jobParams), and what the CLI builds. One schema per kind, in `JobParamsSchemas`
 * at the end of this file: adding a job kind is adding its schema there (docs/contributing.md).
 *
 * A job's params are stored as JSON in the project (jobs.params_json) and read again when it resumes, possibly by a
 * newer version: a field added later must stay optional (or take a default that means what its absence meant).
 *
 * Like contract.ts, this file is imported by Node code and by the renderer, so it imports nothing but zod.
 */
import { z } from 'zod';

export const id = z.number().int().positive();
export const signalName = z.string().regex(/^[a-z][a-z0-9_]*$/, 'signal names are lower_snake_case');

export const SubsetRuleSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('all') }),
  z.object({
    kind: z.literal('top'),
    signal: signalName,
    /** keep the k highest (or lowest with dir 'asc') */
    count: z.number().int().positive().optional(),
    percent: z.number().gt(0).max(100).optional(),
    dir: z.enum(['desc', 'asc']).default('desc'),
  }),
  z.object({
    kind: z.literal('threshold'),
    signal: signalName,
    min: z.number().optional(),
    max: z.number().optional(),
  }),
  z.object({ kind: z.literal('random'), count: z.number().int().positive(), seed: z.number().int().default(0) }),
  /** IFD's recipe: drop ifd > 1 (the prompt does not help), then keep the top by ifd (percent of the rows left) */
  z.object({
    kind: z.literal('ifd_top'),
    count: z.number().int().positive().optional(),
    percent: z.number().gt(0).max(100).optional(),
  }),
  /** set operation on existing subsets (difference: the first minus the others); names as they were when made */
  z.object({
    kind: z.literal('combine'),
    op: z.enum(['union', 'intersection', 'difference']),
    subsetIds: z.array(z.number().int().positive()).min(2).max(32),
    names: z.array(z.string()).optional(),
  }),
  /**
   * per-cluster quota over a K-means run (`cluster` column): `count` rows, or `percent` of each cluster (at least one),
   * ranked by `signal` (dir) or, without a signal, a seeded random sample. The engine fills `clusterRunId` (the latest
   * clustering when absent) and `k`.
   */
  z.object({
    kind: z.literal('cluster_quota'),
    count: z.number().int().positive().optional(),
    percent: z.number().gt(0).max(100).optional(),
    signal: signalName.optional(),
    dir: z.enum(['desc', 'asc']).default('desc'),
    seed: z.number().int().default(0),
    clusterRunId: z.number().int().positive().optional(),
    k: z.number().int().positive().optional(),
  }),
  /**
   * diversity: greedy k-center (farthest point) on `embedding` from a seeded start, optionally among a subset's rows.
   * The engine fills `radius` (every candidate lies within it of a selected row) and `candidates`.
   */
  z.object({
    kind: z.literal('kcenter'),
    count: z.number().int().positive().max(1_000_000),
    seed: z.number().int().default(0),
    subsetId: z.number().int().positive().optional(),
    subsetName: z.string().optional(),
    radius: z.number().optional(),
    candidates: z.number().int().optional(),
  }),
  /**
   * S2L: K-means (`clusters`, seeded) on the loss trajectories train run `runId` recorded, then `count` rows spread
   * over the clusters (smallest first, each its even share of what is left). The engine fills `checkpoints`,
   * `candidates` and `clusterSizes`.
   */
  z.object({
    kind: z.literal('s2l'),
    runId: z.number().int().positive(),
    count: z.number().int().positive(),
    clusters: z.number().int().positive().max(10_000).default(10),
    seed: z.number().int().default(0),
    checkpoints: z.array(z.number().int()).optional(),
    candidates: z.number().int().optional(),
    clusterSizes: z.array(z.number().int()).optional(),
  }),
  /**
   * UDS in one pass: the rows (in id order) in batches of `batchSize`, each scored by model `modelId` (nuclear norm of
   * its logits + lambda · distance to a buffer of earlier kept rows); the best `keep` share of each batch is kept.
   * Runs as a job (subsets.start). The engine fills `candidates`.
   */
  z.object({
    kind: z.literal('uds'),
    modelId: z.number().int().positive(),
    keep: z.number().gt(0).max(1).default(0.5),
    batchSize: z.number().int().min(2).max(512).default(8),
    bufferSize: z.number().int().positive().max(100_000).default(1024),
    lambda: z.number().min(0).default(2.5e-3),
    seed: z.number().int().default(0),
    maxTokens: z.number().int().positive().max(1 << 16).default(256),
    candidates: z.number().int().optional(),
  }),
  /** hand-picked rows (e.g. a lasso on the Map); `source` says how they were picked */
  z.object({ kind: z.literal('ids'), ids: z.array(z.number().int().positive()).min(1).max(1_000_000), source: z.string().max(200).optional() }),
]);
export type SubsetRule = z.infer<typeof SubsetRuleSchema>;

/** token policies (selection/token-policy.ts): see TokenPolicySchema */
export const TOKEN_POLICIES = ['response', 'all', 'top_percent', 'critical'] as const;
export const TOKEN_SCOPES = ['example', 'global'] as const;

/**
 * Which tokens a training step, a parameter mask's gradient pass or an exported token mask counts. response: the
 * label mask (or the hand-edited mask `tokenMaskName` where one is saved); all: every token; top_percent: the top
 * `tokenPercent`% of response tokens by `tokenSignal`, per example or with one global threshold (`tokenScope`);
 * critical: the response tokens the latest `critical` run found critical (value > 0, eval/critical.ts).
 * Train and the parameter-mask pass take these fields with their defaults; export takes them all optional (absent:
 * the training run's). The screens ask for them with one component (renderer components/TokenPolicyFields.tsx), the
 * CLI reads them with one parser (main/cli tokenPolicyFlags).
 */
const tokenPolicyFields = {
  tokenPolicy: z.enum(TOKEN_POLICIES),
  tokenSignal: z.string().regex(/^[a-z][a-z0-9_]*$/),
  tokenPercent: z.number().gt(0).max(100),
  tokenScope: z.enum(TOKEN_SCOPES),
  tokenMaskName: z.string().min(1).max(200),
};
export const TokenPolicySchema = z.object({
  tokenPolicy: tokenPolicyFields.tokenPolicy.default('response'),
  tokenSignal: tokenPolicyFields.tokenSignal.default('excess_loss'),
  tokenPercent: tokenPolicyFields.tokenPercent.default(60),
  tokenScope: tokenPolicyFields.tokenScope.default('example'),
  tokenMaskName: tokenPolicyFields.tokenMaskName.optional(),
});
export type TokenPolicy = z.infer<typeof TokenPolicySchema>;
/** The same fields, each optional with no default (partial() of TokenPolicySchema would still fill the defaults). */
export const TokenPolicyOverrideSchema = z.object(tokenPolicyFields).partial();
export type TokenPolicyOverride = z.infer<typeof TokenPolicyOverrideSchema>;

/**
 * LoRA settings of a training run (models/lora.ts): rank r, alpha (scale alpha/r, or alpha/√r with rslora), dropout
 * on the adapter's input, target modules by name (q_proj, v_proj, …; c_attn, c_proj, c_fc for GPT-2; PEFT's suffix
 * rule, so attn.c_proj names one) or preset (attention, mlp, all-linear), and the blocks that carry adapters as a layer
 * spec (default: the run's `layers`).
 */
/** LoRA target presets (models/lora.ts expands them per architecture, as PEFT's target_modules entries) */
export const LORA_PRESETS = ['attention', 'mlp', 'all-linear'] as const;

export const LoraConfigSchema = z.object({
  r: z.number().int().positive().max(4096),
  alpha: z.number().positive().max(1_000_000),
  dropout: z.number().min(0).lt(1).default(0),
  /** absent: PEFT's default for the architecture (q_proj, v_proj for the Llama family; c_attn for GPT-2) */
  targets: z.array(z.string().min(1).max(200)).min(1).max(64).optional(),
  layers: z.string().min(1).max(10_000).optional(),
  rslora: z.boolean().default(false),
});
export type LoraConfig = z.infer<typeof LoraConfigSchema>;

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

export const TrainConfigSchema = z.object({
  modelId: id,
  subsetId: id.nullable(),
  datasetId: id.optional(),
  /** layer spec: last:N | top:N:fim | attention | mlp | hft:SEED | all | names:a,b */
  layers: z.string().min(1),
  steps: z.number().int().positive().max(1_000_000),
  batchSize: z.number().int().positive().max(512).default(4),
  gradAccum: z.number().int().positive().max(1024).default(1),
  lr: z.number().positive().max(1).default(1e-3),
  optimizer: z.enum(['adamw', 'sgd']).default('adamw'),
  weightDecay: z.number().min(0).max(1).default(0),
  schedule: z.enum(['constant', 'linear', 'cosine']).default('cosine'),
  warmupSteps: z.number().int().min(0).default(0),
  clipNorm: z.number().positive().nullable().default(1),
  maxTokens: z.number().int().positive().max(1 << 16).default(256),
  ...TokenPolicySchema.shape,
  dftWeight: z.boolean().default(false),
  evalEvery: z.number().int().positive().default(10),
  evalFraction: z.number().min(0).max(0.5).default(0.05),
  checkpointEvery: z.number().int().positive().default(20),
  seed: z.number().int().default(0),
  /** a parameter mask: only its entries change (its tensors become the trainable set; `layers` is its scope) */
  paramMaskId: id.optional(),
  /** LoRA adapters (PEFT's LoraConfig) instead of whole tensors: the base stays frozen, only A and B train */
  lora: LoraConfigSchema.optional(),
  /** keep K checkpoints for good (evenly spaced, the last at the end; runs/N/checkpoints/step-S), each with its
   * optimizer state and mean learning rate: the warm-up checkpoints LESS's grad_sim reads */
  keepCheckpoints: z.number().int().positive().max(100).optional(),
  /** S2L: store every example's loss at each checkpoint (loss_trajectories), for the `s2l` subset rule */
  recordTrajectories: z.boolean().default(false),
  /** UDS online batch selection: each micro-batch is scored in one forward pass and only its best `keep` share trains */
  uds: z
    .object({
      keep: z.number().gt(0).max(1).default(0.5),
      bufferSize: z.number().int().positive().max(100_000).default(1024),
      lambda: z.number().min(0).default(2.5e-3),
    })
    .optional(),
});
export type TrainConfig = z.infer<typeof TrainConfigSchema>;

/** Compute a parameter mask from one gradient pass (paramMasks.compute). */
export const ParamMaskRequestSchema = z.object({
  name: z.string().min(1).max(200),
  modelId: id,
  method: z.enum(['salience', 'gps']),
  metric: z.enum(['abs_g', 'abs_wg', 'sq_wg']).default('abs_wg'),
  /** salience: share of the scope's entries (global) or of each tensor's; gps: share of each row's inputs */
  density: z.number().gt(0).max(1).default(0.01),
  topk: z.enum(['global', 'per_tensor']).default('global'),
  /** salience: score every tensor of the scope (embeddings, norms, biases, the LM head); by default only its linear
   * weight matrices, as SPEFT does */
  allParams: z.boolean().default(false),
  /** gps: inputs kept per output row (overrides density) */
  perRow: z.number().int().positive().optional(),
  /** layer spec of the tensors the mask may open */
  scope: z.string().min(1).default('all'),
  subsetId: id.nullable().default(null),
  datasetId: id.optional(),
  /** examples in the gradient pass, a seeded choice among those with trainable tokens */
  examples: z.number().int().positive().max(100_000).default(100),
  seed: z.number().int().default(0),
  maxTokens: z.number().int().positive().max(1 << 16).default(256),
  ...TokenPolicySchema.shape,
  /** leave out the rows a training run on the same rows holds out for eval: its evalFraction (the Train form's "eval
   * rows %" / 100) and seed (`evalSeed`, default 0); the same token policy and maxTokens pick the same split. Absent:
   * every row may be in the pass */
  evalFraction: z.number().min(0).max(0.5).optional(),
  evalSeed: z.number().int().optional(),
});
export type ParamMaskRequest = z.infer<typeof ParamMaskRequestSchema>;

export const ExportRequestSchema = z.object({
  outDir: z.string().min(1),
  subsetId: id.nullable(),
  datasetId: id.optional(),
  modelId: id.optional(),
  layerMaskId: id.optional(),
  /** param_mask: this mask, else the training run's */
  paramMaskId: id.optional(),
  trainRunId: id.optional(),
  /** configs: train_trl.py, axolotl.yaml, llamafactory.yaml (+ dataset_info.json) */
  what: z.array(z.enum(['subset', 'token_masks', 'layer_mask', 'param_mask', 'weights', 'scores', 'configs'])).min(1),
  /** weights: the whole tuned folder, or only the tensors training changed plus winnow_delta.json naming the base */
  weightsForm: z.enum(['full', 'changed']).default('full'),
  /**
   * weights: WiSE-FT, write (1−α)·base + α·tuned (the run's base model and its tuned model) instead of the tuned
   * weights; 1 (or unset) is the tuned model itself
   */
  wiseAlpha: z.number().min(0).max(1).optional(),
  overwrite: z.boolean().default(false),
  /** token mask as training applies it (selection/token-policy); default: the training run's policy, else response;
   * token_masks rows named `tokenMaskName` (hand-edited masks) replace the render's mask, default "edited" */
  ...TokenPolicyOverrideSchema.shape,
});
export type ExportRequest = z.infer<typeof ExportRequestSchema>;

const field = z.string().min(1).max(200);
/**
 * How a record's fields map to messages. Fields are the record's own keys or paths (`meta.text`, `instances[0].input`,
 * `instances[*].input`: one row per item; `$`: the record itself). `list`: which list of a JSON object holding several.
 * `labels`: a classification label verbaliser (label value → completion text). No `completion`: prompt-only rows.
 */
const list = {
  list: field.optional(),
  /** OpenAssistant message trees made into conversations: the best-ranked path per tree, or every path to a leaf */
  tree: z.object({
    policy: z.enum(['top1', 'all_paths']),
    lang: z.array(z.string().max(20)).max(100).optional(),
    deleted: z.boolean().optional(),
    synthetic: z.boolean().optional(),
    minReviews: z.number().int().min(0).optional(),
  }).optional(),
};
export const MappingSchema = z.discriminatedUnion('format', [
  z.object({ format: z.literal('messages'), field, ...list }),
  z.object({ format: z.literal('sharegpt'), field, ...list }),
  z.object({ format: z.literal('alpaca'), instruction: field, input: field.optional(), output: field, system: field.optional(), ...list }),
  z.object({
    format: z.literal('prompt_completion'), prompt: field, completion: field.optional(), system: field.optional(),
    labels: z.record(z.string().max(200), z.string().max(10_000)).optional(), ...list,
  }),
  z.object({ format: z.literal('question_answer'), question: field, answer: field, ...list }),
  z.object({ format: z.literal('text'), field, ...list }),
]);
export type DatasetMapping = z.infer<typeof MappingSchema>;

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

/** subsets.start: a subset made by a `select` job (with progress and cancel, for k-center on many rows) */
export const SelectRequestSchema = z.object({ name: z.string().min(1).max(200), rule: SubsetRuleSchema, datasetId: id.optional() });

/** map.umap: a seeded UMAP layout of the embeddings in scope, stored for examples.map method umap */
export const UmapRequestSchema = z.object({
  datasetId: id.optional(),
  seed: z.number().int().default(0),
  nNeighbors: z.number().int().min(2).max(200).default(15),
  minDist: z.number().min(0).max(1).default(0.1),
  /** 0: umap-js's default for the data size */
  nEpochs: z.number().int().min(0).max(5000).default(0),
  limit: z.number().int().positive().max(1_000_000).default(200_000),
});

/** clusters.start: seeded K-means (k-means++) on embedding, stored as the `cluster` column */
export const ClusterRequestSchema = z.object({
  datasetId: id.optional(),
  k: z.number().int().min(2).max(1000),
  seed: z.number().int().default(0),
  maxIter: z.number().int().min(1).max(1000).default(100),
});

/** import / remap jobs: a file to import, a stored dataset to re-map, or only the search index to finish */
export const ImportJobParamsSchema = z.object({
  path: z.string().min(1).optional(),
  name: z.string().optional(),
  /** jsonl, json, csv, tsv, txt, parquet or arrow (data/readers FileFormat); absent: from the file's extension */
  format: z.string().optional(),
  mapping: MappingSchema.optional(),
  textMode: z.enum(['block', 'line']).optional(),
  skipMalformed: z.boolean().optional(),
  /** re-map this stored dataset with `mapping` instead of importing a file */
  remap: z.object({ datasetId: id, mapping: MappingSchema }).optional(),
  /** only finish the search index of datasets that are behind */
  textIndexOnly: z.boolean().optional(),
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

/** train jobs: the run to train (its TrainConfig is stored with the run, train_runs.config_json) */
export const TrainJobParamsSchema = z.object({ runId: id });

/** generate / eval jobs: the evaluation run to fill (eval_runs holds what it was asked, eval.start) */
export const EvalJobParamsSchema = z.object({ evalRunId: id });

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
export type JobKind = keyof typeof JobParamsSchemas;
/** a job's params as its job function reads them (defaults filled) */
export type JobParams<K extends JobKind> = z.output<(typeof JobParamsSchemas)[K]>;
/** a job's params as a caller may write them (fields with defaults optional) */
export type JobParamsInput<K extends JobKind> = z.input<(typeof JobParamsSchemas)[K]>;
