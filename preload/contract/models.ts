/**
 * Models: registered model folders, the Hugging Face hub cache, WiSE-FT interpolation.
 */
import { z } from 'zod';
import { id } from './common';

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

/** models.*: each call's input schema (composed into ApiInputs, index.ts). */
export const ModelsInputs = {
  /** `path`: a model folder, or a Hugging Face hub id `org/name[@revision]` resolved from the hub cache (offline) */
  'models.add': z.object({ path: z.string().min(1) }),
  /**
   * WiSE-FT: write θ(α) = (1−α)·θ_base + α·θ_tuned of two registered models (a model and one tuned from it) to `outDir`
   * (default: the project's folder, models/wise-<tuned id>-a<α>) and register it as a new model to score and evaluate
   */
  'models.wise': z.object({ baseModelId: id, tunedModelId: id, alpha: z.number().min(0).max(1), outDir: z.string().min(1).optional(), name: z.string().min(1).max(200).optional() }),
  /** every model snapshot in the Hugging Face hub cache (HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub) */
  'models.listCached': z.object({}),
} as const;

/** models.*: each call's output. */
export interface ModelsOutputs {
  'models.add': ModelInfo;
  'models.wise': ModelInfo;
  'models.listCached': CachedModelInfo[];
}
