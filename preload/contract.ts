/**
 * The one API contract between the renderer and the engine host.
 *
 * Every call is `name → (input) → Result<output>`; every push is an `EngineEvent`. The engine service implements the
 * calls (main/engine/api), main registers IPC handlers for them, the preload bridge and the browser-mode WebSocket
 * client both satisfy `WinnowApi`, and the renderer talks only through it. Inputs are validated here with zod at the
 * boundary; errors travel as values, never as thrown strings.
 *
 * This file is imported by Node code and by the renderer, so it must import nothing but zod (and contract-jobs.ts, which imports only zod).
 */
import { z } from 'zod';
// the schemas of jobs' parameters (and what they are made of: rules, mappings, token policy) live in contract-jobs.ts
import { ClusterRequestSchema, ExportRequestSchema, id, LoraConfigSchema, MappingSchema, ParamMaskRequestSchema, ScoreRequestSchema, SelectRequestSchema, signalName, SubsetRuleSchema, TrainConfigSchema, UmapRequestSchema, type DatasetMapping, type JobKind, type RowScope, type SubsetRule, type TrainConfig } from './contract-jobs';
export * from './contract-jobs';

// ---------- results and errors ----------

export type ErrorCode =
  | 'bad_input'
  | 'not_found'
  | 'parse_error'
  | 'unsupported'
  | 'too_large'
  | 'conflict'
  | 'cancelled'
  | 'io_error'
  | 'internal'
  | 'engine_unavailable';

export interface ApiError {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
}
export type Result<T> = { ok: true; value: T } | { ok: false; error: ApiError };

// ---------- shared value types ----------

export const SIGNALS = [
  'token_loss',
  'token_entropy',
  'token_prob',
  'token_rank',
  'excess_loss',
  'mean_loss',
  'ppl',
  'ifd',
  'learnability',
  'length_tokens',
  'response_tokens',
  'trainable_tokens',
  'embedding',
  'exact_dup',
  'near_dup',
  'fim',
  'layer_grad_norm',
  'grad_norm',
  'grad_sim',
  'grad_sim_base',
  'rifd',
  'sstoken',
] as const;
export type SignalId = (typeof SIGNALS)[number];
export const TOKEN_SIGNALS: readonly SignalId[] = ['token_loss', 'token_entropy', 'token_prob', 'token_rank', 'excess_loss', 'sstoken'];
export const LAYER_SIGNALS: readonly SignalId[] = ['fim', 'layer_grad_norm'];
/**
 * Per-example columns every dataset gets at import, without a model (duplicates). The Score screen shows them as
 * already computed rather than as something to run; a scoring run that names them (API, CLI) records them under the run.
 */
export const IMPORT_SIGNALS: readonly SignalId[] = ['exact_dup', 'near_dup'];

/**
 * import: a file (or finishing a search index); remap: a stored dataset with a new mapping; cluster: K-means on
 * embedding; umap: a Map layout; select: a subset rule too slow to answer at once (k-center); generate / eval: a model
 * (the base or a train run) answering held-out rows, with task metrics for eval
 */
export type JobStatus = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

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

export interface BackendInfo {
  name: string;
  reason: string;
  unavailable: Array<{ name: string; why: string }>;
  threads: number;
  /** webgpu only: the adapter and the largest buffer it takes (bytes) */
  adapter?: GpuAdapterInfo;
}

export interface GpuAdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** SwiftShader, lavapipe, llvmpipe, WARP: a CPU emulating a GPU */
  software: boolean;
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
  shaderF16: boolean;
  vulkanFrom: string | null;
}

export interface ProjectInfo {
  name: string;
  path: string;
  datasets: DatasetInfo[];
  models: ModelInfo[];
}

/** Counts behind the first screen's check marks (`project.progress`). */
export interface ProjectProgress {
  datasets: number;
  models: number;
  /** finished score runs (on the dataset asked about, else on any) */
  scoreRuns: number;
  /** subsets with rows (of the dataset asked about, else of any) */
  subsets: number;
  /** finished training runs */
  trainRuns: number;
  /** bundles written */
  exports: number;
}

export interface DatasetInfo {
  id: number;
  name: string;
  sourcePath: string;
  format: string;
  rowCount: number;
  renderErrors: number;
  skipped: number;
}

