/**
 * A layer mask (exact tensor names) in the words of other tools, each checked by applying that tool's own selection
 * rules to the checkpoint's parameter names. Where a tool cannot say exactly the mask, the form is the closest it can
 * say and the report lists the tensors it would train in excess (`extra`) or leave frozen (`missing`).
 *
 * Rules as the tools apply them:
 * - PEFT LoRA (peft tuners_utils.check_target_module_exists): a module key is targeted if it is in `target_modules`,
 *   or ends with "." + an entry, and then (list form only) its layer index — `.*\.{layers_pattern}\.(\d+)\.` — is in
 *   `layers_to_transform`. LoRA adapts the targeted module's `weight` (a low-rank update); `bias: lora_only` also
 *   trains those modules' biases. `modules_to_save` (matched by key suffix) trains whole modules: used for norms,
 *   which LoRA cannot target.
 * - Axolotl (utils/freeze.py freeze_layers_except): every parameter is frozen, then unfrozen if one pattern `re.match`es
 *   its name, where every "." in a pattern is a literal dot. Patterns here are anchored ^...$, so match = fullmatch.
 * - LLaMA-Factory (model/adapter.py _setup_freeze_tuning): blocks are the last N (`freeze_trainable_layers: N`) or the
 *   first N (`-N`); per block, whole sub-modules by name (`self_attn`, `mlp`, `input_layernorm`, ... or `all`); a
 *   parameter trains if any of ".{i}.{module}" or an extra module name is a SUBSTRING of its name — so extra module
 *   `norm` also unfreezes every block's `*_layernorm`.
 */
import type { TensorInfo } from '../models/types';

export interface FormReport {
  exact: boolean;
  /** in the mask, left frozen by this form */
  missing: string[];
  /** not in the mask, trained by this form */
  extra: string[];
  notes: string[];
}

export interface PeftForm {
  target_modules: string[];
  layers_to_transform: number[] | null;
  layers_pattern: string | null;
  bias: 'none' | 'lora_only';
  modules_to_save: string[] | null;
}

export interface AxolotlForm {
  unfrozen_parameters: string[];
}

export interface LlamaFactoryForm {
  finetuning_type: 'freeze';
  freeze_trainable_layers: number;
  freeze_trainable_modules: string;
  freeze_extra_modules: string | null;
}

export interface LayerMaskForms {
  peft: { config: PeftForm; report: FormReport };
  axolotl: { config: AxolotlForm; report: FormReport };
  llamafactory: { config: LlamaFactoryForm; report: FormReport };
}

const BLOCK = /^(.*)\.(layers|h)\.(\d+)\.(.+)$/;

function parent(name: string): string {
  const i = name.lastIndexOf('.');
  return i < 0 ? '' : name.slice(0, i);
}
function leaf(name: string): string {
  return name.slice(name.lastIndexOf('.') + 1);
}

function report(mask: Set<string>, selected: Set<string>, notes: string[]): FormReport {
  const missing = [...mask].filter((n) => !selected.has(n)).sort();
  const extra = [...selected].filter((n) => !mask.has(n)).sort();
  return { exact: missing.length === 0 && extra.length === 0, missing, extra, notes };
}

// ---------- PEFT ----------

/** Tensors PEFT would change under `cfg` (LoRA-adapted weights, their biases with lora_only, modules_to_save). */
export function peftSelects(tensors: TensorInfo[], cfg: PeftForm): Set<string> {
  const params = new Map(tensors.map((t) => [t.name, t]));
  const keys = new Set<string>();
  for (const t of tensors) for (let p = parent(t.name); p; p = parent(p)) keys.add(p);
  const toSave = cfg.modules_to_save ?? [];
  const out = new Set<string>();
  for (const key of keys) {
    if (toSave.some((m) => new RegExp(`^(?:(^|.*\\.)${m}($|\\..*))$`).test(key))) continue;
    let found = cfg.target_modules.includes(key);
    if (!found) {
      found = cfg.target_modules.some((t) => key.endsWith(`.${t}`));
      if (found && cfg.layers_to_transform && cfg.layers_to_transform.length) {
        const re = cfg.layers_pattern ? new RegExp(`^.*\\.${cfg.layers_pattern}\\.(\\d+)\\.`) : /^.*\.[^.]*\.(\d+)\./;
        const m = re.exec(key);
        found = !!m && cfg.layers_to_transform.includes(Number(m[1]));
      }
    }
    if (!found) continue;
    const w = params.get(`${key}.weight`);
    if (!w || w.shape.length !== 2) throw new Error(`PEFT: target module ${key} is not a Linear/Embedding/Conv1D layer`);
    out.add(w.name);
    if (cfg.bias === 'lora_only' && params.has(`${key}.bias`)) out.add(`${key}.bias`);
  }
  for (const key of keys) {
    if (!toSave.some((m) => key.endsWith(m))) continue;
    for (const t of tensors) if (t.name.startsWith(`${key}.`)) out.add(t.name);
  }
  return out;
}

