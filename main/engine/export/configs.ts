/**
 * Ready-to-run trainer configs for a bundle: a TRL SFTTrainer script (train_trl.py), axolotl.yaml, and
 * llamafactory.yaml with its dataset_info.json. Each applies the bundle's token mask and layer mask as far as the
 * tool can; what a tool cannot apply exactly is written into the README by the caller (from the form reports).
 */
import type { LayerMaskForms } from './layer-formats';
import type { LoraBlock } from './train-hf';

/**
 * A LoRA run's adapter as each tool is told it: PEFT's LoraConfig fields from the adapter_config.json the run wrote,
 * and the exact module keys it adapted (from its adapter_model.safetensors), for tools with no per-layer option.
 */
export interface LoraExport extends LoraBlock {
  target_modules: string[];
  /** every adapted module as the model names it, e.g. model.layers.3.self_attn.q_proj */
  modules: string[];
}

export interface TrainerSettings {
  /** the model the masks were made for (its folder on the exporting machine; override on the command line) */
  modelPath: string;
  lr: number;
  epochs: number;
  batchSize: number;
  maxTokens: number;
  hasTokenMasks: boolean;
  hasLayerMask: boolean;
  /** every example is a chat (LLaMA-Factory's sharegpt form needs messages) */
  allChat: boolean;
  /** the exported run trained LoRA adapters: each config trains the same adapters instead of applying the layer mask */
  lora?: LoraExport | null;
}

/** PEFT LoraConfig keyword arguments for the run's adapter (TRL passes them to SFTTrainer as peft_config). */
function peftKwargs(l: LoraExport): Record<string, unknown> {
  return {
    r: l.r, lora_alpha: l.lora_alpha, lora_dropout: l.lora_dropout, target_modules: l.target_modules,
    ...(l.layers_to_transform ? { layers_to_transform: l.layers_to_transform, layers_pattern: l.layers_pattern ?? null } : {}),
    use_rslora: l.use_rslora ?? false, bias: 'none', task_type: 'CAUSAL_LM',
  };
}

/** YAML scalar: JSON strings are valid YAML double-quoted scalars */
const y = (v: unknown): string => (v === null || v === undefined ? 'null' : typeof v === 'string' ? JSON.stringify(v) : String(v));