export interface ModelInfo {
  id: number;
  name: string;
  path: string;
  architecture: string;
  numLayers: number;
  params: number;
  /** set for models Winnow trained: the run that produced it */
  trainRunId: number | null;
}

/** A model snapshot in the Hugging Face hub cache; `repo@refs[0]` (or `repo@commit`) adds it */
export interface CachedModelInfo {
  /** `org/name` */
  repo: string;
  /** refs pointing at this snapshot (`main`, tags); empty for a snapshot no ref names */
  refs: string[];
  commit: string;
  dir: string;
  /** bytes of the blobs the snapshot links to (each counted once) */
  bytes: number;
  /** config.json's model_type, or null when there is none */
  architecture: string | null;
  /** config.json's architectures[0] (e.g. LlamaForCausalLM) */
  className: string | null;
  /** Winnow can load it: a supported model_type, safetensors weights and a tokenizer.json, all present */
  runnable: boolean;
  /** with runnable false: why */
  reason?: string;
}

export interface ExampleRow {
  id: number;
  datasetId: number;
  rowIndex: number;
  preview: string;
  nTokens: number | null;
  /** trainable tokens: the hand-edited mask's when the row has one (`edited`), else the template's */
  nLabel: number | null;
  /** the row has a hand-edited label mask on the render shown */
  edited?: boolean;
  signals: Record<string, number | null>;
}

export interface TokenView {
  id: number;
  text: string;
  start: number;
  end: number;
  role: 'system' | 'user' | 'assistant' | 'template';
  label: boolean;
}

/** The render (tokens) a view stands on: its render key (see db/renders.ts) and the score runs whose values are shown. */
export interface RenderInfo {
  renderKeyId: number;
  tokenizerId: string;
  templateHash: string;
  labelPolicy: string;
  /** null: no limit */
  maxTokens: number | null;
  /** version of Winnow's render code that made it */
  renderer: number;
  /** one line for people */
  description: string;
  /** the score runs whose token values are shown (empty: none scored this render) */
  scoreRunIds: number[];
}

export interface ExampleDetail {
  id: number;
  rowIndex: number;
  raw: unknown;
  messages: Array<{ role: string; content: string }> | null;
  renderedText: string;
  tokenizerId: string;
  /** the render the tokens, the label mask and the token values below stand on */
  render: RenderInfo;
  tokens: TokenView[];
  truncated: boolean;
  renderError: string | null;
  /** signal → one value per token (null where the position has no prediction, e.g. the first token) */
  tokenSignals: Record<string, Array<number | null>>;
  signals: Record<string, number | null>;
}

export interface SubsetInfo {
  id: number;
  name: string;
  size: number;
  rule: SubsetRule;
  createdAt: string;
  /** why the rows may no longer be what the rule would pick (e.g. its dataset was re-mapped and its scores deleted); null when current */
  staleReason: string | null;
}

/** The tensor kinds the `attention` and `mlp` layer specs take in every block (engine selection/layers.ts; the Layers grid names its picks with them). */
export const LAYER_SPEC_KINDS = {
  attention: ['q', 'k', 'v', 'o', 'qkv'],
  mlp: ['up', 'gate', 'down', 'fc', 'proj'],
} as const;

export interface TensorRow {
  name: string;
  shape: number[];
  block: number | null;
  kind: string;
  size: number;
  scores: Record<string, number>;
}

export interface LayerMaskInfo {
  id: number;
  name: string;
  modelId: number;
  tensors: string[];
  provenance: Record<string, unknown>;
}

/** A named parameter mask (salience / gps): the entries of some tensors a run may change; bitsets stay in the engine. */
export interface ParamMaskInfo {
  id: number;
  name: string;
  modelId: number;
  method: 'salience' | 'gps';
  /** salience metric: abs_g |Σg|, abs_wg |w·Σg|, sq_wg (w·Σg)² (sq_wg_per_example: w²·Σg², a mask saved before
   * sq_wg followed SPEFT's Taylor-FO); null for gps */
  metric: string | null;
  /** share of entries asked for (salience: of the scope or of each tensor; gps: of each row's inputs); null for gps:N */
  density: number | null;
  /** gps: inputs kept per output row, when given as a count */
  perRow: number | null;
  topk: 'global' | 'per_tensor' | 'per_row';
  /** layer spec of the tensors the mask could open */
  scope: string;
  trainableParams: number;
  scopeParams: number;
  /** tensors with at least one trainable entry; every other tensor stays frozen */
  tensors: Array<{ name: string; shape: number[]; selected: number }>;
  provenance: Record<string, unknown>;
  createdAt: string;
}

