/**
 * LoRA adapters as PEFT defines them (peft/tuners/lora/layer.py), on the linear layers of the chosen blocks.
 *
 * - A targeted module with weight W gets A [r, in] and B [out, r]; its output becomes W x + b + scale·B(A(dropout(x))),
 *   scale = alpha / r (rsLoRA: alpha / √r). A is Kaiming-uniform with a = √5 (bound 1/√in, as PEFT's
 *   reset_lora_parameters calls torch.nn.init.kaiming_uniform_), B is zero, so a new adapter changes nothing.
 * - GPT-2's Conv1D stores W as [in, out] (PEFT's fan_in_fan_out): A and B keep the shapes above, the merged update
 *   is (B·A)ᵀ.
 * - Targets follow PEFT's matching: a module key is targeted when it equals an entry or ends with "." + the entry,
 *   so `c_proj` takes GPT-2's attention and MLP projections and `attn.c_proj` only the attention one.
 * - On disk: adapter_config.json and adapter_model.safetensors with PEFT's names
 *   (`base_model.model.<module key>.lora_A.weight`), which PeftModel.from_pretrained loads as they are.
 *
 * The adapter runs as a hook at the blocks' linear layers (BlockContext.lora, read by llama.ts / gpt2.ts), so the base
 * weights stay plain tensors outside the tape and only A and B are differentiated.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { WinnowError } from '../util/errors';
import { mulberry32 } from '../util/random';
import { readSafetensors, writeSafetensors } from './safetensors';
import { dropWeightCopies } from '../compute/weight-matmul';
import type { ModelConfig, TensorInfo } from './types';
import { LORA_PRESETS } from '../../../preload/contract';

export const ADAPTER_CONFIG = 'adapter_config.json';
export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';

/** The run's LoRA settings (TrainConfig.lora). */
export interface LoraSettings {
  r: number;
  alpha: number;
  dropout: number;
  /** module names (PEFT target_modules entries: `q_proj`, `attn.c_proj`, …) or presets: attention, mlp, all-linear */
  targets: string[];
  /** rsLoRA: scale alpha/√r instead of alpha/r */
  rslora: boolean;
}

export { LORA_PRESETS };

/** PEFT's target_modules when none are given (TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING) */
export function defaultLoraTargets(arch: ModelConfig['arch']): string[] {
  return arch === 'gpt2' ? ['c_attn'] : ['q_proj', 'v_proj'];
}

