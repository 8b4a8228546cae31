import type { RowScope } from '../../../preload/contract';

/** A scoring job's parameters (job kind `score`), as run.ts and gradient-pass.ts read them. */
export interface ScoreParams {
  modelId: number;
  datasetId?: number;
  signals: string[];
  /** excess_loss, learnability: the LATER reference model (ℓ^θ − ℓ^ref) */
  refModelId?: number;
  /** sstoken: the EARLIER history model (ℓ^his − ℓ^θ); absent in jobs from before it existed, whose refModelId was
   * sstoken's history model (passes/reference.ts historyModelOf) */
  historyModelId?: number;
  batchSize: number;
  maxTokens: number;
  projectModelPath: string;
  /** fim / layer_grad_norm: how many examples (default 100), drawn with `seed` (default 0) from the dataset or `subsetId` */
  fimExamples?: number;
  /** also grad_sim's projection seed */
  seed?: number;
  subsetId?: number;
  /** grad_norm / grad_sim_base: layer spec of the parameters the gradient is taken over (default all) */
  gradLayers?: string;
  /** grad_sim_base / grad_sim: projection dimension (default 1024 / 8192) and the target subset */
  gradDim?: number;
  targetSubsetId?: number;
  /** grad_sim: several target subsets, one per subtask (mean within each, max across) */
  targetSubsetIds?: number[];
  /** grad_sim: an example column whose values split the target set into subtasks */
  targetColumn?: string;
  /** grad_sim: the LoRA warm-up run (a train run with lora and keepCheckpoints) */
  lessRunId?: number;
  /** sstoken's γ (default 0.5) */
  sstokenGamma?: number;
  /** fim / layer_grad_norm: the per-example loss differentiated, 'sum' or 'mean' over the response tokens (absent:
   * a run from before the option, which was the mean — gradient-pass.ts fimLossOf) */
  fimLoss?: 'sum' | 'mean';
  /** a PEFT LoRA adapter folder merged into the scored model's weights before any pass (models/lora.ts) */
  adapterPath?: string;
  /** score only this subset's rows (a `winnow score --shard I/N` process: its share of the file, scoring/shard.ts) */
  onlySubsetId?: number;
  /** the rows scored (absent: every row of the dataset, as before the option) */
  rows?: RowScope;
}