function peftForm(tensors: TensorInfo[], mask: Set<string>): { config: PeftForm; report: FormReport } {
  const notes: string[] = [];
  const byModule = new Map<string, TensorInfo[]>();
  for (const t of tensors) {
    const m = parent(t.name);
    if (!byModule.has(m)) byModule.set(m, []);
    byModule.get(m)!.push(t);
  }
  const lora: string[] = [];
  const save: string[] = [];
  let biasIn = 0;
  let biasOut = 0;
  for (const [m, ts] of byModule) {
    if (!ts.some((t) => mask.has(t.name))) continue;
    const w = ts.find((t) => leaf(t.name) === 'weight');
    if (w && w.shape.length === 2) {
      if (!mask.has(w.name)) {
        notes.push(`${m}: only its bias is in the mask; LoRA cannot train a bias without adapting the weight`);
        continue;
      }
      lora.push(m);
      const b = ts.find((t) => leaf(t.name) === 'bias');
      if (b && mask.has(b.name)) biasIn++;
      else if (b) biasOut++;
    } else {
      save.push(m);
      if (!ts.every((t) => mask.has(t.name))) notes.push(`${m}: modules_to_save trains the whole module, the mask only part of it`);
    }
  }
  if (biasIn && biasOut) notes.push('the mask trains the biases of some LoRA-targeted modules but not others; PEFT bias modes are all-or-none');
  if (save.length) notes.push(`LoRA cannot target normalization layers; ${save.length} module(s) go to modules_to_save (trained in full)`);
  if (lora.length) notes.push('LoRA changes the targeted weights by a low-rank update, not freely: the same tensors change, with fewer degrees of freedom');

  // compact form when the LoRA modules are (blocks) × (module suffixes)
  let config: PeftForm = {
    target_modules: lora.sort(), layers_to_transform: null, layers_pattern: null,
    bias: biasIn > 0 && biasOut === 0 ? 'lora_only' : 'none', modules_to_save: save.length ? save.sort() : null,
  };
  const parsed = lora.map((m) => BLOCK.exec(m));
  if (lora.length && parsed.every((p) => p !== null)) {
    const heads = new Set(parsed.map((p) => `${p![1]}.${p![2]}`));
    const blocks = [...new Set(parsed.map((p) => Number(p![3])))].sort((a, b) => a - b);
    const suffixes = [...new Set(parsed.map((p) => p![4]))].sort();
    const have = new Set(lora);
    const [head] = [...heads];
    if (heads.size === 1 && blocks.every((b) => suffixes.every((s) => have.has(`${head}.${b}.${s}`)))) {
      const compact: PeftForm = { ...config, target_modules: suffixes, layers_to_transform: blocks, layers_pattern: parsed[0]![2] };
      // the suffixes must not reach modules outside the mask (e.g. another tower with the same block layout)
      if (sameSet(peftSelects(tensors, compact), peftSelects(tensors, config))) config = compact;
    }
  }
  return { config, report: report(mask, peftSelects(tensors, config), notes) };
}

function sameSet(a: Set<string>, b: Set<string>): boolean {
  return a.size === b.size && [...a].every((x) => b.has(x));
}

// ---------- Axolotl ----------

/** Tensors Axolotl's unfrozen_parameters leave trainable. */
export function axolotlSelects(tensors: TensorInfo[], patterns: string[]): Set<string> {
  const res = patterns.map((p) => {
    const range = /^(.+)\[([0-9]*)(?::([0-9]*))?\]$/.exec(p);
    return new RegExp(`^(?:${(range ? range[1] : p).replace(/\./g, '\\.')})`);
  });
  return new Set(tensors.filter((t) => res.some((r) => r.test(t.name))).map((t) => t.name));
}

const reEscapeNoDot = (s: string) => s.replace(/[^A-Za-z0-9_.]/g, (c) => `\\${c}`);