/** A block's linear modules (relative to the block), attention first, as transformers names them. */
const MODULES: Record<ModelConfig['arch'], { attention: string[]; mlp: string[] }> = {
  llama: { attention: ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.o_proj'], mlp: ['mlp.gate_proj', 'mlp.up_proj', 'mlp.down_proj'] },
  gpt2: { attention: ['attn.c_attn', 'attn.c_proj'], mlp: ['mlp.c_fc', 'mlp.c_proj'] },
};

/** Preset → target_modules entries as PEFT would write them (all-linear: every linear leaf name but lm_head). */
function presetTargets(arch: ModelConfig['arch'], preset: string): string[] | null {
  const m = MODULES[arch];
  // GPT-2's `c_proj` names both projections: the attention/mlp presets qualify it by its parent
  const name = (rel: string) => (arch === 'gpt2' && rel.endsWith('c_proj') ? rel : rel.slice(rel.lastIndexOf('.') + 1));
  if (preset === 'attention') return m.attention.map(name);
  if (preset === 'mlp') return m.mlp.map(name);
  if (preset === 'all-linear') return [...new Set([...m.attention, ...m.mlp].map((r) => r.slice(r.lastIndexOf('.') + 1)))];
  return null;
}

/** Presets expanded; the written target_modules. */
export function expandTargets(arch: ModelConfig['arch'], targets: string[]): string[] {
  const out: string[] = [];
  for (const t of targets) for (const x of presetTargets(arch, t) ?? [t]) if (!out.includes(x)) out.push(x);
  return out;
}

/** "model.layers." or "transformer.h." / "h." — the key prefix of block l's modules in this weights record */
function blockPrefix(cfg: ModelConfig, tensors: Array<{ name: string }>, l: number): string {
  if (cfg.arch === 'llama') return `model.layers.${l}`;
  return tensors.some((t) => t.name.startsWith('transformer.')) ? `transformer.h.${l}` : `h.${l}`;
}

export interface LoraModule {
  /** module key in the weights record, e.g. model.layers.3.self_attn.q_proj (its weight is `${key}.weight`) */
  key: string;
  block: number;
  in: number;
  out: number;
}

/**
 * The modules LoRA adapts: in each of `blocks`, every linear module a target matches (PEFT's rule). A target that
 * matches no module is refused, naming it, as PEFT refuses one.
 */
export function loraModules(cfg: ModelConfig, tensors: TensorInfo[], targets: string[], blocks: number[]): LoraModule[] {
  if (!targets.length) throw new WinnowError('bad_input', `lora targets: give module names (${Object.values(MODULES[cfg.arch]).flat().map((r) => r.slice(r.lastIndexOf('.') + 1)).join(', ')}) or a preset (${LORA_PRESETS.join(', ')})`);
  const entries = expandTargets(cfg.arch, targets);
  const shapes = new Map(tensors.map((t) => [t.name, t.shape]));
  const rels = [...MODULES[cfg.arch].attention, ...MODULES[cfg.arch].mlp];
  const out: LoraModule[] = [];
  const used = new Set<string>();
  for (const l of [...blocks].sort((a, b) => a - b)) {
    const p = blockPrefix(cfg, tensors, l);
    for (const rel of rels) {
      const key = `${p}.${rel}`;
      const hit = entries.find((e) => key === e || key.endsWith(`.${e}`));
      if (!hit) continue;
      used.add(hit);
      const shape = shapes.get(`${key}.weight`);
      if (!shape || shape.length !== 2) throw new WinnowError('not_found', `lora: the model has no 2-D weight ${key}.weight`, { tensor: `${key}.weight` });
      const [a, b] = shape as [number, number];
      out.push(cfg.arch === 'gpt2' ? { key, block: l, in: a, out: b } : { key, block: l, in: b, out: a });
    }
  }
  const unused = entries.filter((e) => !used.has(e));
  if (unused.length) {
    const known = [...new Set(rels.map((r) => r.slice(r.lastIndexOf('.') + 1)))];
    throw new WinnowError('bad_input', `lora targets: ${unused.join(', ')} match no linear module of ${cfg.modelType} in the chosen blocks (modules: ${known.join(', ')}; presets: ${LORA_PRESETS.join(', ')})`);
  }
  return out;
}

/** Trainable parameters of these modules at rank r: r·(in + out) each. */
export function loraParamCount(modules: LoraModule[], r: number): number {
  return modules.reduce((s, m) => s + r * (m.in + m.out), 0);
}

export function loraScale(s: { r: number; alpha: number; rslora: boolean }): number {
  return s.rslora ? s.alpha / Math.sqrt(s.r) : s.alpha / s.r;
}

/** The hook the blocks call at each linear layer. */
export interface LoraHook {
  scale: number;
  /** module key → A [r, in], B [out, r] */
  modules: Map<string, { A: tf.Tensor2D; B: tf.Tensor2D }>;
  /** dropout probability on the adapter's input; applied only when `dropoutSeed` is set (training) */
  dropout: number;
  /** seed of this forward's dropout masks (each module application draws its own from it); null: no dropout */
  dropoutSeed: number | null;
}

/** Copy of a hook that draws its dropout masks from `seed` (a training micro-batch), or none (eval). */
export function withDropoutSeed(h: LoraHook, seed: number | null): LoraHook {
  return { ...h, dropoutSeed: h.dropout > 0 ? seed : null };
}

/** y + scale·B(A(dropout(x))) for module `key` when it carries an adapter; y otherwise. x [B,T,in], y [B,T,out]. */
export function applyLora(hook: LoraHook | undefined, key: string, x: tf.Tensor3D, y: tf.Tensor3D): tf.Tensor3D {
  const ad = hook?.modules.get(key);
  if (!hook || !ad) return y;
  const [B, T, In] = x.shape;
  let x2 = tf.reshape(x, [B * T, In]) as tf.Tensor2D;
  if (hook.dropoutSeed !== null && hook.dropout > 0) {
    // one mask per module application: the seed advances with each call (the order of calls is fixed by the forward)
    x2 = tf.dropout(x2, hook.dropout, undefined, hook.dropoutSeed) as tf.Tensor2D;
    hook.dropoutSeed = (Math.imul(hook.dropoutSeed, 0x9e3779b1) + 0x7f4a7c15) >>> 0;
  }
  const low = tf.matMul(x2, ad.A, false, true);
  const up = tf.matMul(low, ad.B, false, true);
  return tf.add(y, tf.reshape(tf.mul(up, hook.scale), [B, T, ad.B.shape[0]])) as tf.Tensor3D;
}

/** PEFT's initial A and B: A ~ U(−1/√in, 1/√in) drawn from `seed` module by module in order, B = 0. */
export function initLora(modules: LoraModule[], r: number, seed: number): Map<string, { A: Float32Array; B: Float32Array }> {
  const rand = mulberry32(seed);
  const out = new Map<string, { A: Float32Array; B: Float32Array }>();
  for (const m of modules) {
    // kaiming_uniform_(a=√5): gain √(2/(1+5)), bound gain·√(3/fan_in) = 1/√fan_in, fan_in = in
    const bound = 1 / Math.sqrt(m.in);
    const A = new Float32Array(r * m.in);
    for (let i = 0; i < A.length; i++) A[i] = (2 * rand() - 1) * bound;
    out.set(m.key, { A, B: new Float32Array(m.out * r) });
  }
  return out;
}

/** The module key as PEFT names it (GPT-2 under `transformer.`, as GPT2LMHeadModel holds it). */
function peftKey(cfg: ModelConfig, key: string): string {
  return cfg.arch === 'gpt2' && !key.startsWith('transformer.') ? `transformer.${key}` : key;
}

export function peftTensorName(cfg: ModelConfig, key: string, which: 'A' | 'B'): string {
  return `base_model.model.${peftKey(cfg, key)}.lora_${which}.weight`;
}

export interface AdapterConfigJson {
  peft_type: 'LORA';
  task_type: 'CAUSAL_LM';
  base_model_name_or_path: string | null;
  r: number;
  lora_alpha: number;
  lora_dropout: number;
  target_modules: string[];
  layers_to_transform: number[] | null;
  layers_pattern: string | null;
  fan_in_fan_out: boolean;
  bias: 'none';
  use_rslora: boolean;
  use_dora: boolean;
  modules_to_save: null;
  init_lora_weights: boolean;
  inference_mode: boolean;
  [extra: string]: unknown;
}

/** adapter_config.json as PEFT writes it for these settings (layers_to_transform only when some blocks are left out). */
export function adapterConfig(cfg: ModelConfig, s: LoraSettings, blocks: number[], base: string | null): AdapterConfigJson {
  const all = blocks.length === cfg.numLayers;
  return {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    base_model_name_or_path: base,
    r: s.r,
    lora_alpha: s.alpha,
    lora_dropout: s.dropout,
    target_modules: expandTargets(cfg.arch, s.targets),
    layers_to_transform: all ? null : [...blocks].sort((a, b) => a - b),
    layers_pattern: all ? null : cfg.arch === 'gpt2' ? 'h' : 'layers',
    fan_in_fan_out: cfg.arch === 'gpt2',
    bias: 'none',
    use_rslora: s.rslora,
    use_dora: false,
    modules_to_save: null,
    init_lora_weights: true,
    inference_mode: true,
  };
}

/** Write an adapter folder (adapter_config.json + adapter_model.safetensors, F32) from the hook's A and B. */
export async function writeAdapter(dir: string, cfg: ModelConfig, hook: LoraHook, config: AdapterConfigJson): Promise<string[]> {
  const tensors = [];
  for (const [key, { A, B }] of hook.modules) {
    tensors.push({ name: peftTensorName(cfg, key, 'A'), shape: A.shape, data: (await A.data()) as Float32Array });
    tensors.push({ name: peftTensorName(cfg, key, 'B'), shape: B.shape, data: (await B.data()) as Float32Array });
  }
  fs.mkdirSync(dir, { recursive: true });
  writeSafetensors(path.join(dir, ADAPTER_WEIGHTS), tensors, 'F32', { format: 'pt' });
  fs.writeFileSync(path.join(dir, ADAPTER_CONFIG), JSON.stringify(config, null, 2) + '\n');
  return [ADAPTER_CONFIG, ADAPTER_WEIGHTS];
}

/** Refuse a folder that is not a LoRA adapter (cheap: before a job loads the model). */
export function assertAdapterFolder(dir: string): void {
  const cfgFile = path.join(dir, ADAPTER_CONFIG);
  if (!fs.existsSync(cfgFile)) throw new WinnowError('not_found', `${cfgFile}: not found (an adapter folder holds ${ADAPTER_CONFIG} and ${ADAPTER_WEIGHTS})`, { file: cfgFile });
  if (!fs.existsSync(path.join(dir, ADAPTER_WEIGHTS))) throw new WinnowError('not_found', `${path.join(dir, ADAPTER_WEIGHTS)}: not found (Winnow reads adapters saved as safetensors)`, { file: path.join(dir, ADAPTER_WEIGHTS) });
}

/**
 * Read a PEFT LoRA adapter folder for a loaded model: every tensor name is mapped back to a module of the model and
 * checked against its shape; anything else (an unknown name, a missing half, a shape that does not fit, settings
 * Winnow does not apply such as DoRA or trained biases) is refused, naming the file and the tensor or field.
 */
export function readAdapter(dir: string, model: { config: ModelConfig; weights: Record<string, { shape: number[] }> }): { hook: LoraHook; config: AdapterConfigJson } {
  assertAdapterFolder(dir);
  const cfgFile = path.join(dir, ADAPTER_CONFIG);
  const wFile = path.join(dir, ADAPTER_WEIGHTS);
  let c: AdapterConfigJson;
  try {
    c = JSON.parse(fs.readFileSync(cfgFile, 'utf8')) as AdapterConfigJson;
  } catch (err) {
    throw new WinnowError('parse_error', `${cfgFile}: not valid JSON (${(err as Error).message})`, { file: cfgFile });
  }
  const field = (name: string, why: string) => new WinnowError('unsupported', `${cfgFile}: field "${name}" ${why}`, { file: cfgFile, field: name });
  if (c.peft_type !== 'LORA') throw field('peft_type', `is ${JSON.stringify(c.peft_type)}; only LORA adapters are supported`);
  if (!Number.isInteger(c.r) || c.r < 1) throw new WinnowError('parse_error', `${cfgFile}: field "r" must be a positive integer, got ${JSON.stringify(c.r)}`, { file: cfgFile, field: 'r' });
  if (typeof c.lora_alpha !== 'number') throw new WinnowError('parse_error', `${cfgFile}: field "lora_alpha" must be a number, got ${JSON.stringify(c.lora_alpha)}`, { file: cfgFile, field: 'lora_alpha' });
  if (c.use_dora) throw field('use_dora', 'is true; DoRA adapters are not supported');
  if (c.bias !== undefined && c.bias !== 'none') throw field('bias', `is ${JSON.stringify(c.bias)}; only "none" is supported`);
  for (const f of ['rank_pattern', 'alpha_pattern'] as const) {
    const v = c[f];
    if (v && typeof v === 'object' && Object.keys(v).length) throw field(f, 'is set; per-module ranks or alphas are not supported');
  }
  const toSave: unknown = c.modules_to_save;
  if (Array.isArray(toSave) && toSave.length) throw field('modules_to_save', 'is set; adapters that also train whole modules are not supported');
  const cfg = model.config;
  const lookup = new Map<string, string>();
  for (const name of Object.keys(model.weights)) {
    if (!name.endsWith('.weight')) continue;
    const key = name.slice(0, -'.weight'.length);
    lookup.set(peftKey(cfg, key), key);
  }
  const linearKeys = new Set<string>();
  for (let l = 0; l < cfg.numLayers; l++) {
    const p = blockPrefix(cfg, Object.keys(model.weights).map((name) => ({ name })), l);
    for (const rel of [...MODULES[cfg.arch].attention, ...MODULES[cfg.arch].mlp]) linearKeys.add(`${p}.${rel}`);
  }
  const halves = new Map<string, { A?: tf.Tensor2D; B?: tf.Tensor2D }>();
  const file = readSafetensors(wFile);
  const fail = (err: WinnowError): never => {
    for (const h of halves.values()) tf.dispose([h.A, h.B].filter((t): t is tf.Tensor2D => !!t));
    throw err;
  };
  for (const [name, t] of file.tensors) {
    const m = /^base_model\.model\.(.+)\.lora_([AB])\.weight$/.exec(name);
    const key = m ? lookup.get(m[1]!) : undefined;
    if (!m || !key || !linearKeys.has(key)) {
      fail(new WinnowError('parse_error', `${wFile}: tensor "${name}" is not a LoRA weight of a linear module of this ${cfg.modelType} model (expected base_model.model.<module>.lora_A.weight / lora_B.weight)`, { file: wFile, tensor: name }));
    }
    const ws = model.weights[`${key}.weight`]!.shape;
    const [In, Out] = cfg.arch === 'gpt2' ? [ws[0]!, ws[1]!] : [ws[1]!, ws[0]!];
    const which = m![2] as 'A' | 'B';
    const want = which === 'A' ? [c.r, In] : [Out, c.r];
    if (t.shape.length !== 2 || t.shape[0] !== want[0] || t.shape[1] !== want[1]) {
      fail(new WinnowError('parse_error', `${wFile}: tensor "${name}" has shape [${t.shape.join(', ')}], expected [${want.join(', ')}] (r = ${c.r}, ${key}.weight is [${ws.join(', ')}])`, { file: wFile, tensor: name }));
    }
    const h = halves.get(key!) ?? {};
    h[which] = tf.tensor2d(t.data, want as [number, number], 'float32');
    halves.set(key!, h);
  }
  const modules = new Map<string, { A: tf.Tensor2D; B: tf.Tensor2D }>();
  for (const [key, h] of halves) {
    if (!h.A || !h.B) fail(new WinnowError('parse_error', `${wFile}: ${peftTensorName(cfg, key, h.A ? 'B' : 'A')} is missing (each module needs lora_A and lora_B)`, { file: wFile, tensor: peftTensorName(cfg, key, h.A ? 'B' : 'A') }));
    modules.set(key, { A: h.A!, B: h.B! });
  }
  if (!modules.size) throw new WinnowError('parse_error', `${wFile}: holds no LoRA weights`, { file: wFile });
  const hook: LoraHook = { scale: loraScale({ r: c.r, alpha: c.lora_alpha, rslora: !!c.use_rslora }), modules, dropout: 0, dropoutSeed: null };
  return { hook, config: c };
}

/**
 * Merge the adapter into the weights, as PEFT's merge_and_unload: W ← W + scale·(B·A), transposed for Conv1D.
 * Replaces (and disposes) the merged tensors in `weights`.
 */
export function mergeLora(cfg: ModelConfig, weights: Record<string, tf.Tensor>, hook: LoraHook): void {
  for (const [key, { A, B }] of hook.modules) {
    const name = `${key}.weight`;
    const old = weights[name];
    if (!old) throw new WinnowError('not_found', `mergeLora: the model has no tensor ${name}`, { tensor: name });
    const merged = tf.tidy(() => {
      const delta = tf.mul(tf.matMul(B, A), hook.scale);
      return tf.add(old, cfg.arch === 'gpt2' ? tf.transpose(delta) : delta);
    });
    weights[name] = merged;
    if (!(old instanceof tf.Variable)) {
      dropWeightCopies([old]);
      old.dispose();
    }
  }
}

/**
 * Score base + adapter: read the folder for this model and merge it into the weights (PEFT's merge_and_unload gives
 * the same outputs as the unmerged adapter); the model's hash then covers the adapter's bytes too.
 */
export function applyAdapterFolder(model: { config: ModelConfig; weights: Record<string, tf.Tensor>; hash: string }, dir: string): AdapterConfigJson {
  const { hook, config } = readAdapter(dir, model);
  try {
    mergeLora(model.config, model.weights, hook);
  } finally {
    disposeLora(hook);
  }
  const h = createHash('sha256');
  h.update(model.hash);
  h.update(fs.readFileSync(path.join(dir, ADAPTER_CONFIG)));
  h.update(fs.readFileSync(path.join(dir, ADAPTER_WEIGHTS)));
  model.hash = h.digest('hex').slice(0, 16);
  return config;
}

export function disposeLora(hook: LoraHook): void {
  for (const { A, B } of hook.modules.values()) {
    A.dispose();
    B.dispose();
  }
  hook.modules.clear();
}
