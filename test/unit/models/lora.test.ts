/**
 * models/lora.ts on real tiny checkpoints: PEFT's target rule and presets (GPT-2's c_proj names two modules), the
 * initialisation (A within ±1/√in, seeded; B zero, so a new adapter changes no logit), adapter_config.json for all
 * blocks (no layers_to_transform), and adapter folders Winnow refuses, each naming the file and the tensor or field.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../main/engine/compute/backend';
import { disposeModel, loadModel, type LoadedModel } from '../../../main/engine/models/model';
import { forward, embed, finalNorm, lmHead, runBlocks } from '../../../main/engine/models/forward';
import { writeSafetensors } from '../../../main/engine/models/safetensors';
import {
  adapterConfig, initLora, loraModules, loraParamCount, readAdapter, writeAdapter, type LoraHook,
} from '../../../main/engine/models/lora';
import { TINY_GPT2, TINY_QWEN2, tmpDir, writeTinyModel } from './tiny';

let gpt2: LoadedModel;
let qwen: LoadedModel;

beforeAll(async () => {
  await initBackend('cpu');
  gpt2 = await loadModel(writeTinyModel(TINY_GPT2, 5));
  qwen = await loadModel(writeTinyModel(TINY_QWEN2, 6));
});
afterAll(() => {
  disposeModel(gpt2);
  disposeModel(qwen);
});

describe('targets', () => {
  it('GPT-2: c_proj takes both projections, the attention preset only attn.c_proj; Conv1D in/out from [in, out]', () => {
    const keys = (t: string[], blocks = [0, 1]) => loraModules(gpt2.config, gpt2.tensors, t, blocks).map((m) => m.key);
    expect(keys(['c_proj'], [1])).toEqual(['transformer.h.1.attn.c_proj', 'transformer.h.1.mlp.c_proj']);
    expect(keys(['attention'], [0])).toEqual(['transformer.h.0.attn.c_attn', 'transformer.h.0.attn.c_proj']);
    expect(keys(['mlp'], [0])).toEqual(['transformer.h.0.mlp.c_fc', 'transformer.h.0.mlp.c_proj']);
    expect(keys(['all-linear'])).toHaveLength(8);
    const [cAttn] = loraModules(gpt2.config, gpt2.tensors, ['c_attn'], [0]);
    expect(cAttn).toMatchObject({ in: 32, out: 96, block: 0 });
    expect(loraParamCount([cAttn!], 4)).toBe(4 * (32 + 96));
  });

  it('Llama family: GQA k/v projections have their own out size; a target matching nothing is refused by name', () => {
    const mods = loraModules(qwen.config, qwen.tensors, ['q_proj', 'v_proj'], [1]);
    expect(mods.map((m) => [m.key, m.in, m.out])).toEqual([
      ['model.layers.1.self_attn.q_proj', 32, 32],
      ['model.layers.1.self_attn.v_proj', 32, 8],
    ]);
    expect(() => loraModules(qwen.config, qwen.tensors, ['q_proj', 'c_attn'], [0])).toThrow(/c_attn match no linear module of qwen2/);
    expect(() => loraModules(qwen.config, qwen.tensors, [], [0])).toThrow(/give module names/);
  });
});

describe('initialisation', () => {
  it('A is within ±1/√in and fixed by the seed, B is zero: the adapter changes no logit', async () => {
    const mods = loraModules(qwen.config, qwen.tensors, ['all-linear'], [0, 1]);
    const a = initLora(mods, 4, 7);
    const b = initLora(mods, 4, 7);
    const c = initLora(mods, 4, 8);
    for (const m of mods) {
      const { A, B } = a.get(m.key)!;
      expect(A.length).toBe(4 * m.in);
      expect(B.length).toBe(m.out * 4);
      expect(B.every((x) => x === 0)).toBe(true);
      const bound = 1 / Math.sqrt(m.in);
      expect(A.every((x) => Math.abs(x) <= bound)).toBe(true);
      // spread over the range, not a constant
      expect(Math.max(...A) - Math.min(...A)).toBeGreaterThan(bound);
      expect(A).toEqual(b.get(m.key)!.A);
      expect(A).not.toEqual(c.get(m.key)!.A);
    }
    const hook: LoraHook = { scale: 2, dropout: 0, dropoutSeed: null, modules: new Map([...a].map(([k, v]) => [k, { A: tf.tensor2d(v.A, [4, v.A.length / 4]), B: tf.tensor2d(v.B, [v.B.length / 4, 4]) }])) };
    const ids = tf.tensor2d([[1, 5, 9, 22]], [1, 4], 'int32');
    const cfg = qwen.config;
    const w = qwen.weights;
    const plain = forward(cfg, w, ids);
    const adapted = lmHead(cfg, w, finalNorm(cfg, w, runBlocks(cfg, w, embed(cfg, w, ids), 0, cfg.numLayers, undefined, undefined, hook)));
    expect(Array.from(await adapted.data())).toEqual(Array.from(await plain.data()));
    tf.dispose([plain, adapted, ids, ...[...hook.modules.values()].flatMap((x) => [x.A, x.B])]);
  });
});

describe('adapter folders', () => {
  async function written(model: LoadedModel, targets: string[], blocks: number[]): Promise<string> {
    const mods = loraModules(model.config, model.tensors, targets, blocks);
    const init = initLora(mods, 2, 1);
    const hook: LoraHook = { scale: 1, dropout: 0, dropoutSeed: null, modules: new Map(mods.map((m) => [m.key, { A: tf.tensor2d(init.get(m.key)!.A, [2, m.in]), B: tf.tensor2d(init.get(m.key)!.B, [m.out, 2]) }])) };
    const dir = tmpDir('lora-adapter');
    await writeAdapter(dir, model.config, hook, adapterConfig(model.config, { r: 2, alpha: 2, dropout: 0, targets, rslora: false }, blocks, null));
    for (const { A, B } of hook.modules.values()) tf.dispose([A, B]);
    return dir;
  }

  it('every block: no layers_to_transform; read back, the names map to the model\'s modules', async () => {
    const dir = await written(gpt2, ['c_attn'], [0, 1]);
    const conf = JSON.parse(fs.readFileSync(path.join(dir, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    expect(conf).toMatchObject({ layers_to_transform: null, fan_in_fan_out: true, target_modules: ['c_attn'] });
    const { hook } = readAdapter(dir, gpt2);
    expect([...hook.modules.keys()]).toEqual(['transformer.h.0.attn.c_attn', 'transformer.h.1.attn.c_attn']);
    for (const { A, B } of hook.modules.values()) tf.dispose([A, B]);
  });

  it('refuses unknown tensor names, shapes that do not fit, a missing half, DoRA and trained biases', async () => {
    const dir = await written(qwen, ['q_proj'], [0]);
    const file = path.join(dir, 'adapter_model.safetensors');
    const conf = path.join(dir, 'adapter_config.json');
    const good = fs.readFileSync(file);
    const goodConf = fs.readFileSync(conf, 'utf8');
    const A = { name: 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight', shape: [2, 32], data: new Float32Array(64) };
    const B = { name: 'base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight', shape: [32, 2], data: new Float32Array(64) };
    const tryWith = (tensors: Array<{ name: string; shape: number[]; data: Float32Array }>) => {
      writeSafetensors(file, tensors, 'F32');
      return () => readAdapter(dir, qwen);
    };
    expect(tryWith([A, B, { name: 'base_model.model.model.layers.0.self_attn.q_proj.lora_embedding_A', shape: [2, 2], data: new Float32Array(4) }]))
      .toThrow(/adapter_model\.safetensors: tensor "base_model\.model\.model\.layers\.0\.self_attn\.q_proj\.lora_embedding_A" is not a LoRA weight/);
    expect(tryWith([A, B, { ...A, name: 'base_model.model.lm_head.lora_A.weight' }])).toThrow(/"base_model\.model\.lm_head\.lora_A\.weight" is not a LoRA weight/);
    expect(tryWith([{ ...A, shape: [2, 31], data: new Float32Array(62) }, B])).toThrow(/q_proj\.lora_A\.weight" has shape \[2, 31\], expected \[2, 32\]/);
    expect(tryWith([A])).toThrow(/q_proj\.lora_B\.weight is missing/);
    fs.writeFileSync(file, good);
    fs.writeFileSync(conf, JSON.stringify({ ...JSON.parse(goodConf), use_dora: true }));
    expect(() => readAdapter(dir, qwen)).toThrow(/adapter_config\.json: field "use_dora" is true/);
    fs.writeFileSync(conf, JSON.stringify({ ...JSON.parse(goodConf), bias: 'all' }));
    expect(() => readAdapter(dir, qwen)).toThrow(/field "bias" is "all"/);
    fs.writeFileSync(conf, JSON.stringify({ ...JSON.parse(goodConf), peft_type: 'IA3' }));
    expect(() => readAdapter(dir, qwen)).toThrow(/field "peft_type" is "IA3"/);
    fs.rmSync(conf);
    expect(() => readAdapter(dir, qwen)).toThrow(/adapter_config\.json: not found/);
  });
});
