import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../main/engine/compute/backend';
import { embed, finalNorm, forward, forwardWithHidden, lmHead, runBlocks } from '../../../main/engine/models/forward';
import { bf16ToF32, f32ToBf16 } from '../../../main/engine/models/half';
import { estimateMemory } from '../../../main/engine/models/memory';
import { disposeModel, loadModel, saveModel, type LoadedModel } from '../../../main/engine/models/model';
import { readSafetensors, writeSafetensors } from '../../../main/engine/models/safetensors';
import { STORIES, TINY_GPT2, TINY_QWEN2, tmpDir, writeTinyModel } from './tiny';

const B = 2;
const T = 7;
const ids = (): tf.Tensor2D =>
  tf.tensor2d(
    [
      [1, 17, 300, 44, 5, 511, 2],
      [1, 99, 98, 97, 0, 0, 0],
    ],
    [B, T],
    'int32',
  );

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

describe.each([
  ['gpt2 (transformer. prefix)', TINY_GPT2, {}],
  ['gpt2 (no prefix)', TINY_GPT2, { noPrefix: true }],
  ['qwen2 (GQA, qkv bias, untied head)', TINY_QWEN2, {}],
])('tiny %s', (_label, raw, opts) => {
  let dir: string;
  let m: LoadedModel;
  beforeAll(async () => {
    await initBackend('cpu');
    dir = writeTinyModel(raw as Record<string, unknown>, 3, opts);
    m = await loadModel(dir);
  });
  afterAll(() => disposeModel(m));

  it('loads every tensor with HF names and runs forward with the right shapes', () => {
    const names = Object.keys(m.weights);
    if (m.config.arch === 'gpt2') {
      const p = (opts as { noPrefix?: boolean }).noPrefix ? '' : 'transformer.';
      expect(names).toContain(`${p}h.1.attn.c_attn.weight`);
      expect(m.weights[`${p}h.0.attn.c_attn.weight`].shape).toEqual([32, 96]);
      expect(names).not.toContain('lm_head.weight');
      expect(m.tensors.filter((t) => t.block === 0).map((t) => t.kind)).toEqual(
        ['norm', 'norm', 'qkv', 'qkv', 'o', 'o', 'norm', 'norm', 'fc', 'fc', 'proj', 'proj'],
      );
      expect(m.tensors.find((t) => t.kind === 'pos_embed')).toBeTruthy();
    } else {
      expect(m.weights['model.layers.0.self_attn.k_proj.weight'].shape).toEqual([8, 32]); // 2 kv heads x head_dim 4
      expect(names).toContain('model.layers.1.self_attn.q_proj.bias');
      expect(names).toContain('lm_head.weight');
      expect(m.tensors.find((t) => t.name === 'lm_head.weight')!.kind).toBe('head');
    }
    const { logits, hidden } = forwardWithHidden(m.config, m.weights, ids());
    expect(logits.shape).toEqual([B, T, 512]);
    expect(hidden.shape).toEqual([B, T, 32]);
    expect(logits.dataSync().every(Number.isFinite)).toBe(true);
    tf.dispose([logits, hidden]);
  });

  it('right padding does not change the logits of real positions', () => {
    const mask = tf.tensor2d([[1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0, 0]], [B, T], 'int32');
    const padded = forward(m.config, m.weights, ids(), mask);
    const alone = forward(m.config, m.weights, tf.tensor2d([[1, 99, 98, 97]], [1, 4], 'int32'));
    const real = padded.slice([1, 0, 0], [1, 4, 512]);
    expect(maxAbsDiff(real, alone)).toBeLessThan(1e-5);
    // and the pad tokens really were attended to without the mask
    const unmasked = forward(m.config, m.weights, ids()).slice([1, 0, 0], [1, 4, 512]);
    expect(maxAbsDiff(unmasked, alone)).toBeLessThan(1e-5); // causal: later pads are invisible anyway
    // the mask is applied: hiding a real key changes what later positions see
    const holed = forward(m.config, m.weights, tf.tensor2d([[1, 99, 98, 97]], [1, 4], 'int32'), tf.tensor2d([[1, 0, 1, 1]], [1, 4], 'int32'));
    expect(maxAbsDiff(holed.slice([0, 3, 0], [1, 1, 512]), alone.slice([0, 3, 0], [1, 1, 512]))).toBeGreaterThan(1e-4);
    tf.dispose([mask, padded, alone, real, unmasked, holed]);
  });

  it('split forward (frozen blocks outside the tape) equals the full forward', () => {
    const x = ids();
    const full = forward(m.config, m.weights, x);
    const split = tf.tidy(() => {
      const h0 = embed(m.config, m.weights, x);
      const h1 = runBlocks(m.config, m.weights, h0, 0, 1);
      const h2 = runBlocks(m.config, m.weights, h1, 1, m.config.numLayers);
      return lmHead(m.config, m.weights, finalNorm(m.config, m.weights, h2));
    });
    expect(maxAbsDiff(full, split)).toBe(0);
    tf.dispose([x, full, split]);
  });

  it('tensor count is flat across repeated forward calls inside tf.tidy', () => {
    const x = ids();
    const mask = tf.ones([B, T], 'int32') as tf.Tensor2D;
    tf.tidy(() => forward(m.config, m.weights, x, mask).dataSync());
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) tf.tidy(() => forward(m.config, m.weights, x, mask).dataSync());
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, mask]);
  });

  it('saves an HF folder that loads back bit-identical (F32), and BF16 as rounded', async () => {
    const out = tmpDir('save');
    await saveModel(out, m, { tokenizerFrom: dir });
    const back = await loadModel(out);
    expect(Object.keys(back.weights)).toEqual(Object.keys(m.weights));
    for (const [name, t] of Object.entries(m.weights)) {
      expect(back.weights[name].shape, name).toEqual(t.shape);
      expect(Buffer.from((back.weights[name].dataSync() as Float32Array).buffer)).toEqual(Buffer.from((t.dataSync() as Float32Array).buffer));
    }
    expect(back.hash).toBe((await loadModel(out)).hash);
    expect(fs.existsSync(path.join(out, 'tokenizer.json'))).toBe(true);
    disposeModel(back);

    const outB = tmpDir('save');
    const name = Object.keys(m.weights)[1];
    await saveModel(outB, m, { tokenizerFrom: dir, dtype: 'BF16', onlyNames: [name] });
    const st = readSafetensors(path.join(outB, 'model.safetensors'));
    expect([...st.tensors.keys()]).toEqual([name]);
    const orig = m.weights[name].dataSync() as Float32Array;
    expect(st.tensors.get(name)!.data).toEqual(bf16ToF32(f32ToBf16(orig)));
  });

  it('forward on wasm matches cpu to 1e-4', async () => {
    const x = ids();
    const mask = tf.tensor2d([[1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0, 0]], [B, T], 'int32');
    const cpu = forward(m.config, m.weights, x, mask).arraySync();
    await initBackend('wasm');
    try {
      const wm = await loadModel(dir);
      const wasm = forward(wm.config, wm.weights, tf.tensor2d(x.arraySync(), [B, T], 'int32'), tf.tensor2d(mask.arraySync(), [B, T], 'int32'));
      expect(tf.getBackend()).toBe('wasm');
      expect(maxAbsDiff(tf.tensor(cpu), wasm)).toBeLessThan(1e-4);
      disposeModel(wm);
    } finally {
      await initBackend('cpu');
    }
  });
});

