/**
 * The LoRA choices the Train form and the Layers grid share: targets as a preset or as module names, turned into the
 * `lora` block the engine takes (preload/contract/training.ts LoraConfigSchema; the engine expands presets per architecture).
 */
import { LORA_PRESETS, type LoraConfig } from '../../../../preload/contract';

/** '' = PEFT's default for the architecture (q_proj, v_proj; c_attn for GPT-2); 'names' = the typed module names */
export type LoraTargetMode = '' | (typeof LORA_PRESETS)[number] | 'names';

export const LORA_TARGET_OPTIONS: ReadonlyArray<readonly [LoraTargetMode, string]> = [
  ['', 'PEFT default (q_proj, v_proj / c_attn)'],
  ...LORA_PRESETS.map((p) => [p, p === 'all-linear' ? 'all linear layers' : `${p} layers`] as const),
  ['names', 'module names…'],
];

/** targets for the lora block: undefined for the default, the preset, or the comma-separated names */
export function loraTargets(mode: LoraTargetMode, names: string): string[] | undefined {
  if (mode === '') return undefined;
  if (mode !== 'names') return [mode];
  const list = names.split(',').map((s) => s.trim()).filter(Boolean);
  // an empty list is sent as one empty name, so the engine's message about the field is what the user sees
  return list.length ? list : [''];
}

/** A LoRA block's settings in one line (run lists, run view). */
export function describeLora(l: LoraConfig): string {
  return `LoRA r ${l.r} · α ${l.alpha}${l.rslora ? ' (rsLoRA)' : ''}${l.dropout ? ` · dropout ${l.dropout}` : ''} · ${l.targets?.join(', ') ?? 'default targets'}${l.layers ? ` · blocks ${l.layers}` : ''}`;
}
