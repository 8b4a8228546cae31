/**
 * The shapes real Hugging Face checkpoints come in (test/fixtures/models/real-shapes: the hub's config.json and
 * tokenizer_config.json field sets for GPT-2, distilgpt2, SmolLM2, Qwen2.5, TinyLlama, Mistral v0.3, Llama-3.2,
 * Llama-2, with tiny dimensions), each as a real folder with a family-shaped tokenizer.json and weights stored as that
 * checkpoint stores them: load, the tokenizer's special tokens as transformers resolves them, the chat template
 * rendered exactly as transformers renders it (renders.json, made with jinja2 by make_real_shapes.py), a rendered
 * example scored and trained on for one step, saved and reloaded bit-identically.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../main/engine/compute/backend';
import { renderExample } from '../../../main/engine/data/render';
import { parseModelConfig } from '../../../main/engine/models/config';
import { disposeModel, loadModel, saveModel, type LoadedModel } from '../../../main/engine/models/model';
import { readCheckpoint } from '../../../main/engine/models/safetensors';
import { loadTokenizer, strftime } from '../../../main/engine/models/tokenizer';
import type { ChatMessage, WinnowTokenizer } from '../../../main/engine/models/types';
import { forwardBatch } from '../../../main/engine/scoring/passes/forward';
import { createOptimizer } from '../../../main/engine/training/optimizer';
import { lossOnBatch } from '../../../main/engine/training/run';
import { REAL_SHAPES, writeRealFolder, writeRawSafetensors, type RealCase } from './real-shapes';
import { tmpDir } from './tiny';

interface Renders {
  fixed_now: string;
  conversations: Record<string, { messages: ChatMessage[]; add_generation_prompt: boolean }>;
  cases: Record<string, Record<string, { text?: string; error?: string }>>;
}
const RENDERS = JSON.parse(fs.readFileSync(path.join(REAL_SHAPES, 'renders.json'), 'utf8')) as Renders;

interface Expect {
  bos: string | null;
  eos: string | null;
  pad: string | null;
  /** tokens encode() puts around text with special tokens on (transformers' post-processor, add_bos/eos_token) */
  around: [string[], string[]];
  /** no template shipped: Winnow's documented default */
  defaultTemplate?: boolean;
  /** the conversation the example is rendered from */
  conversation?: string;
}