export function trlScript(s: TrainerSettings): string {
  return `#!/usr/bin/env python3
"""
Fine-tune on this Winnow bundle with TRL's SFTTrainer, applying ${s.lora ? "the token mask exactly and training the run's LoRA adapter" : 'both masks exactly'}:
  - token mask: token_masks.jsonl is already tokenized; its labels are -100 where the loss is masked, and the
    collator below pads without touching them (no re-tokenizing, no chat template, no completion-only heuristics);
  - ${s.lora ? 'LoRA: the exported run trained LoRA adapters; PEFT_CONFIG below holds its LoraConfig (rank, alpha,\n    dropout, target modules, layers) and SFTTrainer trains the same adapters (needs peft)' : 'layer mask: requires_grad is True only for the tensors named in layer_mask.json'}.
Run from anywhere:  python3 train_trl.py [--model DIR] [--output-dir DIR]
Needs: torch, transformers, datasets, trl${s.lora ? ', peft' : ''}.
"""
import argparse
import json
import os

import torch
from datasets import load_dataset
from transformers import AutoModelForCausalLM, AutoTokenizer
from trl import SFTConfig, SFTTrainer

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_MODEL = ${JSON.stringify(s.modelPath)}
# PEFT LoraConfig of the exported run's adapter, or None (whole tensors, per layer_mask.json)
PEFT_CONFIG = ${s.lora ? `json.loads(${JSON.stringify(JSON.stringify(peftKwargs(s.lora)))})` : 'None'}


def collate(pad_id):
    def fn(rows):
        n = max(len(r["input_ids"]) for r in rows)
        ids = torch.full((len(rows), n), pad_id, dtype=torch.long)
        att = torch.zeros((len(rows), n), dtype=torch.long)
        lab = torch.full((len(rows), n), -100, dtype=torch.long)
        for i, r in enumerate(rows):
            k = len(r["input_ids"])
            ids[i, :k] = torch.tensor(r["input_ids"])
            att[i, :k] = torch.tensor(r["attention_mask"])
            lab[i, :k] = torch.tensor(r["labels"])
        return {"input_ids": ids, "attention_mask": att, "labels": lab}

    return fn


def apply_layer_mask(model, path):
    if not os.path.exists(path):
        print("no layer_mask.json: every parameter trains")
        return
    wanted = set(json.load(open(path, encoding="utf-8"))["trainable_tensors"])
    names = {n for n, _ in model.named_parameters()}
    unknown = sorted(wanted - names)
    if unknown:
        raise SystemExit(f"layer_mask.json names tensors this model does not have: {unknown[:5]}")
    for name, p in model.named_parameters():
        p.requires_grad_(name in wanted)
    print(f"trainable tensors: {sum(p.requires_grad for p in model.parameters())} of {len(names)}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--output-dir", default=os.path.join(HERE, "trl-out"))
    ap.add_argument("--lr", type=float, default=${s.lr})
    ap.add_argument("--epochs", type=float, default=${s.epochs})
    ap.add_argument("--batch-size", type=int, default=${s.batchSize})
    a = ap.parse_args()

    tok = AutoTokenizer.from_pretrained(a.model)
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else (tok.eos_token_id or 0)
    model = AutoModelForCausalLM.from_pretrained(a.model, torch_dtype=torch.float32)
    peft_config = None
    if PEFT_CONFIG is not None:
        from peft import LoraConfig

        peft_config = LoraConfig(**PEFT_CONFIG)
    else:
        apply_layer_mask(model, os.path.join(HERE, "layer_mask.json"))

    ds = load_dataset("json", data_files=os.path.join(HERE, "token_masks.jsonl"), split="train")
    ds = ds.remove_columns([c for c in ds.column_names if c not in ("input_ids", "attention_mask", "labels")])

    args = SFTConfig(
        output_dir=a.output_dir,
        learning_rate=a.lr,
        num_train_epochs=a.epochs,
        per_device_train_batch_size=a.batch_size,
        remove_unused_columns=False,
        dataset_kwargs={"skip_prepare_dataset": True},
        logging_steps=1,
        report_to=[],
    )
    trainer = SFTTrainer(model=model, args=args, train_dataset=ds, data_collator=collate(pad_id), processing_class=tok, peft_config=peft_config)
    trainer.train()
    trainer.save_model(a.output_dir)


if __name__ == "__main__":
    main()
`;
}

export function axolotlYaml(s: TrainerSettings, forms: LayerMaskForms | null): string {
  const lines = [
    '# Axolotl config written by Winnow. Run from this folder: axolotl train axolotl.yaml',
    `base_model: ${y(s.modelPath)}`,
    '',
    '# token_masks.jsonl is pre-tokenized (input_ids, attention_mask, labels with -100 on masked tokens):',
    '# with no `type`, Axolotl uses the rows as they are, so the token mask applies exactly.',
    'datasets:',
    '  - path: token_masks.jsonl',
    '    ds_type: json',
    '    type:',
    `sequence_len: ${s.maxTokens}`,
    '',
  ];
  if (s.lora) {
    // Axolotl's load_lora builds PEFT's LoraConfig from these (peft_layers_to_transform / peft_layers_pattern /
    // peft_use_rslora are passed through as layers_to_transform, layers_pattern, use_rslora)
    const l = s.lora;
    lines.push('# LoRA, as the exported run trained it (its adapter_config.json)', 'adapter: lora', `lora_r: ${l.r}`, `lora_alpha: ${l.lora_alpha}`, `lora_dropout: ${l.lora_dropout}`);
    lines.push('lora_target_modules:', ...l.target_modules.map((m) => `  - ${y(m)}`));
    if (l.layers_to_transform) lines.push(`peft_layers_to_transform: [${l.layers_to_transform.join(', ')}]`, `peft_layers_pattern: ${y(l.layers_pattern ?? null)}`);
    if (l.use_rslora) lines.push('peft_use_rslora: true');
    lines.push('');
  } else if (forms) {
    const r = forms.axolotl.report;
    lines.push(`# layer mask: ${r.exact ? 'exact' : `NOT exact (missing ${r.missing.length}, extra ${r.extra.length}; see README.md)`}`);
    lines.push('# every parameter is frozen except those a pattern matches ("." is a literal dot in Axolotl patterns)');
    lines.push('unfrozen_parameters:');
    for (const p of forms.axolotl.config.unfrozen_parameters) lines.push(`  - ${y(p)}`);
    lines.push('');
  }
  lines.push(
    `learning_rate: ${s.lr}`,
    `num_epochs: ${s.epochs}`,
    `micro_batch_size: ${s.batchSize}`,
    'gradient_accumulation_steps: 1',
    'optimizer: adamw_torch',
    'lr_scheduler: cosine',
    'output_dir: ./axolotl-out',
    '',
  );
  return lines.join('\n');
}