export interface TrainRunInfo {
  id: number;
  /** given by a rename (items.rename); runs are numbered */
  label: string | null;
  jobId: string | null;
  modelId: number;
  subsetId: number | null;
  status: JobStatus;
  step: number;
  totalSteps: number;
  outDir: string | null;
  outModelId: number | null;
  config: TrainConfig;
  /** a finished LoRA run: its PEFT adapter folder (runs/N/adapter) and the files in it; else null */
  adapter: { dir: string; files: string[] } | null;
}

/** What a project holds that can be renamed or deleted (models: the registration, never the folder). */
export const ITEM_KINDS = ['dataset', 'subset', 'model', 'score_run', 'train_run', 'layer_mask', 'param_mask', 'token_mask'] as const;
export type ItemKind = (typeof ITEM_KINDS)[number];

/** One kind of thing a deletion touches: `count` of them (rows, values, runs), named one per entry of `names`. */
export interface DependencyLine {
  what: string;
  count: number;
  names: string[];
}

/** What deleting a thing would delete with it, and what would stay but refer to it (items.dependents). */
export interface DependencyReport {
  kind: ItemKind;
  /** null for token masks, which are named */
  id: number | null;
  name: string;
  deletes: DependencyLine[];
  keeps: DependencyLine[];
  /** why it cannot be deleted now (a job is running); null when it can */
  blockedBy: string | null;
  /** give it back to items.delete: a deletion whose report changed since it was shown is refused */
  token: string;
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

export interface TrainMetric {
  step: number;
  split: 'train' | 'eval';
  loss: number;
  lr: number;
  tokensPerSec: number;
}

// ---------- input schemas ----------



export interface DatasetPreview {
  fileFormat: string;
  format: DatasetMapping['format'];
  /** share of the sampled records the mapping accepts */
  confidence: number;
  mapping: DatasetMapping;
  /** fields seen in the sampled records */
  fields: string[];
  /** trained: the [start, end) character ranges of `rendered` the model learns from (the label mask) */
  rows: Array<{ line: number; rendered?: string; nTokens?: number; nLabel?: number; trained?: Array<[number, number]>; error?: string }>;
  /** no known format was recognised; `mapping` is a guess from the field names */
  guessed: boolean;
  /** with `guessed`: why detection recognised nothing (e.g. an OpenAssistant message tree), for the user to read */
  note?: string;
  /** how sure the choice of fields is: a known format's names (high), a guess from names and contents (medium, low) */
  certainty: 'high' | 'medium' | 'low';
  /** why these fields, in words */
  basis?: string;
  /** a mapping for each record format from the same fields: what the editor switches to */
  suggested: Partial<Record<DatasetMapping['format'], DatasetMapping>>;
  /** a JSON object holding several lists: their names (the mapping's `list` picks one) */
  lists?: string[];
  /** message trees: conversations each policy makes of the messages read (all of the file when `complete`) */
  trees?: { trees: number; messages: number; top1: number; allPaths: number; complete: boolean };
  /** previewing a new mapping for a stored dataset: what re-mapping it would invalidate */
  impact?: RemapImpact;
}

/** What re-mapping a stored dataset invalidates (`datasets.remap`; shown before confirming). */
export interface RemapImpact {
  rows: number;
  /** renders (token ids, label masks) deleted; the job renders again with the active model */
  renders: number;
  /** examples whose scores are deleted */
  scoredExamples: number;
  /** score runs that read the dataset: their values for it and their layer scores are deleted, the runs marked stale */
  scoreRuns: Array<{ id: number; signals: string[] }>;
  /** hand-edited token masks deleted */
  tokenMasks: number;
  /** subsets holding its rows: kept, marked stale */
  subsets: Array<{ id: number; name: string }>;
}

const QueryFilterSchema = z.object({
  column: signalName,
  min: z.number().optional(),
  max: z.number().optional(),
});

const ItemRefSchema = z.object({ kind: z.enum(ITEM_KINDS), id: id.optional(), name: z.string().min(1).max(200).optional() });

/** Every call: its input schema. The output type lives in `ApiOutputs`. */
export const ApiInputs = {
  'app.info': z.object({}),
  'project.open': z.object({ name: z.string().min(1).max(200).optional() }),
  /** what the project holds, for the first screen's steps: scores and subsets counted on `datasetId` when given */
  'project.progress': z.object({ datasetId: id.optional() }),
  'datasets.import': z.object({
    path: z.string().min(1),
    /** how records map to messages; detected from the first records when absent */
    mapping: MappingSchema.optional(),
    textMode: z.enum(['block', 'line']).optional(),
    name: z.string().max(200).optional(),
    format: z.string().optional(),
    skipMalformed: z.boolean().default(false),
  }),
  /** a file before import (`path`), or a stored dataset under a new mapping (`datasetId`, from its stored rows) */
  'datasets.preview': z.object({
    path: z.string().min(1).optional(),
    datasetId: id.optional(),
    mapping: MappingSchema.optional(),
    textMode: z.enum(['block', 'line']).optional(),
  }),
  /** a file sent by the browser, saved under its own name; `stage`: saved only, for datasets.preview and datasets.import */
  'datasets.upload': z.object({
    fileName: z.string().min(1).max(255),
    content: z.string().max(256 * 1024 * 1024),
    skipMalformed: z.boolean().default(false),
    stage: z.boolean().default(false),
  }),
  /** change a stored dataset's mapping: a job re-maps every row, deletes what depended on the old messages, renders again */
  'datasets.remap': z.object({ datasetId: id, mapping: MappingSchema }),
  'datasets.renderErrors': z.object({ datasetId: id, offset: z.number().int().min(0).default(0), limit: z.number().int().min(1).max(1000).default(100) }),
  /** the records an import skipped as malformed (skip malformed lines): file line (JSON item, Parquet row) and why */
  'datasets.importSkips': z.object({ datasetId: id, offset: z.number().int().min(0).default(0), limit: z.number().int().min(1).max(1000).default(100) }),
  /** `path`: a model folder, or a Hugging Face hub id `org/name[@revision]` resolved from the hub cache (offline) */
  'models.add': z.object({ path: z.string().min(1) }),
  /**
   * WiSE-FT: write θ(α) = (1−α)·θ_base + α·θ_tuned of two registered models (a model and one tuned from it) to `outDir`
   * (default: the project's folder, models/wise-<tuned id>-a<α>) and register it as a new model to score and evaluate
   */
  'models.wise': z.object({ baseModelId: id, tunedModelId: id, alpha: z.number().min(0).max(1), outDir: z.string().min(1).optional(), name: z.string().min(1).max(200).optional() }),
  /** every model snapshot in the Hugging Face hub cache (HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub) */
  'models.listCached': z.object({}),
  /** every dataset snapshot in the Hugging Face hub cache, its data files by split (import one with datasets.import) */
  'datasets.listCached': z.object({}),
  'examples.query': z.object({
    datasetId: id.optional(),
    subsetId: id.optional(),
    sort: z.object({ column: signalName, dir: z.enum(['asc', 'desc']) }).optional(),
    filters: z.array(QueryFilterSchema).max(32).default([]),
    text: z.string().max(500).optional(),
    offset: z.number().int().min(0).default(0),
    limit: z.number().int().min(1).max(1000).default(100),
  }),
  'examples.get': z.object({ exampleId: id, modelId: id.optional() }),
  'scoring.start': ScoreRequestSchema,
  'subsets.create': z.object({ name: z.string().min(1).max(200), rule: SubsetRuleSchema, datasetId: id.optional() }),
  /** the same as subsets.create, as a `select` job with progress and cancel (for k-center on many rows) */
  'subsets.start': SelectRequestSchema,
  'subsets.list': z.object({}),
  'subsets.delete': z.object({ subsetId: id }),
  /** runs a (stale) subset's stored rule again and puts the rows in its place: same id and name, not stale; refused for hand-picked rows */
  'subsets.recreate': z.object({ subsetId: id }),
  'subsets.combine': z.object({
    name: z.string().min(1).max(200),
    op: z.enum(['union', 'intersection', 'difference']),
    subsetIds: z.array(id).min(2).max(32),
  }),
  'examples.histogram': z.object({
    datasetId: id.optional(),
    subsetId: id.optional(),
    column: signalName,
    bins: z.number().int().min(1).max(1000).default(30),
    filters: z.array(QueryFilterSchema).max(32).default([]),
    text: z.string().max(500).optional(),
  }),
  'examples.map': z.object({
    datasetId: id.optional(),
    /** column whose value colours each point */
    signal: signalName.optional(),
    /** pca: computed on the call; umap: the layout stored by the latest `map.umap` job */
    method: z.enum(['pca', 'umap']).default('pca'),
    limit: z.number().int().positive().max(1_000_000).default(200_000),
    /** only `values` (and `layoutKey`): recolouring keeps the points it has; they align when the layoutKeys match */
    valuesOnly: z.boolean().default(false),
  }),
  /** start a `umap` job: a seeded UMAP layout of the embeddings in scope, stored for examples.map method umap */
  'map.umap': UmapRequestSchema,
  /** start a `cluster` job: seeded K-means (k-means++) on embedding, stored as the `cluster` column */
  'clusters.start': ClusterRequestSchema,
  /** the latest clustering of the dataset: parameters, objective, cluster sizes (null when none) */
  'clusters.info': z.object({ datasetId: id.optional() }),
  'tokenMasks.save': z.object({
    exampleId: id,
    modelId: id.optional(),
    name: z.string().min(1).max(200).default('edited'),
    mask: z.array(z.number().int().min(0).max(1)).max(1 << 16),
    /** how the mask was made (e.g. the token policy), stored with it */
    provenance: z.record(z.string(), z.unknown()).optional(),
    /** the render the mask is drawn on (ExampleDetail.render.renderKeyId); default: the model's default render */
    renderKeyId: id.optional(),
  }),
  /** the named mask that applies to the render (renderKeyId, default: the model's default render), or null */
  'tokenMasks.get': z.object({ exampleId: id, modelId: id.optional(), name: z.string().min(1).max(200).default('edited'), renderKeyId: id.optional() }),
  'layers.list': z.object({ modelId: id }),
  'layers.resolve': z.object({ modelId: id, layers: z.string().min(1) }),
  'train.estimate': z.object({
    modelId: id,
    layers: z.string().min(1),
    batchSize: z.number().int().positive().max(512).default(4),
    maxTokens: z.number().int().positive().max(1 << 16).default(256),
    /** micro-batches per step: more than 1 keeps a gradient sum besides each micro-batch's gradients */
    gradAccum: z.number().int().positive().max(1024).default(1),
    /** count a parameter mask's tensors (dense gradients and optimizer state) instead of the layer spec's */
    paramMaskId: id.optional(),
    /** count LoRA adapters instead (A, B, their gradients and Adam state; the tape from the lowest adapted block) */
    lora: LoraConfigSchema.optional(),
  }),
  'layerMasks.save': z.object({ name: z.string().min(1).max(200), modelId: id, layers: z.string().min(1) }),
  'layerMasks.list': z.object({ modelId: id.optional() }),
  'paramMasks.compute': ParamMaskRequestSchema,
  'paramMasks.list': z.object({ modelId: id.optional() }),
  'paramMasks.get': z.object({ maskId: id }),
  'train.start': TrainConfigSchema,
  'train.list': z.object({}),
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
  'train.metrics': z.object({ runId: id }),
  'export.start': ExportRequestSchema,
  'bundles.open': z.object({ dir: z.string().min(1) }),
  'jobs.list': z.object({}),
  'jobs.cancel': z.object({ jobId: z.string().min(1) }),
  'jobs.resume': z.object({ jobId: z.string().min(1) }),
  /** drop a failed or cancelled job's saved state, so it can no longer resume (parameter-mask jobs) */
  'jobs.discard': z.object({ jobId: z.string().min(1) }),
  /** remove finished, failed and cancelled jobs from the list (their runs, datasets and files stay) */
  'jobs.clear': z.object({}),
  /** every score run (clusterings and map layouts too), newest first, with the rows it covered */
  'scoring.runs': z.object({}),
  /** hand-edited token mask names and how many rows each holds */
  'tokenMasks.names': z.object({}),
  /** what deleting a thing would delete, and what would stay referring to it; `name` for token masks, else `id` */
  'items.dependents': ItemRefSchema,
  /** delete a thing and exactly what its report named, in one transaction; `token` from items.dependents */
  'items.delete': ItemRefSchema.extend({ token: z.string().min(1) }),
  /** rename a thing (score and train runs keep their number and get a label); unique names stay unique */
  'items.rename': ItemRefSchema.extend({ newName: z.string().min(1).max(200) }),
} as const;

export type ApiName = keyof typeof ApiInputs;
export type ApiInput<N extends ApiName> = z.input<(typeof ApiInputs)[N]>;
export type ApiParsedInput<N extends ApiName> = z.output<(typeof ApiInputs)[N]>;

export interface ApiOutputs {
  'app.info': { version: string; backend: BackendInfo | null; projectsDir: string; mode: 'electron' | 'browser' };
  'project.open': ProjectInfo;
  'project.progress': ProjectProgress;
  'datasets.import': { jobId: string };
  'datasets.preview': DatasetPreview;
  /** jobId: null when staged; path: where the file was saved (its name kept), for the preview and the import */
  'datasets.upload': { jobId: string | null; path: string; name: string };
  'datasets.remap': { jobId: string; impact: RemapImpact };
  'datasets.renderErrors': { total: number; rows: Array<{ rowIndex: number; reason: string }> };
  'datasets.importSkips': { total: number; rows: Array<{ line: number; reason: string }> };
  'models.add': ModelInfo;
  'models.wise': ModelInfo;
  'models.listCached': CachedModelInfo[];
  'datasets.listCached': Array<{ repo: string; refs: string[]; commit: string; dir: string; splits: Record<string, string[]> }>;
  /** textPending: with a text filter, rows in scope not yet in the search index (it is built after an import) */
  'examples.query': { total: number; rows: ExampleRow[]; columns: string[]; textPending?: number };
  'examples.get': ExampleDetail;
  /** lessRunId: the warm-up run `lessWarmup` queued before the scoring */
  'scoring.start': { jobId: string; plan: ScorePlan; lessRunId?: number };
  'subsets.create': SubsetInfo;
  'subsets.start': { jobId: string };
  'subsets.list': SubsetInfo[];
  'subsets.delete': { deleted: boolean };
  'subsets.recreate': SubsetInfo;
  'subsets.combine': SubsetInfo;
  'examples.histogram': { min: number | null; max: number | null; counts: number[]; total: number; nulls: number };
  'examples.map': ExampleMap;
  'map.umap': { jobId: string };
  'clusters.start': { jobId: string };
  'clusters.info': ClusterInfo | null;
  'tokenMasks.save': TokenMaskInfo;
  'tokenMasks.get': TokenMaskInfo | null;
  /** lossForms: per layer signal shown, the per-example loss its run differentiated ('sum' or 'mean' response NLL) */
  'layers.list': { tensors: TensorRow[]; numLayers: number; lossForms: Record<string, 'sum' | 'mean'> };
  'layers.resolve': { tensors: string[]; trainableParams: number; totalParams: number };
  'train.estimate': TrainEstimate;
  'layerMasks.save': LayerMaskInfo;
  'layerMasks.list': LayerMaskInfo[];
  'paramMasks.compute': { jobId: string };
  'paramMasks.list': ParamMaskInfo[];
  'paramMasks.get': ParamMaskInfo;
  'train.start': { jobId: string; runId: number };
  'train.list': TrainRunInfo[];
  'eval.start': { jobId: string; evalRunId: number };
  'eval.list': EvalRunInfo[];
  'eval.rows': EvalRowView[];
  'train.metrics': TrainMetric[];
  'export.start': { jobId: string };
  'bundles.open': BundleOpenResult;
  'jobs.list': Job[];
  'jobs.cancel': Job;
  'jobs.resume': Job;
  'jobs.discard': Job;
  'jobs.clear': { cleared: number };
  'scoring.runs': ScoreRunInfo[];
  'tokenMasks.names': Array<{ name: string; rows: number }>;
  'items.dependents': DependencyReport;
  'items.delete': DependencyReport;
  'items.rename': { kind: ItemKind; id: number | null; name: string };
}

export interface TrainEstimate {
  /** parameters of the trained tensors (with a parameter mask: of its tensors, whose gradients and state are dense) */
  trainableParams: number;
  /** with a parameter mask: the entries that can change; else null */
  maskedParams: number | null;
  totalParams: number;
  trainableTensors: number;
  memory: { weightsBytes: number; activationBytes: number; gradBytes: number; optimizerBytes: number; totalBytes: number };
  /** the backend's memory limit in bytes (wasm: 4 GiB), null when unknown */
  limitBytes: number | null;
  fits: boolean;
  /** with `lora`: the adapted modules (trainableParams then counts their A and B entries), else null */
  lora: {
    /** target_modules as the adapter will write them (presets expanded) */
    targets: string[];
    blocks: number[];
    /** the weights whose modules carry an adapter, e.g. model.layers.3.self_attn.q_proj.weight */
    tensors: string[];
    /** scale applied to B·A: alpha/r, or alpha/√r with rsLoRA */
    scale: number;
  } | null;
}

export interface TokenMaskInfo {
  name: string;
  exampleId: number;
  tokenizerId: string;
  /** the render key it was drawn on (a mask also applies to a render whose tokens are a prefix of the ones it was drawn on) */
  renderKeyId: number;
  /** 1 = trained on, one entry per rendered token */
  mask: number[];
  trainable: number;
  provenance: Record<string, unknown>;
}

export interface ExampleMap {
  /** x0, y0, x1, y1, … (2-D projection) */
  points: number[];
  ids: number[];
  /** colour value per point (null where the signal is missing) */
  values: Array<number | null>;
  /** set when there is nothing to draw, saying what to do */
  message: string | null;
  /** share of variance the two components explain (pca) */
  explained: number[];
  method: 'pca' | 'umap';
  /** umap: the stored layout's parameters */
  layout: { runId: number; seed: number; nNeighbors: number; minDist: number; createdAt: string } | null;
  /** names the points and their order: `values` of a valuesOnly call belong to the points of the call with this key */
  layoutKey: string | null;
}

/** A stored K-means run over `embedding` (the provenance of the `cluster` column). */
export interface ClusterInfo {
  runId: number;
  datasetId: number | null;
  k: number;
  seed: number;
  iterations: number;
  /** Σ squared distance to the assigned centroid at the end */
  objective: number;
  converged: boolean;
  n: number;
  dim: number;
  /** rows per cluster, index = cluster id */
  sizes: number[];
  createdAt: string;
}

/** What re-opening an export bundle restored. */
export interface BundleOpenResult {
  subsetId: number;
  /** null when the bundle has no layer mask */
  layerMaskId: number | null;
  /** the (first) dataset holding the subset's rows */
  datasetId: number;
  datasetIds: number[];
  /** datasets imported from the bundle's subset.jsonl because the project did not have them */
  importedDatasets: number;
  /** examples whose token mask was restored into token_masks */
  tokenMasks: number;
}

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

// ---------- pushed events ----------

export type EngineEvent =
  | { type: 'job'; job: Job }
  | { type: 'train.metric'; runId: number; jobId: string; metric: TrainMetric }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; message: string }
  | { type: 'engine'; status: 'ready' | 'restarting' | 'down'; message: string }
  | { type: 'project'; project: ProjectInfo };

// ---------- the API object every transport provides ----------

export type WinnowApi = {
  call<N extends ApiName>(name: N, input: ApiInput<N>): Promise<Result<ApiOutputs[N]>>;
  /** subscribe to pushed events; returns an unsubscribe function */
  onEvent(listener: (event: EngineEvent) => void): () => void;
  /** native file dialog (Electron only; browser mode imports by path or upload) */
  pickFile?(): Promise<string | null>;
};

export function isApiName(name: unknown): name is ApiName {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(ApiInputs, name);
}

/** Validate a call's input at a boundary. Returns the parsed input, or an error value naming the field. */
export function parseInput<N extends ApiName>(name: N, input: unknown): Result<ApiParsedInput<N>> {
  const schema = ApiInputs[name];
  const parsed = schema.safeParse(input ?? {});
  if (parsed.success) return { ok: true, value: parsed.data as ApiParsedInput<N> };
  const issue = parsed.error.issues[0];
  const field = issue && issue.path.length ? issue.path.join('.') : '(input)';
  return { ok: false, error: { code: 'bad_input', message: `${name}: field "${field}": ${issue?.message ?? 'invalid'}` } };
}
