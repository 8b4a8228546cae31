/** Layers of a model: its tensors with their scores, and named layer masks (exact HF tensor names + provenance). */
import type { Db } from '../db';
import type { LayerMaskInfo, LoraConfig, TensorRow, TrainEstimate } from '../../../preload/contract';
import { checkFits, estimateMemory, type GpuLimits } from '../models/memory';
import { expandTargets, loraScale } from '../models/lora';
import { loraFitOptions, resolveLora } from '../training/lora';
import { readModelConfig } from '../models/config';
import { checkpointTensors } from '../models/checkpoint-tensors';
import { resolveLayerSpec } from '../selection/layers';
import { WinnowError } from '../util/errors';
import { modelPath } from './models-registry';
import { getParamMask } from '../selection/param-masks-store';
import { fimLossOf } from '../scoring/layer-rows';
import { getLayerMask, insertLayerMask, latestLayerRunParams, latestLayerScores, layerBlockScores, listLayerMasks } from '../db/layers';

// the storage and checkpoint readers live below the api (db/layers.ts, models/checkpoint-tensors.ts); callers of the
// api keep these names
export { checkpointTensors, getLayerMask, layerBlockScores, listLayerMasks };

export function listLayerTensors(db: Db, modelId: number): { tensors: TensorRow[]; numLayers: number; lossForms: Record<string, 'sum' | 'mean'> } {
  const dir = modelPath(db, modelId);
  const tensors = checkpointTensors(dir);
  const scores = latestLayerScores(db, modelId);
  const byName = new Map<string, Record<string, number>>();
  for (const s of scores) {
    if (!byName.has(s.name)) byName.set(s.name, {});
    byName.get(s.name)![s.signal] = s.value;
  }
  // the loss form of each signal's latest run: its fimLoss, or the mean for a run from before the option
  const runs = latestLayerRunParams(db, modelId);
  const lossForms: Record<string, 'sum' | 'mean'> = {};
  for (const r of runs) lossForms[r.signal] = fimLossOf(JSON.parse(r.params_json) as { fimLoss?: 'sum' | 'mean' });
  return {
    tensors: tensors.map((t) => ({ ...t, scores: byName.get(t.name) ?? {} })),
    numLayers: readModelConfig(dir).numLayers,
    lossForms,
  };
}

export function saveLayerMask(db: Db, name: string, modelId: number, spec: string): LayerMaskInfo {
  const dir = modelPath(db, modelId);
  const tensors = resolveLayerSpec(spec, checkpointTensors(dir), layerBlockScores(db, modelId, spec));
  return insertLayerMask(db, name, modelId, tensors, { spec, modelPath: dir });
}

/** A layer spec resolved to exact tensor names with parameter counts (presets preview in the UI). */
export function resolveLayers(db: Db, modelId: number, spec: string): { tensors: string[]; trainableParams: number; totalParams: number } {
  const all = checkpointTensors(modelPath(db, modelId));
  const names = resolveLayerSpec(spec, all, layerBlockScores(db, modelId, spec));
  const chosen = new Set(names);
  return {
    tensors: names,
    trainableParams: all.filter((t) => chosen.has(t.name)).reduce((a, t) => a + t.size, 0),
    totalParams: all.reduce((a, t) => a + t.size, 0),
  };
}

/**
 * A parameter mask's tensors as a layer choice: memory is that of training those tensors in full (gradients and
 * optimizer state stay dense), while `maskedParams` counts the entries that can change.
 */
export function paramMaskLayers(db: Db, modelId: number, maskId: number): { tensors: string[]; trainableParams: number; totalParams: number; maskedParams: number } {
  const mask = getParamMask(db, maskId);
  if (mask.modelId !== modelId) throw new WinnowError('bad_input', `parameter mask "${mask.name}" belongs to model ${mask.modelId}, not model ${modelId}`);
  const all = checkpointTensors(modelPath(db, modelId));
  const chosen = new Set(mask.tensors.map((t) => t.name));
  return {
    tensors: [...chosen],
    trainableParams: all.filter((t) => chosen.has(t.name)).reduce((a, t) => a + t.size, 0),
    totalParams: all.reduce((a, t) => a + t.size, 0),
    maskedParams: mask.trainableParams,
  };
}

/**
 * Trainable parameters and the memory a run needs, checked against the backend by models/memory.ts `checkFits`
 * (wasm: its 4 GiB heap including weight copies; cpu/tensorflow: the machine's RAM).
 */
export function trainEstimate(
  db: Db,
  i: { modelId: number; layers: string; batchSize: number; maxTokens: number; gradAccum?: number; paramMaskId?: number; lora?: LoraConfig },
  backend: string | null,
  adapter?: GpuLimits,
): TrainEstimate {
  if (i.lora && i.paramMaskId !== undefined) throw new WinnowError('bad_input', 'train with LoRA or with a parameter mask, not both');
  const cfg = readModelConfig(modelPath(db, i.modelId));
  const all = checkpointTensors(modelPath(db, i.modelId));
  const lora = i.lora
    ? resolveLora(cfg, all, i.lora, i.layers, layerBlockScores(db, i.modelId, i.lora.layers ?? i.layers))
    : null;
  const r: { tensors: string[]; trainableParams: number; totalParams: number; maskedParams?: number } = lora
    ? { tensors: lora.modules.map((m) => `${m.key}.weight`), trainableParams: lora.trainableParams, totalParams: all.reduce((a, t) => a + t.size, 0) }
    : i.paramMaskId !== undefined
      ? paramMaskLayers(db, i.modelId, i.paramMaskId)
      : resolveLayers(db, i.modelId, i.layers);
  const opts = {
    batch: i.batchSize, seqLen: i.maxTokens, gradAccum: i.gradAccum, trainableParams: r.trainableParams, backend: backend ?? 'wasm', adapter,
    ...(lora ? loraFitOptions(cfg, lora, i.batchSize, i.maxTokens) : {}),
  };
  let memory = estimateMemory(cfg, opts);
  let limitBytes: number | null = null;
  let fits = true;
  try {
    const fit = checkFits(cfg, opts);
    limitBytes = Number.isFinite(fit.limitBytes) ? fit.limitBytes : null; // webgpu: device memory unknown
    memory = { ...memory, totalBytes: memory.totalBytes + fit.backendExtraBytes };
  } catch (err) {
    if (!(err instanceof WinnowError) || err.code !== 'too_large') throw err;
    fits = false;
    limitBytes = Number(err.details?.limitBytes ?? 0) || null;
    memory = { ...memory, totalBytes: Number(err.details?.needBytes ?? memory.totalBytes) };
  }
  return {
    trainableParams: r.trainableParams,
    maskedParams: r.maskedParams ?? null,
    totalParams: r.totalParams,
    trainableTensors: r.tensors.length,
    memory,
    limitBytes,
    fits,
    lora: lora ? { targets: expandTargets(cfg.arch, lora.settings.targets), blocks: lora.blocks, tensors: r.tensors, scale: loraScale(lora.settings) } : null,
  };
}
