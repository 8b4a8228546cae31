/**
 * Each exported form of a layer mask, read back by an interpreter of the tool's own selection rules (interpreters.ts),
 * selects exactly the mask's tensors — or, where the form says it is not exact, differs by exactly the tensors its
 * report lists. Real stories260K tensors, plus a 12-block Llama with biases (".1." vs ".11.") and a GPT-2 layout.
 */
import { describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { checkpointTensors } from '../../../main/engine/api/layers';
import { layerMaskForms } from '../../../main/engine/export/layer-formats';
import { resolveLayerSpec } from '../../../main/engine/selection/layers';
import type { TensorInfo } from '../../../main/engine/models/types';
import { axolotl, llamaFactory, peft, type Param } from './interpreters';

const MODEL = resolve(__dirname, '../../../resources/models/stories260K');

function tensor(name: string, shape: number[]): TensorInfo {
  const m = /(?:^|\.)(?:layers|h)\.(\d+)\./.exec(name);
  const kind = /q_proj/.test(name) ? 'q' : /k_proj/.test(name) ? 'k' : /v_proj/.test(name) ? 'v' : /o_proj|attn\.c_proj/.test(name) ? 'o'
    : /gate_proj/.test(name) ? 'gate' : /up_proj/.test(name) ? 'up' : /down_proj/.test(name) ? 'down' : /c_attn/.test(name) ? 'qkv'
    : /c_fc/.test(name) ? 'fc' : /mlp\.c_proj/.test(name) ? 'proj' : /norm|ln_/.test(name) ? 'norm' : 'other';
  return { name, shape, block: m ? Number(m[1]) : null, kind, size: shape.reduce((a, b) => a * b, 1) };
}

function llamaWithBias(L: number): TensorInfo[] {
  const out = [tensor('model.embed_tokens.weight', [100, 8])];
  for (let l = 0; l < L; l++) {
    const b = `model.layers.${l}`;
    out.push(tensor(`${b}.input_layernorm.weight`, [8]));
    for (const p of ['q', 'k', 'v', 'o']) out.push(tensor(`${b}.self_attn.${p}_proj.weight`, [8, 8]), tensor(`${b}.self_attn.${p}_proj.bias`, [8]));
    out.push(tensor(`${b}.post_attention_layernorm.weight`, [8]));
    for (const p of ['gate', 'up', 'down']) out.push(tensor(`${b}.mlp.${p}_proj.weight`, [8, 8]));
  }
  out.push(tensor('model.norm.weight', [8]), tensor('lm_head.weight', [100, 8]));
  return out;
}

function gpt2(L: number): TensorInfo[] {
  const out = [tensor('transformer.wte.weight', [100, 8]), tensor('transformer.wpe.weight', [32, 8])];
  for (let l = 0; l < L; l++) {
    const b = `transformer.h.${l}`;
    for (const n of ['ln_1', 'ln_2']) out.push(tensor(`${b}.${n}.weight`, [8]), tensor(`${b}.${n}.bias`, [8]));
    for (const n of ['attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj']) out.push(tensor(`${b}.${n}.weight`, [8, 8]), tensor(`${b}.${n}.bias`, [8]));
  }
  out.push(tensor('transformer.ln_f.weight', [8]), tensor('transformer.ln_f.bias', [8]));
  return out;
}

function check(tensors: TensorInfo[], mask: string[], numLayers: number) {
  const forms = layerMaskForms(tensors, mask, numLayers);
  const params: Param[] = tensors.map((t) => ({ name: t.name, shape: t.shape }));
  const want = new Set(mask);
  const read = {
    peft: peft(params, forms.peft.config),
    axolotl: axolotl(params, forms.axolotl.config.unfrozen_parameters),
    llamafactory: llamaFactory(params, numLayers, forms.llamafactory.config),
  };
  for (const tool of ['peft', 'axolotl', 'llamafactory'] as const) {
    const r = forms[tool].report;
    const got = read[tool];
    // the report is the truth about the difference: the tool selects mask − missing + extra, nothing else
    const expected = new Set([...want].filter((n) => !r.missing.includes(n)).concat(r.extra));
    expect([...got].sort(), `${tool} for ${mask.length} tensors`).toEqual([...expected].sort());
    expect(r.exact).toBe(r.missing.length === 0 && r.extra.length === 0);
    if (!r.exact) expect(r.notes.length, `${tool} says why it is not exact`).toBeGreaterThan(0);
  }
  return forms;
}

describe('layer mask forms read back by each tool\'s rules', () => {
  const real = checkpointTensors(MODEL);
  const L = 5;

  it('stories260K: every spec; Axolotl is always exact', () => {
    for (const spec of ['all', 'last:1', 'last:2', 'last:5', 'attention', 'mlp', 'hft:0', 'hft:7', 'names:model.layers.0.self_attn.q_proj.weight',
      'names:model.norm.weight', 'names:model.embed_tokens.weight,model.layers.2.mlp.up_proj.weight', 'names:model.layers.1.input_layernorm.weight']) {
      const mask = resolveLayerSpec(spec, real);
      const f = check(real, mask, L);
      expect(f.axolotl.report.exact, spec).toBe(true);
    }
  });

  it('block ranges and projection sets take the compact forms and are exact', () => {
    const f = check(real, resolveLayerSpec('last:2', real), L);
    expect(f.llamafactory.config).toMatchObject({ freeze_trainable_layers: 2, freeze_trainable_modules: 'all', freeze_extra_modules: null });
    expect(f.llamafactory.report.exact).toBe(true);
    expect(f.peft.config.layers_to_transform).toEqual([3, 4]);
    expect(f.peft.config.layers_pattern).toBe('layers');
    expect(f.peft.config.modules_to_save).toEqual(['model.layers.3.input_layernorm', 'model.layers.3.post_attention_layernorm',
      'model.layers.4.input_layernorm', 'model.layers.4.post_attention_layernorm']);
    const att = check(real, resolveLayerSpec('attention', real), L);
    expect(att.peft.config).toMatchObject({ target_modules: ['self_attn.k_proj', 'self_attn.o_proj', 'self_attn.q_proj', 'self_attn.v_proj'], modules_to_save: null });
    expect(att.peft.report.exact).toBe(true);
    expect(att.llamafactory.config).toMatchObject({ freeze_trainable_layers: 5, freeze_trainable_modules: 'self_attn' });
    expect(att.llamafactory.report.exact).toBe(true);
    const first = check(real, real.filter((t) => t.block === 0 || t.block === 1).map((t) => t.name), L);
    expect(first.llamafactory.config.freeze_trainable_layers).toBe(-2);
    expect(first.llamafactory.report.exact).toBe(true);
  });

  it('what a tool cannot say is reported, not silently changed', () => {
    // a random half of the matrices: LLaMA-Factory trains whole sub-modules of a block range
    const hft = check(real, resolveLayerSpec('hft:3', real), L);
    expect(hft.llamafactory.report.exact).toBe(false);
    expect(hft.llamafactory.report.extra.length).toBeGreaterThan(0);
    expect(hft.peft.report.exact).toBe(true); // full module names
    // the final norm alone: LLaMA-Factory's extra module "norm" is a substring of every *_layernorm
    const norm = check(real, ['model.norm.weight'], L);
    expect(norm.llamafactory.config.freeze_extra_modules).toBe('norm');
    expect(norm.llamafactory.report.extra).toContain('model.layers.0.input_layernorm.weight');
    // middle blocks only
    const mid = check(real, resolveLayerSpec('names:model.layers.2.mlp.up_proj.weight', real), L);
    expect(mid.llamafactory.report.exact).toBe(false);
  });

  it('12 blocks with biases: ".1." never reaches block 11; LoRA bias modes all-or-none', () => {
    const t = llamaWithBias(12);
    const block1 = t.filter((x) => x.block === 1).map((x) => x.name);
    const f = check(t, block1, 12);
    expect(f.axolotl.report.exact).toBe(true);
    expect(f.peft.config.bias).toBe('lora_only');
    expect(f.peft.report.exact).toBe(true);
    const withoutBias = t.filter((x) => x.block === 11 && x.name.endsWith('.weight')).map((x) => x.name);
    const g = check(t, withoutBias, 12);
    expect(g.peft.config.bias).toBe('none');
    expect(g.peft.report.exact).toBe(true);
    expect(g.llamafactory.report.exact).toBe(false); // freeze tuning cannot leave a block's biases out
    const someBias = [...withoutBias, 'model.layers.11.self_attn.q_proj.bias'];
    const h = check(t, someBias, 12);
    expect(h.peft.report.exact).toBe(false);
    expect(h.peft.report.missing).toEqual(['model.layers.11.self_attn.q_proj.bias']);
    const biasOnly = check(t, ['model.layers.3.self_attn.v_proj.bias'], 12);
    expect(biasOnly.peft.report.missing).toEqual(['model.layers.3.self_attn.v_proj.bias']);
    check(t, ['lm_head.weight', 'model.embed_tokens.weight', 'model.layers.10.mlp.down_proj.weight'], 12);
    check(t, t.map((x) => x.name), 12);
  });

  it('GPT-2 layout (h.N, Conv1D, LayerNorm with bias)', () => {
    const t = gpt2(3);
    for (const mask of [
      t.filter((x) => x.block === 2).map((x) => x.name),
      t.filter((x) => /c_attn/.test(x.name)).map((x) => x.name),
      ['transformer.ln_f.weight'],
      ['transformer.h.0.ln_1.weight', 'transformer.h.0.attn.c_attn.weight', 'transformer.wte.weight'],
    ]) {
      const f = check(t, mask, 3);
      expect(f.axolotl.report.exact).toBe(true);
    }
    const last = layerMaskForms(t, t.filter((x) => x.block === 2).map((x) => x.name), 3);
    expect(last.llamafactory.config).toMatchObject({ freeze_trainable_layers: 1, freeze_trainable_modules: 'all' });
    expect(last.peft.config.layers_pattern).toBe('h');
    expect(last.peft.report.exact).toBe(true);
  });
});
