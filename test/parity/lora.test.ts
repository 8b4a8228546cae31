/**
 * LoRA parity with PEFT's definitions (reference: test/parity/lora/ref_lora.py, plain PyTorch on ref_models.py; the
 * fixture test/fixtures/parity/lora.json is committed, so CI needs no torch). On the gpt2 and llama-gqa parity models,
 * with A and B both nonzero:
 *   - Winnow's target rule picks the modules the reference's PEFT rule picks;
 *   - the forward with the adapter as a hook at the linear layers gives the logits of W + scale·B·A (≤ 1e-4), and so
 *     does the adapter written to a PEFT folder, read back and merged;
 *   - one training step through training/run.ts's lossOnBatch, global-norm clipping and AdamW gives the reference's
 *     loss, pre-clip norm and the same A and B after the step.
 * On cpu and wasm, and webgpu where an adapter starts (skipped with the reason otherwise).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { initBackend, type BackendName } from '../../main/engine/compute/backend';
import { embed, finalNorm, lmHead, runBlocks } from '../../main/engine/models/forward';
import { disposeModel, loadModel, type LoadedModel } from '../../main/engine/models/model';
import { readSafetensors } from '../../main/engine/models/safetensors';
import {
  ADAPTER_CONFIG, ADAPTER_WEIGHTS, adapterConfig, applyAdapterFolder, loraModules, loraScale, peftTensorName, writeAdapter, type LoraHook,
} from '../../main/engine/models/lora';
import { lossOnBatch } from '../../main/engine/training/run';
import { clipToNorm, createOptimizer, globalNorm } from '../../main/engine/training/optimizer';
import { copyStoriesTokenizer, tmpDir } from '../unit/models/tiny';
import { webgpuSkipReason } from '../setup/webgpu';

interface ModuleFix { key: string; A: number[]; B: number[]; A_shape: [number, number]; B_shape: [number, number]; A_after: number[]; B_after: number[] }
interface CaseFix {
  model: string; r: number; alpha: number; rslora: boolean; targets: string[]; layers: number[] | null; scale: number;
  ids: number[][]; attention_mask: number[][]; modules: ModuleFix[]; logits: number[]; logits_shape: number[]; loss: number; grad_norm: number;
}
const FIXTURES = path.resolve(__dirname, '../fixtures/parity');
const FIX = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'lora.json'), 'utf8')) as { lr: number; weight_decay: number; max_norm: number; cases: CaseFix[] };
const GPU_SKIP = await webgpuSkipReason();
if (GPU_SKIP) console.warn(`LoRA parity on webgpu skipped: ${GPU_SKIP}`);
const BACKENDS: BackendName[] = GPU_SKIP ? ['cpu', 'wasm'] : ['cpu', 'wasm', 'webgpu'];

function modelDir(name: string): string {
  const dir = tmpDir(`lora-parity-${name}`);
  for (const f of ['config.json', 'model.safetensors']) fs.copyFileSync(path.join(FIXTURES, name, f), path.join(dir, f));
  copyStoriesTokenizer(dir);
  return dir;
}

/** max |Δ| of the logits over real positions */
function logitsDiff(got: Float32Array, want: ArrayLike<number>, mask: number[][], V: number): number {
  const T = mask[0]!.length;
  let worst = 0;
  mask.forEach((row, b) => row.forEach((real, t) => {
    if (!real) return;
    const o = (b * T + t) * V;
    for (let v = 0; v < V; v++) worst = Math.max(worst, Math.abs(got[o + v]! - want[o + v]!));
  }));
  return worst;
}

async function logitsOf(m: LoadedModel, c: CaseFix, hook?: LoraHook): Promise<Float32Array> {
  const B = c.ids.length;
  const T = c.ids[0]!.length;
  const ids = tf.tensor2d(c.ids.flat(), [B, T], 'int32');
  const mask = tf.tensor2d(c.attention_mask.flat(), [B, T], 'int32');
  const cfg = m.config;
  const logits = tf.tidy(() => lmHead(cfg, m.weights, finalNorm(cfg, m.weights, runBlocks(cfg, m.weights, embed(cfg, m.weights, ids), 0, cfg.numLayers, mask, undefined, hook))));
  const out = (await logits.data()) as Float32Array;
  tf.dispose([logits, ids, mask]);
  return out;
}

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

afterAll(async () => {
  await initBackend('cpu');
});