describe('loading errors and memory estimate', () => {
  it('a missing tensor is named with its file', async () => {
    await initBackend('cpu');
    const dir = writeTinyModel(TINY_QWEN2, 1);
    const st = readSafetensors(path.join(dir, 'model.safetensors'));
    const kept = [...st.tensors].filter(([n]) => n !== 'model.layers.1.mlp.up_proj.weight').map(([name, t]) => ({ name, shape: t.shape, data: t.data }));
    writeSafetensors(path.join(dir, 'model.safetensors'), kept);
    await expect(loadModel(dir)).rejects.toThrow(/model\.safetensors: tensor "model\.layers\.1\.mlp\.up_proj\.weight" is missing/);
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...cfg, intermediate_size: 40 }));
    await expect(loadModel(dir)).rejects.toThrow(/tensor "model\.layers\.0\.mlp\.gate_proj\.weight" has shape \[48, 32\] but config\.json implies \[40, 32\]/);
  });

  it('estimateMemory counts stories260K weights exactly and grows with training', async () => {
    const m = await loadModel(STORIES);
    const params = Object.values(m.weights).reduce((n, t) => n + t.size, 0);
    expect(params).toBe(260032);
    const inf = estimateMemory(m.config, { batch: 4, seqLen: 128, trainableParams: 0 });
    const train = estimateMemory(m.config, { batch: 4, seqLen: 128, trainableParams: params });
    expect(inf.weightsBytes).toBe(params * 4);
    expect(inf.gradBytes + inf.optimizerBytes).toBe(0);
    expect(train.optimizerBytes).toBe(params * 8);
    expect(train.activationBytes).toBeGreaterThan(inf.activationBytes);
    expect(train.totalBytes).toBe(train.weightsBytes + train.activationBytes + train.gradBytes + train.optimizerBytes);
    disposeModel(m);
  });
});