export function llamaFactoryYaml(s: TrainerSettings, forms: LayerMaskForms | null): string {
  const lines = [
    '# LLaMA-Factory config written by Winnow. Run from this folder: llamafactory-cli train llamafactory.yaml',
    `model_name_or_path: ${y(s.modelPath)}`,
    'stage: sft',
    'do_train: true',
  ];
  if (s.lora) {
    // LLaMA-Factory has no layers_to_transform: lora_target lists the exact module keys when only some blocks carry
    // adapters (PEFT matches an entry equal to a module's key), else the module names
    const l = s.lora;
    const target = l.layers_to_transform ? l.modules : l.target_modules;
    lines.push('# LoRA, as the exported run trained it (its adapter_config.json)', 'finetuning_type: lora', `lora_rank: ${l.r}`, `lora_alpha: ${l.lora_alpha}`, `lora_dropout: ${l.lora_dropout}`);
    lines.push(`lora_target: ${y(target.join(','))}`);
    if (l.use_rslora) lines.push('use_rslora: true');
  } else if (forms) {
    const c = forms.llamafactory.config;
    const r = forms.llamafactory.report;
    lines.push(`# layer mask: ${r.exact ? 'exact' : `NOT exact (missing ${r.missing.length}, extra ${r.extra.length}; see README.md)`}`);
    lines.push(`finetuning_type: ${c.finetuning_type}`, `freeze_trainable_layers: ${c.freeze_trainable_layers}`, `freeze_trainable_modules: ${y(c.freeze_trainable_modules)}`);
    if (c.freeze_extra_modules) lines.push(`freeze_extra_modules: ${y(c.freeze_extra_modules)}`);
  } else lines.push('finetuning_type: full');
  lines.push(
    '',
    '# LLaMA-Factory tokenizes the messages itself with its chat template and masks the prompt (train_on_prompt: false).',
    '# That equals Winnow\'s token mask only for the "assistant" policy with the same template; see README.md.',
    'dataset: winnow_subset',
    'dataset_dir: .',
    '# set to your model\'s chat template (e.g. llama3, qwen, mistral)',
    'template: default',
    `cutoff_len: ${s.maxTokens}`,
    'train_on_prompt: false',
    '',
    `learning_rate: ${s.lr}`,
    `num_train_epochs: ${s.epochs}`,
    `per_device_train_batch_size: ${s.batchSize}`,
    'lr_scheduler_type: cosine',
    'output_dir: llamafactory-out',
    '',
  );
  return lines.join('\n');
}

/** LLaMA-Factory's dataset registry for the bundle's normalized messages file. */
export function llamaFactoryDatasetInfo(messagesFile: string, allChat: boolean): Record<string, unknown> {
  if (!allChat) return { winnow_subset: { file_name: messagesFile, columns: { prompt: 'text' } } };
  return {
    winnow_subset: {
      file_name: messagesFile,
      formatting: 'sharegpt',
      columns: { messages: 'messages' },
      tags: { role_tag: 'role', content_tag: 'content', user_tag: 'user', assistant_tag: 'assistant', system_tag: 'system' },
    },
  };
}
