/** Layers of a model: its tensors with their scores, and named layer masks (exact HF tensor names + provenance). */
import type { Db } from '../db';
import type { LayerMaskInfo, LoraConfig, TensorRow, TrainEstimate } from '../../../preload/contract';
import { checkFits, estimateMemory, type GpuLimits } from '../models/memory';
import { expandTargets, loraScale } from '../models/lora';
import { loraFitOptions, resolveLora } from '../training/lora';
import { readModelConfig } from '../models/config';
import { checkpointFiles, readSafetensorsHeader } from '../models/safetensors';
import { listTensors } from '../models';
import type { TensorInfo } from '../models/types';
import { resolveLayerSpec } from '../selection/layers';
import { WinnowError } from '../util/errors';
import { modelPath } from './models-registry';
import { getParamMask } from '../selection/param-masks-store';
import { deltaBaseDir, readDeltaManifest } from '../models/delta';
import { BLOCK_ROW_KIND, fimLossOf } from '../scoring/layer-rows';

/** Tensors of a checkpoint from its headers only (no weights are read). */
export function checkpointTensors(dir: string): TensorInfo[] {
  // a changed-tensors-only folder has the base's tensors
  const delta = readDeltaManifest(dir);
  if (delta) return checkpointTensors(deltaBaseDir(dir, delta));
  const cfg = readModelConfig(dir);
  const shapes: Record<string, { shape: number[] }> = {};
  for (const f of checkpointFiles(dir).files) {
    for (const [name, e] of readSafetensorsHeader(f).entries) shapes[name] = { shape: e.shape };
  }
  return listTensors(cfg, shapes);
}

/**
 * Latest per-block score of a signal for a model, from layer scoring runs: the block's own row where the run stored
 * one (layer_grad_norm: mean ‖g_block‖₂ over the block's whole gradient), else the sum over the block's tensors (fim:
 * Σ ‖F_tensor‖_F, as surgical fine-tuning sums them). layer_grad_norm runs stored before block rows existed have
 * only per-tensor norms, whose sum is not ‖g_block‖: they are not used, and the error says to score again.
 */
export function layerBlockScores(db: Db, modelId: number, spec: string): Map<number, number> | undefined {
  const m = /^top:\d+:([a-z_]+)$/.exec(spec.trim());
  if (!m) return undefined;
  const signal = m[1]!;
  const blockRows = signal === 'layer_grad_norm';
  const run = db
    .prepare(
      `SELECT r.id FROM score_runs r JOIN layer_scores l ON l.run_id = r.id WHERE r.model_id = ? AND l.signal = ? ${blockRows ? 'AND l.kind = ?' : ''}
       ORDER BY r.id DESC LIMIT 1`,
    )
    .pluck()
    .get(modelId, signal, ...(blockRows ? [BLOCK_ROW_KIND] : [])) as number | undefined;
  if (!run) {
    if (blockRows && db.prepare(`SELECT 1 FROM score_runs r JOIN layer_scores l ON l.run_id = r.id WHERE r.model_id = ? AND l.signal = ?`).get(modelId, signal)) {
      throw new WinnowError('bad_input', `layers "${spec.trim()}": this model's layer_grad_norm scores are from a run that stored per-tensor norms only (their sum is not the block's gradient norm ‖g_block‖); score layer_grad_norm again`);
    }
    return new Map();
  }
  const rows = (blockRows
    ? db.prepare(`SELECT block, value AS v FROM layer_scores WHERE run_id = ? AND signal = ? AND kind = ? AND block IS NOT NULL`).all(run, signal, BLOCK_ROW_KIND)
    : db.prepare(`SELECT block, SUM(value) AS v FROM layer_scores WHERE run_id = ? AND signal = ? AND kind != ? AND block IS NOT NULL GROUP BY block`).all(run, signal, BLOCK_ROW_KIND)) as Array<{ block: number; v: number }>;
  return new Map(rows.map((r) => [r.block, r.v]));
}

