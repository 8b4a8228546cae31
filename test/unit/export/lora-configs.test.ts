/**
 * The trainer configs of a LoRA run (issue #16) on GPT-2's module names, where `c_proj` names both the attention and
 * the MLP projection: the settings come from the engine's own adapter_config (models/lora.ts adapterConfig) and module
 * list, and each config read back by its tool's rules (PEFT's matching in ./interpreters, through each tool's mapping
 * of its fields) adapts exactly the modules the run adapted — on some blocks and on all of them.
 */
import { describe, expect, it } from 'vitest';
import { axolotlYaml, llamaFactoryYaml, trlScript, type LoraExport, type TrainerSettings } from '../../../main/engine/export/configs';
import { parseModelConfig } from '../../../main/engine/models/config';
import { adapterConfig, loraModules, peftTensorName } from '../../../main/engine/models/lora';
import { expectedTensors } from '../../../main/engine/models/tensors';
import type { TensorInfo } from '../../../main/engine/models/types';
import { TINY_GPT2 } from '../models/tiny';
import { peft, readFlatYaml } from './interpreters';

const cfg = parseModelConfig(TINY_GPT2);
const tensors = expectedTensors(cfg, 'transformer.');
const params = tensors.map((t) => ({ name: t.name, shape: t.shape }));

/** the LoraExport export/run.ts builds from the adapter folder: adapter_config.json's fields and the adapted module keys */
function loraExport(targets: string[], blocks: number[]): { lora: LoraExport; adapted: Set<string> } {
  const mods = loraModules(cfg, tensors as unknown as TensorInfo[], targets, blocks);
  const c = adapterConfig(cfg, { r: 4, alpha: 8, dropout: 0.05, targets, rslora: false }, blocks, '/m');
  const keys = mods.map((m) => peftTensorName(cfg, m.key, 'A').slice('base_model.model.'.length, -'.lora_A.weight'.length)).sort();
  return {
    lora: {
      r: c.r, lora_alpha: c.lora_alpha, lora_dropout: c.lora_dropout, target_modules: c.target_modules, bias: 'none', use_rslora: c.use_rslora,
      ...(c.layers_to_transform ? { layers_to_transform: c.layers_to_transform, layers_pattern: c.layers_pattern ?? undefined } : {}),
      modules: keys,
    },
    adapted: new Set(keys.map((k) => `${k}.weight`)),
  };
}

const settings = (lora: LoraExport): TrainerSettings => ({ modelPath: '/m', lr: 1e-4, epochs: 1, batchSize: 2, maxTokens: 64, hasTokenMasks: true, hasLayerMask: true, allChat: true, lora });

/** each tool's reading of its config, as PEFT LoraConfig fields, then PEFT's matching */
function readBack(s: TrainerSettings): Record<'trl' | 'axolotl' | 'llamafactory', Set<string>> {
  const trl = JSON.parse(JSON.parse(/^PEFT_CONFIG = json\.loads\((".*")\)$/m.exec(trlScript(s))![1]!) as string) as Parameters<typeof peft>[1];
  const ax = readFlatYaml(axolotlYaml(s, null));
  const lf = readFlatYaml(llamaFactoryYaml(s, null));
  expect(ax).toMatchObject({ adapter: 'lora', lora_r: 4, lora_alpha: 8, lora_dropout: 0.05 });
  expect(lf).toMatchObject({ finetuning_type: 'lora', lora_rank: 4, lora_alpha: 8, lora_dropout: 0.05 });
  return {
    trl: peft(params, trl),
    axolotl: peft(params, { target_modules: ax.lora_target_modules as string[], layers_to_transform: ax.peft_layers_to_transform as number[] | null, layers_pattern: ax.peft_layers_pattern as string | null }),
    llamafactory: peft(params, { target_modules: String(lf.lora_target).split(',').map((t) => t.trim()) }),
  };
}

describe('LoRA trainer configs on GPT-2', () => {
  it('attn.c_proj on block 1 only: every tool adapts that one module, not the MLP c_proj nor block 0', () => {
    const { lora, adapted } = loraExport(['attn.c_proj'], [1]);
    expect([...adapted]).toEqual(['transformer.h.1.attn.c_proj.weight']);
    expect(lora).toMatchObject({ target_modules: ['attn.c_proj'], layers_to_transform: [1], layers_pattern: 'h' });
    const got = readBack(settings(lora));
    expect(got.trl).toEqual(adapted);
    expect(got.axolotl).toEqual(adapted);
    expect(got.llamafactory).toEqual(adapted);
    expect(llamaFactoryYaml(settings(lora), null)).toContain('lora_target: "transformer.h.1.attn.c_proj"');
  });

  it('all-linear on every block: no layer fields, and LLaMA-Factory names the modules', () => {
    const { lora, adapted } = loraExport(['all-linear'], [0, 1]);
    expect(adapted.size).toBe(8);
    expect(lora.layers_to_transform).toBeUndefined();
    const got = readBack(settings(lora));
    expect(got.trl).toEqual(adapted);
    expect(got.axolotl).toEqual(adapted);
    expect(got.llamafactory).toEqual(adapted);
    expect(llamaFactoryYaml(settings(lora), null)).toContain('lora_target: "c_attn,c_proj,c_fc"');
    expect(axolotlYaml(settings(lora), null)).not.toContain('peft_layers_to_transform');
  });

  it('without a LoRA run the configs apply the layer mask as before', () => {
    const s = { ...settings(loraExport(['c_attn'], [0]).lora), lora: null };
    expect(trlScript(s)).toContain('PEFT_CONFIG = None');
    expect(axolotlYaml(s, null)).not.toContain('adapter: lora');
    expect(llamaFactoryYaml(s, null)).toContain('finetuning_type: full');
  });
});