const CASES: Array<RealCase & { expect: Expect; config: Record<string, unknown> }> = [
  {
    name: 'gpt2', tokenizer: 'gpt2', storage: { dtype: 'F32', gpt2Prefix: '', attnBuffers: true },
    expect: { bos: '<|endoftext|>', eos: '<|endoftext|>', pad: null, around: [[], []], defaultTemplate: true },
    config: { arch: 'gpt2', maxPositions: 64, tieWordEmbeddings: true, eosTokenId: 50256 },
  },
  {
    name: 'distilgpt2', tokenizer: 'gpt2', storage: { dtype: 'F32', attnBuffers: true, tiedHeadPresent: true },
    expect: { bos: '<|endoftext|>', eos: '<|endoftext|>', pad: null, around: [[], []], defaultTemplate: true },
    config: { arch: 'gpt2', numLayers: 2, tieWordEmbeddings: true },
  },
  {
    name: 'smollm2-135m-instruct', tokenizer: 'smollm2', storage: { dtype: 'BF16' },
    expect: { bos: '<|im_start|>', eos: '<|im_end|>', pad: '<|im_end|>', around: [[], []] },
    config: { modelType: 'llama', tieWordEmbeddings: true, headDim: 8, numKvHeads: 1, ropeTheta: 100000, normEps: 1e-5 },
  },
  {
    name: 'smollm2-jinja-file', tokenizer: 'smollm2', storage: { dtype: 'F16', shards: 2 },
    expect: { bos: '<|im_start|>', eos: '<|im_end|>', pad: '<|im_end|>', around: [[], []] },
    config: { tieWordEmbeddings: true },
  },
  {
    name: 'qwen2.5-0.5b-instruct', tokenizer: 'qwen2', storage: { dtype: 'BF16' },
    expect: { bos: null, eos: '<|im_end|>', pad: '<|endoftext|>', around: [[], []] },
    config: { modelType: 'qwen2', tieWordEmbeddings: true, attentionBias: true, headDim: 4, numKvHeads: 1, ropeTheta: 1e6, maxPositions: 32768 },
  },
  {
    name: 'named-templates', tokenizer: 'qwen2', storage: { dtype: 'F32' },
    expect: { bos: null, eos: '<|im_end|>', pad: '<|endoftext|>', around: [[], []] },
    config: { modelType: 'qwen2' },
  },
  {
    name: 'tinyllama-1.1b-chat-v1.0', tokenizer: 'sentencepiece', storage: { dtype: 'BF16', shards: 3 },
    expect: { bos: '<s>', eos: '</s>', pad: '</s>', around: [['<s>'], []] },
    config: { tieWordEmbeddings: false, numKvHeads: 2, headDim: 4, ropeScaling: null, maxPositions: 2048 },
  },
  {
    name: 'mistral-7b-instruct-v0.3', tokenizer: 'mistral', storage: { dtype: 'BF16', shards: 3 },
    expect: { bos: '<s>', eos: '</s>', pad: null, around: [['<s>'], []], conversation: 'user-assistant-user' },
    config: { modelType: 'mistral', tieWordEmbeddings: false, attentionBias: false, ropeTheta: 1e6, vocabSize: 519 },
  },
  {
    name: 'llama-3.2-1b-instruct', tokenizer: 'llama3', storage: { dtype: 'BF16', tiedHeadPresent: true },
    expect: { bos: '<|begin_of_text|>', eos: '<|eot_id|>', pad: null, around: [['<|begin_of_text|>'], []] },
    config: {
      tieWordEmbeddings: true, headDim: 12, numHeads: 4, numKvHeads: 2, eosTokenId: 457, bosTokenId: 456,
      ropeScaling: { type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 },
    },
  },
  {
    name: 'llama-2-chat', tokenizer: 'sentencepiece', storage: { dtype: 'F16' },
    expect: { bos: '<s>', eos: '</s>', pad: null, around: [['<s>'], []] },
    config: { tieWordEmbeddings: false, numKvHeads: 4, ropeTheta: 10000, normEps: 1e-6 },
  },
  {
    name: 'generation-tag', tokenizer: 'smollm2', storage: { dtype: 'F32' },
    expect: { bos: '<|im_start|>', eos: '<|im_end|>', pad: '<|im_end|>', around: [[], []] },
    config: {},
  },
];

/** renders.json pins strftime_now to one day; Winnow (like transformers) prints today's date */
function expectedText(text: string): string {
  return text.replace(RENDERS.fixed_now, strftime(new Date(), '%d %b %Y'));
}

beforeAll(async () => {
  await initBackend(); // the app's choice (wasm here): the GPT-2 vocabulary's training step takes ~7 s on 'cpu'
});

