/**
 * The converted stories260K (resources/models/stories260K, produced by convertLlama2c) against the original
 * llama2.c files in test/fixtures/llama2c: same greedy story, and a tokenizer that agrees with llama2.c's encoder.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { convertLlama2c, permuteForRotateHalf } from '../../../main/engine/models/llama2c';
import { greedyGenerate } from '../../../main/engine/models/forward';
import { disposeModel, loadModel, type LoadedModel } from '../../../main/engine/models/model';
import { readSafetensors } from '../../../main/engine/models/safetensors';
import { STORIES, tmpDir } from './tiny';

/** the original llama2.c files, committed with their licence (test/fixtures/llama2c/README.md) */
const SRC = path.resolve(__dirname, '../../fixtures/llama2c');

/** Independent re-implementation of llama2.c's `encode` (run.c): dummy prefix, UTF-8 chars or byte fallback
 *  (id = byte + 3), then repeatedly merge the adjacent pair whose concatenation has the highest score. */
function llama2cEncode(tokBin: string, text: string): number[] {
  const buf = fs.readFileSync(tokBin);
  const vocab: string[] = [];
  const scores: number[] = [];
  let off = 4;
  for (let i = 0; i < 512; i++) {
    scores.push(buf.readFloatLE(off));
    const len = buf.readInt32LE(off + 4);
    vocab.push(buf.subarray(off + 8, off + 8 + len).toString('utf8'));
    off += 8 + len;
  }
  const lookup = new Map(vocab.map((s, i) => [s, i]));
  const tokens = [1];
  if (text !== '') tokens.push(lookup.get(' ')!);
  for (const ch of text) {
    const id = lookup.get(ch);
    if (id !== undefined) tokens.push(id);
    else for (const b of Buffer.from(ch, 'utf8')) tokens.push(b + 3);
  }
  for (;;) {
    let best = -1e10;
    let bestId = -1;
    let bestIdx = -1;
    for (let i = 0; i < tokens.length - 1; i++) {
      const id = lookup.get(vocab[tokens[i]] + vocab[tokens[i + 1]]);
      if (id !== undefined && scores[id] > best) {
        best = scores[id];
        bestId = id;
        bestIdx = i;
      }
    }
    if (bestIdx === -1) break;
    tokens.splice(bestIdx, 2, bestId);
  }
  return tokens;
}

describe('llama2.c → HF conversion (stories260K)', () => {
  let model: LoadedModel;
  beforeAll(async () => {
    await tf.setBackend('cpu');
    model = await loadModel(STORIES);
  });

  it('the committed folder is what the converter produces today', () => {
    const out = tmpDir('conv');
    convertLlama2c(path.join(SRC, 'stories260K.bin'), path.join(SRC, 'tok512.bin'), out);
    for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors']) {
      expect(fs.readFileSync(path.join(out, f)).equals(fs.readFileSync(path.join(STORIES, f))), f).toBe(true);
    }
    const st = readSafetensors(path.join(out, 'model.safetensors'));
    expect(st.tensors.has('lm_head.weight')).toBe(false); // tied
    expect(st.tensors.get('model.layers.0.self_attn.k_proj.weight')!.shape).toEqual([32, 64]);
    expect(st.tensors.get('model.layers.4.mlp.down_proj.weight')!.shape).toEqual([64, 172]);
  });

  it('permute moves interleaved rope pairs to halves (row 2i+j of a head → j*hd/2+i)', () => {
    // 2 heads of head_dim 4, 1 column: rows [h0: 0 1 2 3, h1: 4 5 6 7] → [0 2 1 3, 4 6 5 7]
    expect(Array.from(permuteForRotateHalf(Float32Array.of(0, 1, 2, 3, 4, 5, 6, 7), 2, 8, 1))).toEqual([0, 2, 1, 3, 4, 6, 5, 7]);
  });

  it('greedy continuation from BOS tells the TinyStories story', async () => {
    const ids = await greedyGenerate(model, [1], 12);
    const text = model.tokenizer.decode(ids, { skipSpecialTokens: true });
    expect(text.startsWith('Once upon a time')).toBe(true);
    expect(text).toMatch(/^Once upon a time, there was a little/);
  });

  it('tokenizer.json round-trips text through @huggingface/tokenizers (byte fallback for non-ASCII)', () => {
    const samples = [
      'Once upon a time',
      'Lily saw 3 big dogs.\nThey ran 100 miles!',
      'Tom said: "Hello, world."\n\nThe end.',
      'A café, a snowman ☃ and a 🐶.',
      ' leading space and  double  spaces ',
    ];
    for (const s of samples) {
      const enc = model.tokenizer.encode(s, { addSpecialTokens: false });
      expect(model.tokenizer.decode(enc.ids), s).toBe(s);
    }
    const snow = model.tokenizer.encode('☃', { addSpecialTokens: false });
    expect(snow.ids.map((i) => model.tokenizer.idToToken(i))).toEqual(['▁', '<0xE2>', '<0x98>', '<0x83>']);
  });

  it('encodes like llama2.c (score-greedy merges over the same vocab)', () => {
    for (const s of ['Once upon a time', 'Once upon a time, there was a little girl named Lily.', 'The cat sat on the mat.']) {
      const ours = model.tokenizer.encode(s).ids;
      expect(ours, s).toEqual(llama2cEncode(path.join(SRC, 'tok512.bin'), s));
    }
  });

  it('chat template renders Question/Answer with BOS and EOS', () => {
    const s = model.tokenizer.applyChatTemplate(
      [
        { role: 'user', content: 'Who is Lily?' },
        { role: 'assistant', content: 'A girl.' },
        { role: 'user', content: 'And Tom?' },
      ],
      { addGenerationPrompt: true },
    );
    expect(s).toBe('<s>Question: Who is Lily?\nAnswer: A girl.</s>\nQuestion: And Tom?\nAnswer:');
    expect(model.tokenizer.chatTemplateIsDefault).toBe(false);
  });

  it('loads with a stable hash and classified tensors', async () => {
    const again = await loadModel(STORIES);
    expect(again.hash).toBe(model.hash);
    expect(model.tensors.filter((t) => t.block === 2).map((t) => t.kind)).toEqual(['norm', 'q', 'k', 'v', 'o', 'norm', 'gate', 'up', 'down']);
    expect(model.tensors.map((t) => t.kind)).not.toContain('head');
    disposeModel(again);
  });
});
