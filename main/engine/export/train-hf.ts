/**
 * What train_hf.py (train-hf-script.ts) reads beside it: winnow_train.json — the model, the bundle's mask files, an
 * optional LoRA block and the hyper-parameters of the Winnow run (or Winnow's defaults when the export names no run)
 * — and the launcher configs for `accelerate launch` (FSDP, DeepSpeed ZeRO-2 with ds_zero2.json).
 */
import type { TokenPolicySpec } from '../selection/token-policy';

export const TRAIN_HF_FORMAT = 'winnow-train/1';

export const TRAIN_HF_FILES = {
  script: 'train_hf.py',
  config: 'winnow_train.json',
  fsdp: 'accelerate_fsdp.yaml',
  deepspeed: 'accelerate_deepspeed.yaml',
  zero2: 'ds_zero2.json',
} as const;

/** A PEFT LoRA block (peft.LoraConfig's fields); train_hf.py applies it with get_peft_model when present. */
export interface LoraBlock {
  r: number;
  lora_alpha: number;
  lora_dropout?: number;
  target_modules: string[] | string;
  bias?: 'none' | 'lora_only' | 'all';
  layers_to_transform?: number[];
  layers_pattern?: string;
  modules_to_save?: string[];
  use_rslora?: boolean;
}

/** The hyper-parameters of a training run as train_hf.py names them. */
export interface HfHyper {
  steps: number;
  batch_size: number;
  grad_accum: number;
  lr: number;
  optimizer: 'adamw' | 'sgd';
  weight_decay: number;
  schedule: 'constant' | 'linear' | 'cosine';
  warmup_steps: number;
  clip_norm: number | null;
  max_tokens: number;
  seed: number;
  eval_fraction: number;
  dft_weight: boolean;
}

/** The run's config_json fields that train_hf.py uses (TrainConfig; older runs may lack some). */
export interface RunConfigLike {
  steps?: number; batchSize?: number; gradAccum?: number; lr?: number; optimizer?: 'adamw' | 'sgd'; weightDecay?: number;
  schedule?: 'constant' | 'linear' | 'cosine'; warmupSteps?: number; clipNorm?: number | null; maxTokens?: number; seed?: number;
  evalFraction?: number; dftWeight?: boolean; lora?: { r: number; alpha: number } | null; subsetId?: number | null; datasetId?: number; paramMaskId?: number;
}

/** What train_hf.py will not do as the run did, for the bundle's README notes. */
export function hfNotes(
  run: RunConfigLike | null,
  exp: { subsetId: number | null; datasetId?: number; hasLayerMask: boolean; hasParamMask: boolean; hasLora: boolean },
): string[] {
  const notes: string[] = [];
  if (!exp.hasLayerMask && !exp.hasParamMask && !exp.hasLora) notes.push('train_hf.py trains every tensor: this export has no layer_mask.json (and no parameter mask or LoRA block).');
  if (!run) return notes;
  if (run.paramMaskId !== undefined && !exp.hasParamMask) {
    notes.push(`The training run used parameter mask #${run.paramMaskId}, which this export does not include: train_hf.py trains the whole tensors of layer_mask.json (export the parameter mask too and it trains only the mask's entries).`);
  }
  if ((run.subsetId ?? null) !== exp.subsetId || (exp.subsetId === null && run.datasetId !== exp.datasetId)) {
    notes.push('The exported rows are not the training run\'s rows (another subset or dataset), so train_hf.py draws other batches than the run did.');
  }
  return notes;
}

/**
 * The run's hyper-parameters; without a run, Winnow's training defaults (contract TrainConfigSchema) and one pass
 * over the exported rows.
 */
export function hfHyper(run: RunConfigLike | null, rows: number, defaults: { maxTokens: number }): HfHyper {
  const r = run ?? {};
  const batch = r.batchSize ?? 4;
  const accum = r.gradAccum ?? 1;
  return {
    steps: r.steps ?? Math.max(1, Math.ceil(rows / (batch * accum))),
    batch_size: batch,
    grad_accum: accum,
    lr: r.lr ?? 1e-3,
    optimizer: r.optimizer ?? 'adamw',
    weight_decay: r.weightDecay ?? 0,
    schedule: r.schedule ?? 'cosine',
    warmup_steps: r.warmupSteps ?? 0,
    clip_norm: r.clipNorm === undefined ? 1 : r.clipNorm,
    max_tokens: r.maxTokens ?? defaults.maxTokens,
    seed: r.seed ?? 0,
    eval_fraction: r.evalFraction ?? 0.05,
    dft_weight: r.dftWeight ?? false,
  };
}

