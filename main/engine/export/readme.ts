/** The bundle's README.md: what each file is, what made it, and where a trainer's form of a mask is not exact. */
import type { FormReport, LayerMaskForms } from './layer-formats';

export interface ReadmeInput {
  files: Array<{ file: string; what: string }>;
  subset: { name: string; rule: unknown; size: number } | null;
  model: { name: string; path: string } | null;
  tokenizerId: string | null;
  tokenPolicy: string | null;
  forms: LayerMaskForms | null;
  layerMaskSize: number | null;
  notes: string[];
  /** trainer configs are in the bundle: give the command of each */
  trainers?: boolean;
}

/** The exact command that runs each trainer, from the bundle folder. */
export const TRAINER_COMMANDS: Array<{ tool: string; command: string; what: string }> = [
  { tool: 'transformers (one process)', command: 'python train_hf.py', what: 'one GPU or the CPU; needs torch and transformers (peft for LoRA)' },
  { tool: 'transformers + DDP', command: 'torchrun --nproc_per_node 2 train_hf.py', what: 'N processes on one machine (set N); each micro-batch is split between them, so the steps are the same as with one' },
  { tool: 'accelerate + FSDP', command: 'accelerate launch --config_file accelerate_fsdp.yaml train_hf.py', what: 'shards the model over the GPUs (`--num_processes N` to set their number)' },
  { tool: 'accelerate + DeepSpeed', command: 'accelerate launch --config_file accelerate_deepspeed.yaml train_hf.py', what: 'ZeRO-2 (ds_zero2.json); needs deepspeed' },
  { tool: 'TRL', command: 'python train_trl.py', what: 'TRL SFTTrainer; needs trl and datasets' },
  { tool: 'Axolotl', command: 'axolotl train axolotl.yaml', what: 'pre-tokenized rows and unfrozen_parameters' },
  { tool: 'LLaMA-Factory', command: 'llamafactory-cli train llamafactory.yaml', what: 're-tokenizes subset.messages.jsonl (see Token mask)' },
];

function reportLines(tool: string, r: FormReport): string[] {
  if (r.exact) return [`- **${tool}**: exact — selects exactly the mask's tensors.${r.notes.length ? ` (${r.notes.join('; ')})` : ''}`];
  const list = (xs: string[]) => xs.slice(0, 12).map((x) => `\`${x}\``).join(', ') + (xs.length > 12 ? `, … (${xs.length} in all)` : '');
  const out = [`- **${tool}**: NOT exact. ${r.notes.join('; ')}.`];
  if (r.missing.length) out.push(`  - left frozen although in the mask (${r.missing.length}): ${list(r.missing)}`);
  if (r.extra.length) out.push(`  - trained although not in the mask (${r.extra.length}): ${list(r.extra)}`);
  return out;
}

export function bundleReadme(i: ReadmeInput): string {
  const lines = ['# Winnow export bundle', ''];
  if (i.subset) lines.push(`Subset **${i.subset.name}** (${i.subset.size} examples), rule \`${JSON.stringify(i.subset.rule)}\`.`, '');
  if (i.model) lines.push(`Model: ${i.model.name} (\`${i.model.path}\`)${i.tokenizerId ? `, tokenizer ${i.tokenizerId}` : ''}.`, '');
  lines.push('`manifest.json` records the Winnow version, model/tokenizer/dataset hashes, the rules and settings behind each file and the sha256 of every file; Winnow refuses to re-open a bundle whose files were edited.', '');
  lines.push('## Files', '', '| file | what |', '|---|---|');
  for (const f of i.files) lines.push(`| \`${f.file}\` | ${f.what} |`);
  lines.push('');
  if (i.tokenPolicy) {
    // only the files this bundle has are named
    const has = (f: string) => i.files.some((x) => x.file === f);
    lines.push(
      '## Token mask',
      '',
      `Policy: \`${i.tokenPolicy}\`. \`token_masks.jsonl\` is exact for this tokenizer: \`labels\` is the token id where the loss counts and −100 where it does not (the Hugging Face convention; position 0 never counts).`,
      '`token_masks.spans.jsonl` is the same choice without a tokenizer: per message, `[start, end)` ranges of its `content` (Unicode code points, i.e. Python string indices) that are trained on, and `turn_end_trained` when the template text closing that turn (e.g. the eos) is trained too. To re-apply it with another tokenizer, train on a token when its characters overlap a trained range.',
    );
    if (has('train_trl.py')) lines.push('`train_hf.py`, TRL (`train_trl.py`) and Axolotl (`axolotl.yaml`) use the pre-tokenized rows, so the mask applies exactly.');
    if (has('llamafactory.yaml')) lines.push('LLaMA-Factory re-tokenizes `subset.messages.jsonl` with its own template and masks the prompt itself: that matches only the `response` policy with the same chat template, and does not carry hand-edited masks.');
    lines.push('');
  }
  if (i.forms) {
    lines.push('## Layer mask', '', `\`layer_mask.json\` lists the ${i.layerMaskSize} trainable tensors by exact name; \`layer_mask.forms.json\` has each tool's form and its check. Each form was checked by applying that tool's selection rules to the model's parameter names:`, '');
    lines.push(...reportLines('PEFT LoRA', i.forms.peft.report), ...reportLines('Axolotl unfrozen_parameters', i.forms.axolotl.report), ...reportLines('LLaMA-Factory freeze tuning', i.forms.llamafactory.report), '');
  }
  if (i.trainers) {
    // a file is named only when this bundle has it
    const paramMask = i.files.some((x) => x.file === 'param_mask.safetensors') ? '; `param_mask.safetensors`, training only its entries' : '';
    lines.push(
      '## Training',
      '',
      'Run each from this folder (`--model DIR` points train_hf.py and train_trl.py at the model if it lives elsewhere on this machine):',
      '',
      '| trainer | command | notes |',
      '|---|---|---|',
      ...TRAINER_COMMANDS.map((t) => `| ${t.tool} | \`${t.command}\` | ${t.what} |`),
      '',
      `\`train_hf.py\` reads \`winnow_train.json\`: the token mask rows, the layer mask (or a \`lora\` block, applied with PEFT${paramMask}), the token policy and the hyper-parameters of the Winnow run (steps, batch, accumulation, lr, schedule and warm-up, optimizer and weight decay, clipping, seed, DFT weighting, held-out fraction). It draws the same micro-batches in the same order as Winnow and normalizes each micro-batch's loss by its trained tokens over all processes, so any number of processes takes the steps Winnow took (checked for \`python\` and \`torchrun\` against Winnow's own training; \`accelerate\` uses the same loss, order and step).`,
      'It saves, in `hf-out/` (`--output-dir`), the form Winnow opens: with a layer or parameter mask only the changed tensors plus `winnow_delta.json` naming the base model and its content hash (`--save changed`, the default); `--save full` for a whole Hugging Face folder; with LoRA a PEFT adapter (`--save adapter`). Add the folder in Winnow\'s Models screen.',
      '',
    );
  }
  if (i.notes.length) lines.push('## Notes', '', ...i.notes.map((n) => `- ${n}`), '');
  return lines.join('\n');
}