describe.each(CASES)('$name', (c) => {
  let dir: string;
  let m: LoadedModel;
  beforeAll(async () => {
    dir = writeRealFolder(c);
    m = await loadModel(dir);
  });
  afterAll(() => m && disposeModel(m));

  it('config.json: family defaults and the fields that matter', () => {
    expect(m.config).toMatchObject(c.config);
    // lm_head is loaded only when the head is untied (a tied head's stored copy is ignored)
    expect('lm_head.weight' in m.weights).toBe(!m.config.tieWordEmbeddings);
  });

  it('special tokens resolve as transformers resolves them; encode adds what its post-processor adds', () => {
    const tok = m.tokenizer;
    expect([tok.bosToken, tok.eosToken]).toEqual([c.expect.bos, c.expect.eos]);
    const idOf = (t: string | null) => (t === null ? null : tok.encode(t, { addSpecialTokens: false }).ids);
    expect(tok.bosId === null ? null : [tok.bosId]).toEqual(idOf(c.expect.bos));
    expect(tok.eosId === null ? null : [tok.eosId]).toEqual(idOf(c.expect.eos));
    expect(tok.padId === null ? null : [tok.padId]).toEqual(idOf(c.expect.pad));
    const plain = tok.encode('Hi there 42', { addSpecialTokens: false });
    const full = tok.encode('Hi there 42');
    const pieces = (ids: number[]) => ids.map((i) => tok.idToToken(i));
    const [pre, post] = c.expect.around;
    expect(pieces(full.ids)).toEqual([...pre, ...pieces(plain.ids), ...post]);
    expect(tok.decode(plain.ids)).toBe('Hi there 42');
  });

  it('renders chats exactly as transformers does (or raises the template own error)', () => {
    const tok = m.tokenizer;
    expect(tok.chatTemplateIsDefault).toBe(!!c.expect.defaultTemplate);
    const want = RENDERS.cases[c.name];
    if (c.expect.defaultTemplate) {
      expect(want).toBeUndefined();
      const s = tok.applyChatTemplate([{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Yo' }]);
      expect(s).toBe(`${c.expect.bos ?? ''}<|user|>\nHi${c.expect.eos}\n<|assistant|>\nYo${c.expect.eos}\n`);
      return;
    }
    for (const [conv, w] of Object.entries(want)) {
      const { messages, add_generation_prompt } = RENDERS.conversations[conv];
      const run = () => tok.applyChatTemplate(messages, { addGenerationPrompt: add_generation_prompt });
      if (w.error !== undefined) expect(run, conv).toThrow(w.error);
      else expect(run(), conv).toBe(expectedText(w.text!));
    }
  });

  it('a rendered example is scored, trained on for one step, saved and reloaded bit-identically', async () => {
    const conv = RENDERS.conversations[c.expect.conversation ?? 'system-user-assistant'];
    const messages = [...conv.messages];
    if (messages[messages.length - 1].role !== 'assistant') messages.push({ role: 'assistant', content: 'Seven.' });
    const r = renderExample(m.tokenizer, messages, { labelPolicy: 'assistant' });
    expect(r.text).toBe(m.tokenizer.applyChatTemplate(messages));
    const labelled = Array.from(r.tokenIds).filter((_, t) => r.labelMask[t]);
    expect(m.tokenizer.decode(labelled)).toContain(messages[messages.length - 1].content.trim());

    // score: mean token loss over the labelled tokens, through the scoring forward
    const { tokens } = await forwardBatch(m, [r.tokenIds], { entropy: false, rank: false, embedding: false });
    let sum = 0;
    let n = 0;
    for (let t = 1; t < r.tokenIds.length; t++) {
      if (!r.labelMask[t]) continue;
      sum += tokens[0].token_loss[t];
      n++;
    }
    const meanLoss = sum / n;
    expect(Number.isFinite(meanLoss) && meanLoss > 0).toBe(true);

    // one AdamW step on every tensor through the training loss (same masked mean), then the loss is lower
    const vars = new Map(Object.entries(m.weights).map(([k, t]) => [k, tf.variable(t, true, `${c.name}/${k}`)]));
    const weights = Object.fromEntries(vars);
    const batch = [{ exampleId: 1, ids: r.tokenIds, weights: r.labelMask }];
    const opts = { padId: 0, maxTokens: 512, frozenBelow: 0, dft: false };
    const lb = lossOnBatch(m, weights, batch, opts);
    const { value, grads } = tf.variableGrads(lb.loss, [...vars.values()]);
    expect(value.dataSync()[0]).toBeCloseTo(meanLoss, 4);
    const byName = new Map([...vars].map(([k, v]) => [k, grads[v.name]]));
    createOptimizer('adamw', { weightDecay: 0 }).apply(vars, byName, 1e-2);
    const after = lossOnBatch(m, weights, batch, opts);
    expect(tf.tidy(() => after.loss().dataSync()[0])).toBeLessThan(value.dataSync()[0]);
    lb.dispose();
    after.dispose();

    const out = tmpDir(`${c.name}-saved`);
    await saveModel(out, { config: m.config, weights }, { tokenizerFrom: dir });
    const back = await loadModel(out);
    try {
      expect(Object.keys(back.weights).sort()).toEqual([...vars.keys()].sort());
      for (const [k, v] of vars) expect(Buffer.from((await back.weights[k].data()).buffer)).toEqual(Buffer.from((await v.data()).buffer));
      expect(back.tokenizer.id).toBe(m.tokenizer.id);
      expect(back.tokenizer.chatTemplate).toBe(m.tokenizer.chatTemplate);
      // written as float32, and config.json says so (transformers picks the load dtype from it)
      expect(JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')).torch_dtype).toBe('float32');
    } finally {
      disposeModel(back);
      for (const v of vars.values()) v.dispose();
    }
  });
});

/** A copy of a real-shapes folder (tokenizer files only unless `weights`) with tokenizer_config.json patched. */
function patched(name: string, tokenizer: RealCase['tokenizer'], patch: Record<string, unknown>, files: Record<string, string | null> = {}): string {
  const dir = writeRealFolder({ name, tokenizer, storage: { dtype: 'F32' } });
  const f = path.join(dir, 'tokenizer_config.json');
  const cfg = { ...JSON.parse(fs.readFileSync(f, 'utf8')), ...patch };
  for (const [k, v] of Object.entries(patch)) if (v === undefined) delete cfg[k];
  fs.writeFileSync(f, JSON.stringify(cfg));
  for (const [file, text] of Object.entries(files)) {
    if (text === null) fs.rmSync(path.join(dir, file), { force: true });
    else fs.writeFileSync(path.join(dir, file), text);
  }
  return dir;
}

describe('tokenizer_config.json shapes', () => {
  it('strftime_now prints Python C-locale strftime (not the machine locale)', () => {
    const d = new Date(2024, 11, 5, 9, 30, 7);
    expect(strftime(d, '%d %b %Y|%a %A %B|%y %m %H:%M:%S %I%p|%j|%%|%Q')).toBe('05 Dec 2024|Thu Thursday December|24 12 09:30:07 09AM|340|%|%Q');
    expect(strftime(new Date(2023, 0, 1, 15, 4, 5), '%I %p %j %-d')).toBe('03 PM 001 %-d');
  });

  it('chat_template.jinja wins over tokenizer_config.json; it is part of the tokenizer id; errors name it', async () => {
    const dir = patched('smollm2-135m-instruct', 'smollm2', {}, { 'chat_template.jinja': '{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}' });
    const tok = await loadTokenizer(dir);
    expect(tok.chatTemplateIsDefault).toBe(false);
    expect(tok.applyChatTemplate([{ role: 'user', content: 'Hi' }])).toBe('[user]Hi');
    fs.writeFileSync(path.join(dir, 'chat_template.jinja'), '{{ messages[0].content }');
    const broken = await loadTokenizer(dir);
    expect(broken.id).not.toBe(tok.id);
    expect(() => broken.applyChatTemplate([{ role: 'user', content: 'Hi' }])).toThrow(/chat_template in .*chat_template\.jinja: /);
  });

  it('named templates: "default" from a list or a name → template object; none named "default" is refused when rendering', async () => {
    const asObject = await loadTokenizer(patched('smollm2-135m-instruct', 'smollm2', { chat_template: { tool_use: 'T', default: 'D{{ messages[0].content }}' } }));
    expect(asObject.applyChatTemplate([{ role: 'user', content: 'x' }])).toBe('Dx');
    const noDefault = await loadTokenizer(
      patched('smollm2-135m-instruct', 'smollm2', { chat_template: [{ name: 'rag', template: 'R' }, { name: 'tool_use', template: 'T' }] }),
    );
    expect(noDefault.chatTemplateIsDefault).toBe(false);
    expect(noDefault.encode('Hi', { addSpecialTokens: false }).ids.length).toBeGreaterThan(0); // the model still loads and encodes
    expect(() => noDefault.applyChatTemplate([{ role: 'user', content: 'x' }])).toThrow(
      /tokenizer_config\.json: "chat_template" holds named templates \("rag", "tool_use"\) but none is named "default"/,
    );
  });

  it('Llama tokenizers: add_bos_token / add_eos_token decide what encode adds (LlamaTokenizerFast rebuilds its post-processor)', async () => {
    const pieces = async (patch: Record<string, unknown>) => {
      const tok = await loadTokenizer(patched('tinyllama-1.1b-chat-v1.0', 'sentencepiece', patch));
      const plain = tok.encode('Hi', { addSpecialTokens: false }).ids;
      const full = tok.encode('Hi');
      expect(full.ids.slice(full.ids.length - plain.length - (patch.add_eos_token ? 1 : 0), full.ids.length - (patch.add_eos_token ? 1 : 0))).toEqual(plain);
      return full.ids.map((i) => tok.idToToken(i)).filter((t) => t === '<s>' || t === '</s>');
    };
    expect(await pieces({})).toEqual(['<s>']);
    expect(await pieces({ add_bos_token: false })).toEqual([]);
    expect(await pieces({ add_eos_token: true })).toEqual(['<s>', '</s>']);
    expect(await pieces({ add_bos_token: undefined, add_eos_token: undefined })).toEqual(['<s>']); // LlamaTokenizerFast's defaults
    await expect(loadTokenizer(patched('tinyllama-1.1b-chat-v1.0', 'sentencepiece', { bos_token: null }, { 'special_tokens_map.json': null }))).rejects.toThrow(
      /tokenizer_config\.json: "add_bos_token" is true but the tokenizer has no bos_token/,
    );
  });

  it('special tokens: special_tokens_map.json over tokenizer_config.json over the class defaults; an explicit null stays unset', async () => {
    // TinyLlama's special_tokens_map.json names the pad; changed there, it wins over tokenizer_config.json's "</s>"
    const dir = patched('tinyllama-1.1b-chat-v1.0', 'sentencepiece', {});
    const mapFile = path.join(dir, 'special_tokens_map.json');
    fs.writeFileSync(mapFile, JSON.stringify({ ...JSON.parse(fs.readFileSync(mapFile, 'utf8')), pad_token: '<unk>' }));
    expect((await loadTokenizer(dir)).padId).toBe(0);
    // no eos anywhere: LlamaTokenizer's default "</s>"; an explicit null bos is None (no class default), so add_bos_token: false
    const bare = await loadTokenizer(
      patched('tinyllama-1.1b-chat-v1.0', 'sentencepiece', { eos_token: undefined, bos_token: null, add_bos_token: false }, { 'special_tokens_map.json': null }),
    );
    expect([bare.bosToken, bare.eosToken, bare.eosId]).toEqual([null, '</s>', 2]);
    // PreTrainedTokenizerFast has no defaults: eos missing stays missing, and the model template sees it undefined
    const llama3 = await loadTokenizer(patched('llama-3.2-1b-instruct', 'llama3', { eos_token: undefined, chat_template: '{{ eos_token is defined }}' }));
    expect([llama3.eosToken, llama3.eosId]).toEqual([null, null]);
    expect(llama3.applyChatTemplate([])).toBe('false');
    // Winnow's default template prints nothing for a missing eos
    const noTemplate = await loadTokenizer(patched('llama-3.2-1b-instruct', 'llama3', { eos_token: undefined, chat_template: undefined }));
    expect(noTemplate.applyChatTemplate([{ role: 'user', content: 'Hi' }])).toBe('<|begin_of_text|><|user|>\nHi\n');
  });
});

describe('config.json shapes', () => {
  const base = JSON.parse(fs.readFileSync(path.join(REAL_SHAPES, 'tinyllama-1.1b-chat-v1.0', 'config.json'), 'utf8')) as Record<string, unknown>;
  const without = (o: Record<string, unknown>, ...keys: string[]) => Object.fromEntries(Object.entries(o).filter(([k]) => !keys.includes(k)));

  it('absent fields take each family default (tie_word_embeddings, num_key_value_heads, rope_theta, head_dim)', () => {
    for (const model_type of ['llama', 'mistral', 'qwen2']) {
      const c = parseModelConfig({ ...without(base, 'tie_word_embeddings', 'num_key_value_heads', 'rope_theta'), model_type });
      expect([c.tieWordEmbeddings, c.numKvHeads, c.ropeTheta, c.headDim], model_type).toEqual([false, 8, 10000, 4]);
    }
    const gpt2 = JSON.parse(fs.readFileSync(path.join(REAL_SHAPES, 'gpt2', 'config.json'), 'utf8')) as Record<string, unknown>;
    const g = parseModelConfig(without(gpt2, 'tie_word_embeddings'));
    expect([g.tieWordEmbeddings, g.intermediateSize, g.maxPositions]).toEqual([true, 64, 64]);
  });

  it('rope_scaling: null, linear written with "type", llama3 with "rope_type"; explicit head_dim is kept', () => {
    expect(parseModelConfig({ ...base, rope_scaling: null }).ropeScaling).toBeNull();
    expect(parseModelConfig({ ...base, rope_scaling: { type: 'linear', factor: 4.0 } }).ropeScaling).toEqual({ type: 'linear', factor: 4 });
    const l3 = JSON.parse(fs.readFileSync(path.join(REAL_SHAPES, 'llama-3.2-1b-instruct', 'config.json'), 'utf8')) as Record<string, unknown>;
    const c = parseModelConfig(l3);
    expect([c.headDim, c.hiddenSize / c.numHeads, c.eosTokenId]).toEqual([12, 8, 457]);
  });

  it('flags that change the math are refused, naming the field; ones that do not are accepted', () => {
    const qwen = JSON.parse(fs.readFileSync(path.join(REAL_SHAPES, 'qwen2.5-0.5b-instruct', 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(() => parseModelConfig({ ...qwen, use_sliding_window: true })).toThrow(/field "use_sliding_window" is true/);
    const gpt2 = JSON.parse(fs.readFileSync(path.join(REAL_SHAPES, 'gpt2', 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(() => parseModelConfig({ ...gpt2, scale_attn_weights: false })).toThrow(/field "scale_attn_weights" is false/);
    expect(parseModelConfig({ ...gpt2, scale_attn_weights: true, n_ctx: 32, resid_pdrop: 0 }).maxPositions).toBe(64);
    expect(parseModelConfig({ ...base, attention_dropout: 0.1, pretraining_tp: 1, mlp_bias: true }).mlpBias).toBe(true);
    expect(parseModelConfig({ ...base, model_type: 'mistral', sliding_window: 4096 }).raw.sliding_window).toBe(4096);
  });
});

describe('weights', () => {
  it('a missing tensor names it and the index; a wrong shape names it and its shard', async () => {
    const dir = writeRealFolder({ name: 'tinyllama-1.1b-chat-v1.0', tokenizer: 'sentencepiece', storage: { dtype: 'F32', shards: 2 } });
    const index = JSON.parse(fs.readFileSync(path.join(dir, 'model.safetensors.index.json'), 'utf8')) as { weight_map: Record<string, string> };
    const shard = index.weight_map['model.norm.weight'];
    // rewrite that shard with model.norm.weight one wider
    const ck = readCheckpoint(dir);
    const names = Object.keys(index.weight_map).filter((n) => index.weight_map[n] === shard);
    const raw = names.map((n) => {
      const t = ck.tensors.get(n)!;
      const wide = n === 'model.norm.weight';
      const data = wide ? Float32Array.from([...t.data, 1]) : t.data;
      return { name: n, dtype: 'F32', shape: wide ? [t.shape[0] + 1] : t.shape, bytes: new Uint8Array(data.buffer) };
    });
    writeRawSafetensors(path.join(dir, shard), raw);
    await expect(loadModel(dir)).rejects.toThrow(new RegExp(`${shard}: tensor "model\\.norm\\.weight" has shape \\[33\\] but config\\.json implies \\[32\\]`));
    // drop it instead: named as missing, with the index file (the checkpoint as a whole lacks it)
    writeRawSafetensors(path.join(dir, shard), raw.filter((t) => t.name !== 'model.norm.weight'));
    delete index.weight_map['model.norm.weight'];
    fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify(index));
    await expect(loadModel(dir)).rejects.toThrow(/model\.safetensors\.index\.json: tensor "model\.norm\.weight" is missing/);
  });

  it('BF16 storage saved again as BF16 gives the same bytes', async () => {
    const dir = writeRealFolder({ name: 'llama-3.2-1b-instruct', tokenizer: 'llama3', storage: { dtype: 'BF16' } }, 5);
    const m = await loadModel(dir);
    try {
      const out = tmpDir('bf16-again');
      await saveModel(out, m, { tokenizerFrom: dir, dtype: 'BF16' });
      // every stored tensor's bytes are the same (the tied lm_head copy is not kept), with the reference metadata
      const bytes = (d: string) => {
        const seen = new Map<string, Buffer>();
        return { ck: readCheckpoint(d, undefined, (name, b) => seen.set(name, Buffer.from(b))), seen };
      };
      const before = bytes(dir);
      const after = bytes(out);
      expect([...after.seen.keys()].sort()).toEqual([...before.seen.keys()].filter((k) => k !== 'lm_head.weight').sort());
      for (const [k, b] of after.seen) expect(b.equals(before.seen.get(k)!), k).toBe(true);
      expect(after.ck.metadata).toEqual({ format: 'pt' });
      expect(JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')).torch_dtype).toBe('bfloat16');
    } finally {
      disposeModel(m);
    }
  });
});

describe('a message the chat template leaves out', () => {
  it("Mistral v0.3 drops the system prompt of a conversation that ends on the assistant: the render leaves it out, as transformers does; the assistant is still learned", async () => {
    const tok = await loadTokenizer(writeRealFolder({ name: 'mistral-7b-instruct-v0.3', tokenizer: 'mistral', storage: { dtype: 'F32' } }));
    const messages = [
      { role: 'system', content: 'Answer in one word.' },
      { role: 'user', content: 'Colour of the sky?' },
      { role: 'assistant', content: 'Blue.' },
    ];
    const text = tok.applyChatTemplate(messages);
    expect(text).not.toContain('Answer in one word.'); // the template's own choice, not ours
    const r = renderExample(tok, messages, { labelPolicy: 'assistant' });
    expect(r.text).toBe(text);
    const learned = Array.from(r.tokenIds).filter((_, t) => r.labelMask[t]);
    expect(tok.decode(learned, { skipSpecialTokens: true }).trim()).toBe('Blue.');
    // the system prompt kept when the conversation ends on the user's turn
    expect(tok.applyChatTemplate(messages.slice(0, 2))).toContain('Answer in one word.');
  });

  it('a user or assistant message missing from the output is still refused, naming the message', async () => {
    const tok = await loadTokenizer(writeRealFolder({ name: 'mistral-7b-instruct-v0.3', tokenizer: 'mistral', storage: { dtype: 'F32' } }));
    // Mistral's template refuses roles out of order; a template that drops the user turn stands in for one that loses it
    const dropsUser: WinnowTokenizer = Object.create(tok);
    dropsUser.applyChatTemplate = (ms: ChatMessage[], o) => tok.applyChatTemplate([{ role: 'user', content: 'x' }, ...ms.filter((x) => x.role === 'assistant')], o);
    expect(() => renderExample(dropsUser, [{ role: 'user', content: 'Colour of the sky?' }, { role: 'assistant', content: 'Blue.' }], { labelPolicy: 'assistant' })).toThrow(/message 0 \(user\)/);
  });
});