function axolotlForm(tensors: TensorInfo[], mask: Set<string>): { config: AxolotlForm; report: FormReport } {
  const blocksOf = new Map<string, Set<number>>(); // "head|rest" → blocks
  const plain: string[] = [];
  for (const t of tensors) {
    if (!mask.has(t.name)) continue;
    const m = BLOCK.exec(t.name);
    if (!m) {
      plain.push(t.name);
      continue;
    }
    const k = `${m[1]}.${m[2]}|${m[4]}`;
    if (!blocksOf.has(k)) blocksOf.set(k, new Set());
    blocksOf.get(k)!.add(Number(m[3]));
  }
  // one pattern per (head, block set): ^head.(b1|b2).(rest1|rest2)$
  const groups = new Map<string, string[]>();
  for (const [k, bs] of blocksOf) {
    const [head, rest] = k.split('|');
    const key = `${head}|${[...bs].sort((a, b) => a - b).join('|')}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(rest);
  }
  const patterns: string[] = [];
  for (const [key, rests] of groups) {
    const [head, ...blocks] = key.split('|');
    patterns.push(`^${reEscapeNoDot(head)}.(${blocks.join('|')}).(${rests.sort().map(reEscapeNoDot).join('|')})$`);
  }
  for (const n of plain) patterns.push(`^${reEscapeNoDot(n)}$`);
  patterns.sort();
  return { config: { unfrozen_parameters: patterns }, report: report(mask, axolotlSelects(tensors, patterns), []) };
}

// ---------- LLaMA-Factory ----------

/** Tensors LLaMA-Factory's freeze tuning leaves trainable; throws as LLaMA-Factory does on unknown module names. */
export function llamaFactorySelects(tensors: TensorInfo[], numLayers: number, cfg: LlamaFactoryForm): Set<string> {
  const n = cfg.freeze_trainable_layers;
  const ids = n > 0 ? range(Math.max(0, numLayers - n), numLayers) : range(0, Math.min(-n, numLayers));
  const hidden = new Set<string>();
  const nonHidden = new Set<string>();
  for (const { name } of tensors) {
    if (name.includes('.0.')) hidden.add(name.split('.0.').at(-1)!.split('.')[0]);
    else if (name.includes('.1.')) hidden.add(name.split('.1.').at(-1)!.split('.')[0]);
    if (!/\.\d+\./.test(name)) nonHidden.add(name.split('.').at(-2)!);
  }
  const trainable: string[] = [];
  for (const m of splitArg(cfg.freeze_trainable_modules)) {
    if (m !== 'all' && !hidden.has(m)) throw new Error(`LLaMA-Factory: module ${m} is not found`);
    for (const i of ids) trainable.push(`.${i}.${m === 'all' ? '' : m}`);
  }
  for (const m of cfg.freeze_extra_modules ? splitArg(cfg.freeze_extra_modules) : []) {
    if (!nonHidden.has(m)) throw new Error(`LLaMA-Factory: extra module ${m} is not found`);
    trainable.push(m);
  }
  return new Set(tensors.filter((t) => trainable.some((p) => t.name.includes(p))).map((t) => t.name));
}

function splitArg(s: string): string[] {
  return s.split(',').map((x) => x.trim());
}
function range(a: number, b: number): number[] {
  const out: number[] = [];
  for (let i = a; i < b; i++) out.push(i);
  return out;
}

function llamaFactoryForm(tensors: TensorInfo[], mask: Set<string>, numLayers: number): { config: LlamaFactoryForm; report: FormReport } {
  const notes: string[] = [];
  const blocks = new Set<number>();
  const modules = new Set<string>();
  const hidden = new Set<string>();
  const extra = new Set<string>();
  for (const t of tensors) {
    const m = BLOCK.exec(t.name);
    if (m) hidden.add(m[4].split('.')[0]);
    if (!mask.has(t.name)) continue;
    if (m) {
      blocks.add(Number(m[3]));
      modules.add(m[4].split('.')[0]);
    } else extra.add(t.name.split('.').at(-2)!);
  }
  const sorted = [...blocks].sort((a, b) => a - b);
  let layers = 0;
  if (sorted.length) {
    const last = numLayers - sorted[0];
    const first = sorted.at(-1)! + 1;
    const isLast = sorted.length === last;
    const isFirst = sorted.length === first;
    layers = isLast ? last : isFirst ? -first : last <= first ? last : -first;
    if (!isLast && !isFirst) notes.push(`blocks ${sorted.join(',')} are neither the first N nor the last N; LLaMA-Factory trains whole ranges`);
  }
  const allModules = [...hidden].every((h) => modules.has(h));
  const config: LlamaFactoryForm = {
    finetuning_type: 'freeze',
    freeze_trainable_layers: layers,
    freeze_trainable_modules: modules.size === 0 || allModules ? 'all' : [...modules].sort().join(','),
    freeze_extra_modules: extra.size ? [...extra].sort().join(',') : null,
  };
  const selected = llamaFactorySelects(tensors, numLayers, config);
  const r = report(mask, selected, notes);
  if (!r.exact && r.extra.some((n) => BLOCK.test(n)) && extra.size) notes.push('extra modules match by substring (e.g. "norm" also unfreezes every block\'s layernorms)');
  if (!r.exact) notes.push('LLaMA-Factory selects whole sub-modules (self_attn, mlp, ...) of a contiguous first/last range of blocks');
  return { config, report: r };
}

/** Every form of one mask. `tensors` are all the checkpoint's parameters (as named_parameters() lists them). */
export function layerMaskForms(tensors: TensorInfo[], mask: string[], numLayers: number): LayerMaskForms {
  const set = new Set(mask);
  return { peft: peftForm(tensors, set), axolotl: axolotlForm(tensors, set), llamafactory: llamaFactoryForm(tensors, set, numLayers) };
}