describe('gradients through the forward pass', () => {
  it.each([
    ['gpt2', TINY_GPT2],
    ['qwen2', TINY_QWEN2],
  ])('%s: loss gradients on wasm match cpu (embedding, attention, MLP, norms)', async (_label, raw) => {
    const dir = writeTinyModel(raw as Record<string, unknown>, 5);
    const grads = async (backend: 'cpu' | 'wasm'): Promise<Record<string, number[]>> => {
      await initBackend(backend);
      const m = await loadModel(dir);
      const names = Object.keys(m.weights).filter((_, i) => i % 3 === 0 || i === 0);
      const x = tf.tensor2d([[1, 17, 300, 44, 5], [1, 99, 98, 0, 0]], [2, 5], 'int32');
      const mask = tf.tensor2d([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], [2, 5], 'int32');
      const targets = tf.tensor2d([[17, 300, 44, 5, 2], [99, 98, 2, 0, 0]], [2, 5], 'int32');
      const f = (...ts: tf.Tensor[]) => {
        const w = { ...m.weights };
        names.forEach((n, i) => (w[n] = ts[i]));
        const logits = forward(m.config, w, x, mask);
        const ce = tf.losses.softmaxCrossEntropy(tf.oneHot(targets, 512), logits, tf.cast(mask, 'float32'));
        return ce as tf.Scalar;
      };
      const g = tf.grads(f)(names.map((n) => m.weights[n]));
      const out = Object.fromEntries(names.map((n, i) => [n, Array.from(g[i].dataSync())]));
      tf.dispose([...g, x, mask, targets]);
      disposeModel(m);
      return out;
    };
    try {
      const cpu = await grads('cpu');
      const wasm = await grads('wasm');
      for (const [n, v] of Object.entries(cpu)) {
        const worst = v.reduce((mx, a, i) => Math.max(mx, Math.abs(a - wasm[n][i])), 0);
        expect(worst, n).toBeLessThan(1e-5);
        expect(v.some((a) => a !== 0), n).toBe(true);
      }
    } finally {
      await initBackend('cpu');
    }
  });
});

describe('mistral sliding window', () => {
  it('keys further back than sliding_window are hidden, nearer ones are not', async () => {
    await initBackend('cpu');
    const raw = { ...TINY_QWEN2, model_type: 'mistral', architectures: ['MistralForCausalLM'], sliding_window: 3 };
    const dir = writeTinyModel(raw, 9);
    const m = await loadModel(dir);
    const full = { ...m.config, raw: { ...m.config.raw, sliding_window: null } };
    const x = tf.tensor2d([[1, 50, 60, 70, 80, 90]], [1, 6], 'int32');
    const windowed = forward(m.config, m.weights, x);
    const unwindowed = forward(full, m.weights, x);
    // positions 0..2 see at most 3 keys either way; position 5 loses keys 0..2
    expect(maxAbsDiff(windowed.slice([0, 0, 0], [1, 3, 512]), unwindowed.slice([0, 0, 0], [1, 3, 512]))).toBe(0);
    expect(maxAbsDiff(windowed.slice([0, 5, 0], [1, 1, 512]), unwindowed.slice([0, 5, 0], [1, 1, 512]))).toBeGreaterThan(1e-4);
    disposeModel(m);
  });
});
