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