describe.each(BACKENDS)('LoRA parity with PyTorch on %s', (backend) => {
  it.each(FIX.cases.map((c) => [c.model, c] as const))('%s: targets, logits of W + scale·B·A (hook and merged adapter), one AdamW step', async (_name, c) => {
    await initBackend(backend);
    expect(tf.getBackend()).toBe(backend);
    const dir = modelDir(c.model);
    const m = await loadModel(dir);
    const V = m.config.vocabSize;
    const hooks: LoraHook[] = [];
    try {
      // the same modules as PEFT's rule in the reference, in the same order
      const blocks = c.layers ?? Array.from({ length: m.config.numLayers }, (_, i) => i);
      const mods = loraModules(m.config, m.tensors, c.targets, blocks);
      expect(mods.map((x) => x.key)).toEqual(c.modules.map((x) => x.key));
      const scale = loraScale({ r: c.r, alpha: c.alpha, rslora: c.rslora });
      expect(Math.abs(scale - c.scale)).toBeLessThan(1e-12);
      const hook: LoraHook = {
        scale, dropout: 0, dropoutSeed: null,
        modules: new Map(c.modules.map((x) => [x.key, { A: tf.tensor2d(x.A, x.A_shape), B: tf.tensor2d(x.B, x.B_shape) }])),
      };
      hooks.push(hook);

      // forward with the hook: the reference's logits; without it the logits are far off (the adapter matters)
      const withHook = await logitsOf(m, c, hook);
      expect(logitsDiff(withHook, c.logits, c.attention_mask, V), 'hook logits max |Δ|').toBeLessThanOrEqual(1e-4);
      expect(logitsDiff(await logitsOf(m, c), c.logits, c.attention_mask, V), 'base logits differ').toBeGreaterThan(1e-2);

      // one training step: A and B variables, the base frozen, clipping and AdamW as the training job applies them
      const vars = new Map<string, tf.Variable>();
      const trainHook: LoraHook = { scale, dropout: 0, dropoutSeed: null, modules: new Map() };
      hooks.push(trainHook);
      for (const x of c.modules) {
        const A = tf.variable(tf.tensor2d(x.A, x.A_shape), true);
        const B = tf.variable(tf.tensor2d(x.B, x.B_shape), true);
        vars.set(peftTensorName(m.config, x.key, 'A'), A);
        vars.set(peftTensorName(m.config, x.key, 'B'), B);
        trainHook.modules.set(x.key, { A: A as tf.Variable<tf.Rank.R2>, B: B as tf.Variable<tf.Rank.R2> });
      }
      const batch = c.ids.map((row, b) => {
        const L = c.attention_mask[b]!.reduce((s, v) => s + v, 0);
        return { exampleId: b, ids: Int32Array.from(row.slice(0, L)), weights: Uint8Array.from({ length: L }, (_, t) => (t === 0 ? 0 : 1)) };
      });
      const lb = lossOnBatch(m, m.weights, batch, { padId: 0, maxTokens: 1024, frozenBelow: Math.min(...mods.map((x) => x.block)), dft: false, lora: trainHook });
      const { value, grads } = tf.variableGrads(lb.loss, [...vars.values()]);
      lb.dispose();
      const acc = new Map([...vars].map(([n, v]) => [n, grads[v.name]!]));
      expect(Math.abs((await value.data())[0]! - c.loss) / c.loss, 'loss').toBeLessThanOrEqual(1e-5);
      const normT = globalNorm(acc);
      const norm = (await normT.data())[0]!;
      expect(Math.abs(norm - c.grad_norm) / c.grad_norm, 'pre-clip gradient norm').toBeLessThanOrEqual(1e-4);
      clipToNorm(acc, norm, FIX.max_norm);
      const opt = createOptimizer('adamw', { weightDecay: FIX.weight_decay });
      opt.apply(vars, acc, FIX.lr);
      let worst = 0;
      for (const x of c.modules) {
        worst = Math.max(worst, maxAbs((await vars.get(peftTensorName(m.config, x.key, 'A'))!.data()) as Float32Array, x.A_after));
        worst = Math.max(worst, maxAbs((await vars.get(peftTensorName(m.config, x.key, 'B'))!.data()) as Float32Array, x.B_after));
      }
      expect(worst, 'A and B after one step, max |Δ|').toBeLessThanOrEqual(2e-5);
      tf.dispose([value, normT, ...acc.values()]);
      opt.dispose();

      // the adapter in PEFT's format, read back for a fresh copy of the model and merged: the same logits
      const out = tmpDir('lora-parity-adapter');
      const settings = { r: c.r, alpha: c.alpha, dropout: 0, targets: c.targets, rslora: c.rslora };
      await writeAdapter(out, m.config, hook, adapterConfig(m.config, settings, blocks, dir));
      const conf = JSON.parse(fs.readFileSync(path.join(out, ADAPTER_CONFIG), 'utf8')) as Record<string, unknown>;
      expect(conf).toMatchObject({
        peft_type: 'LORA', task_type: 'CAUSAL_LM', r: c.r, lora_alpha: c.alpha, bias: 'none', use_rslora: c.rslora,
        fan_in_fan_out: c.model === 'gpt2', target_modules: c.targets, layers_to_transform: c.layers, base_model_name_or_path: dir,
      });
      const stored = readSafetensors(path.join(out, ADAPTER_WEIGHTS)).tensors;
      const expectedNames = c.modules.flatMap((x) => [`base_model.model.${x.key}.lora_A.weight`, `base_model.model.${x.key}.lora_B.weight`]);
      expect([...stored.keys()].sort()).toEqual(expectedNames.sort());
      for (const x of c.modules) {
        expect(stored.get(`base_model.model.${x.key}.lora_A.weight`)!.shape).toEqual(x.A_shape);
        expect(stored.get(`base_model.model.${x.key}.lora_B.weight`)!.shape).toEqual(x.B_shape);
      }
      const fresh = await loadModel(dir);
      try {
        const before = fresh.hash;
        applyAdapterFolder(fresh, out);
        expect(fresh.hash).not.toBe(before);
        expect(logitsDiff(await logitsOf(fresh, c), c.logits, c.attention_mask, V), 'merged adapter logits max |Δ|').toBeLessThanOrEqual(1e-4);
      } finally {
        disposeModel(fresh);
      }
      for (const v of vars.values()) v.dispose();
      trainHook.modules.clear();
    } finally {
      for (const h of hooks) for (const { A, B } of h.modules.values()) tf.dispose([A, B]);
      disposeModel(m);
    }
  });
});
