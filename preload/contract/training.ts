/**
 * Training: a run's configuration (LoRA, token policy, UDS), its memory estimate, metrics and the runs recorded.
 */
import { z } from 'zod';
import { id, type JobStatus } from './common';
import { TokenPolicySchema } from './masks';

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

/** train jobs: the run to train (its TrainConfig is stored with the run, train_runs.config_json) */
export const TrainJobParamsSchema = z.object({ runId: id });

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

export interface TrainMetric {
  step: number;
  split: 'train' | 'eval';
  loss: number;
  lr: number;
  tokensPerSec: number;
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

/** train.*: each call's input schema (composed into ApiInputs, index.ts). */
export const TrainingInputs = {
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
  'train.start': TrainConfigSchema,
  'train.list': z.object({}),
  'train.metrics': z.object({ runId: id }),
} as const;

/** train.*: each call's output. */
export interface TrainingOutputs {
  'train.estimate': TrainEstimate;
  'train.start': { jobId: string; runId: number };
  'train.list': TrainRunInfo[];
  'train.metrics': TrainMetric[];
}