export interface WinnowTrainInput {
  model: { path: string; architecture: string; padId: number | null };
  tokenizerId: string;
  tokenMasks: string | null;
  tokenPolicy: TokenPolicySpec | null;
  layerMask: string | null;
  /** param_mask.safetensors when the bundle has it: train_hf.py then trains only its entries */
  paramMask: string | null;
  lora: LoraBlock | null;
  trainRunId: number | null;
  hyper: HfHyper;
}

export function winnowTrainJson(i: WinnowTrainInput): Record<string, unknown> {
  return {
    format: TRAIN_HF_FORMAT,
    model: { path: i.model.path, architecture: i.model.architecture, pad_id: i.model.padId },
    tokenizer: i.tokenizerId,
    token_masks: i.tokenMasks,
    token_policy: i.tokenPolicy,
    layer_mask: i.layerMask,
    param_mask: i.paramMask,
    lora: i.lora,
    train_run: i.trainRunId,
    hyper_from: i.trainRunId !== null ? `training run ${i.trainRunId}` : 'Winnow defaults (no training run in this export); one pass over the rows',
    hyper: i.hyper,
  };
}

/**
 * accelerate's FSDP config: full sharding of each decoder block, original parameters kept (a layer mask leaves some
 * frozen), full state dict on save; float32 as Winnow trains. num_processes is the default, `--num_processes N` overrides.
 */
export function accelerateFsdpYaml(): string {
  return [
    '# accelerate config written by Winnow: FSDP. Run from this folder:',
    '#   accelerate launch --config_file accelerate_fsdp.yaml train_hf.py',
    '# (add --num_processes N for N GPUs; train_hf.py splits each micro-batch between them)',
    'compute_environment: LOCAL_MACHINE',
    'distributed_type: FSDP',
    'mixed_precision: "no"',
    'num_machines: 1',
    'num_processes: 2',
    'machine_rank: 0',
    'main_training_function: main',
    'use_cpu: false',
    'fsdp_config:',
    '  fsdp_sharding_strategy: FULL_SHARD',
    '  fsdp_auto_wrap_policy: TRANSFORMER_BASED_WRAP',
    '  fsdp_backward_prefetch: BACKWARD_PRE',
    '  fsdp_state_dict_type: FULL_STATE_DICT',
    '  # a layer mask freezes some tensors of a block: FSDP needs the original parameters to mix frozen and trained',
    '  fsdp_use_orig_params: true',
    '  fsdp_sync_module_states: true',
    '  fsdp_offload_params: false',
    '',
  ].join('\n');
}

export function accelerateDeepspeedYaml(): string {
  return [
    '# accelerate config written by Winnow: DeepSpeed ZeRO-2 (ds_zero2.json). Run from this folder:',
    '#   accelerate launch --config_file accelerate_deepspeed.yaml train_hf.py',
    'compute_environment: LOCAL_MACHINE',
    'distributed_type: DEEPSPEED',
    'num_machines: 1',
    'num_processes: 2',
    'machine_rank: 0',
    'main_training_function: main',
    'use_cpu: false',
    'deepspeed_config:',
    '  deepspeed_config_file: ds_zero2.json',
    '  zero3_init_flag: false',
    '',
  ].join('\n');
}

/** ZeRO-2; batch, accumulation and clipping are "auto": train_hf.py fills them from winnow_train.json. */
export function dsZero2Json(): Record<string, unknown> {
  return {
    train_batch_size: 'auto',
    train_micro_batch_size_per_gpu: 'auto',
    gradient_accumulation_steps: 'auto',
    gradient_clipping: 'auto',
    zero_optimization: { stage: 2, overlap_comm: true, contiguous_gradients: true, reduce_scatter: true },
    zero_allow_untested_optimizer: true,
    fp16: { enabled: false },
    bf16: { enabled: false },
  };
}