export function listLayerTensors(db: Db, modelId: number): { tensors: TensorRow[]; numLayers: number; lossForms: Record<string, 'sum' | 'mean'> } {
  const dir = modelPath(db, modelId);
  const tensors = checkpointTensors(dir);
  const scores = db
    .prepare(
      `SELECT l.tensor_name AS name, l.signal, l.value FROM layer_scores l
       WHERE l.run_id = (SELECT MAX(r.id) FROM score_runs r JOIN layer_scores x ON x.run_id = r.id WHERE r.model_id = ? AND x.signal = l.signal)`,
    )
    .all(modelId) as Array<{ name: string; signal: string; value: number }>;
  const byName = new Map<string, Record<string, number>>();
  for (const s of scores) {
    if (!byName.has(s.name)) byName.set(s.name, {});
    byName.get(s.name)![s.signal] = s.value;
  }
  // the loss form of each signal's latest run: its fimLoss, or the mean for a run from before the option
  const runs = db
    .prepare(
      `SELECT l.signal, r.params_json FROM score_runs r JOIN (SELECT DISTINCT run_id, signal FROM layer_scores) l ON l.run_id = r.id
       WHERE r.id = (SELECT MAX(r2.id) FROM score_runs r2 JOIN layer_scores x ON x.run_id = r2.id WHERE r2.model_id = ? AND x.signal = l.signal)`,
    )
    .all(modelId) as Array<{ signal: string; params_json: string }>;
  const lossForms: Record<string, 'sum' | 'mean'> = {};
  for (const r of runs) lossForms[r.signal] = fimLossOf(JSON.parse(r.params_json) as { fimLoss?: 'sum' | 'mean' });
  return {
    tensors: tensors.map((t) => ({ ...t, scores: byName.get(t.name) ?? {} })),
    numLayers: readModelConfig(dir).numLayers,
    lossForms,
  };
}

interface MaskRowDb { id: number; name: string; model_id: number; tensors_json: string; provenance_json: string }
const toInfo = (r: MaskRowDb): LayerMaskInfo => ({
  id: r.id,
  name: r.name,
  modelId: r.model_id,
  tensors: JSON.parse(r.tensors_json),
  provenance: JSON.parse(r.provenance_json),
});

export function saveLayerMask(db: Db, name: string, modelId: number, spec: string): LayerMaskInfo {
  const dir = modelPath(db, modelId);
  const tensors = resolveLayerSpec(spec, checkpointTensors(dir), layerBlockScores(db, modelId, spec));
  if (db.prepare('SELECT 1 FROM layer_masks WHERE name = ?').get(name)) throw new WinnowError('conflict', `a layer mask named "${name}" already exists`);
  const info = db
    .prepare(`INSERT INTO layer_masks (name, model_id, tensors_json, provenance_json, created_at) VALUES (?, ?, ?, ?, datetime('now'))`)
    .run(name, modelId, JSON.stringify(tensors), JSON.stringify({ spec, modelPath: dir }));
  return toInfo(db.prepare('SELECT * FROM layer_masks WHERE id = ?').get(Number(info.lastInsertRowid)) as MaskRowDb);
}

export function listLayerMasks(db: Db, modelId?: number): LayerMaskInfo[] {
  const rows = (modelId !== undefined
    ? db.prepare('SELECT * FROM layer_masks WHERE model_id = ? ORDER BY id').all(modelId)
    : db.prepare('SELECT * FROM layer_masks ORDER BY id').all()) as MaskRowDb[];
  return rows.map(toInfo);
}

export function getLayerMask(db: Db, id: number): LayerMaskInfo {
  const r = db.prepare('SELECT * FROM layer_masks WHERE id = ?').get(id) as MaskRowDb | undefined;
  if (!r) throw new WinnowError('not_found', `layer mask ${id} not found`);
  return toInfo(r);
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
