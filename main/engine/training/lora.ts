/**
 * A run's LoRA settings against a model: the blocks its layer spec picks (the blocks of the tensors the spec
 * resolves to, so `last:2` is the last two blocks) and the modules its targets match there (models/lora.ts).
 */
import type { LoraConfig } from '../../../preload/contract';
import { defaultLoraTargets, loraModules, loraParamCount, type LoraModule, type LoraSettings } from '../models/lora';
import type { ModelConfig, TensorInfo } from '../models/types';
import { resolveLayerSpec } from '../selection/layers';
import { WinnowError } from '../util/errors';

export interface ResolvedLora {
  /** the settings with the targets filled in (PEFT's default for the architecture when none were given) */
  settings: LoraSettings;
  blocks: number[];
  modules: LoraModule[];
  /** A and B entries: r·(in + out) per module */
  trainableParams: number;
}

export function resolveLora(
  cfg: ModelConfig,
  tensors: TensorInfo[],
  lora: LoraConfig,
  runLayers: string,
  blockScores?: Map<number, number>,
): ResolvedLora {
  const spec = lora.layers ?? runLayers;
  const names = new Set(resolveLayerSpec(spec, tensors, blockScores));
  const blocks = [...new Set(tensors.filter((t) => names.has(t.name) && t.block !== null).map((t) => t.block!))].sort((a, b) => a - b);
  if (!blocks.length) throw new WinnowError('bad_input', `lora layers "${spec}": the spec picks no transformer block, so no module can carry an adapter`);
  const settings: LoraSettings = { r: lora.r, alpha: lora.alpha, dropout: lora.dropout, rslora: lora.rslora, targets: lora.targets ?? defaultLoraTargets(cfg.arch) };
  const modules = loraModules(cfg, tensors, settings.targets, blocks);
  return { settings, blocks, modules, trainableParams: loraParamCount(modules, lora.r) };
}

/**
 * What a LoRA run adds to models/memory.ts's estimate: A and B are the only trainable parameters (their gradients and
 * Adam's two moments), the tape holds the blocks from the lowest adapted one up (the frozen prefix runs outside it,
 * training/run.ts frozenBelow), and each adapted module keeps its low-rank product [B·T, r] and, with dropout, the
 * dropped copy of its input [B·T, in].
 */
export function loraFitOptions(cfg: ModelConfig, lora: ResolvedLora, batch: number, seqLen: number): { trainableParams: number; tapeBlocks: number; extraTapeElements: number } {
  const tokens = batch * seqLen;
  const extra = lora.modules.reduce((s, m) => s + tokens * (lora.settings.r + (lora.settings.dropout > 0 ? m.in : 0)), 0);
  return { trainableParams: lora.trainableParams, tapeBlocks: cfg.numLayers - Math.min(...lora.blocks), extraTapeElements: extra };
}
