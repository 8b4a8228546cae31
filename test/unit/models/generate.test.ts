/**
 * models/generate.ts: cached decoding equals the uncached full forward's argmax at every step (both families, GQA,
 * biases, Mistral's sliding window); greedy is deterministic and batch-independent; seeded sampling reproduces and
 * varies with the seed; stop strings and EOS lists end rows where they should; the KV-cache memory check refuses
 * with figures; nothing leaks.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../main/engine/compute/backend';
import { forward } from '../../../main/engine/models/forward';
import { checkGenerateFits, eosIds, generate, sampleToken } from '../../../main/engine/models/generate';
import { disposeModel, loadModel, type LoadedModel } from '../../../main/engine/models/model';
import { mulberry32 } from '../../../main/engine/util/random';
import { STORIES, TINY_GPT2, TINY_QWEN2, writeTinyModel } from './tiny';

const TINY_MISTRAL = { ...TINY_QWEN2, model_type: 'mistral', sliding_window: 5, architectures: ['MistralForCausalLM'] };

let stories: LoadedModel;
const tiny: Record<string, LoadedModel> = {};

beforeAll(async () => {
  await initBackend('cpu');
  stories = await loadModel(STORIES);
  tiny.gpt2 = await loadModel(writeTinyModel(TINY_GPT2, 3));
  tiny.qwen2 = await loadModel(writeTinyModel(TINY_QWEN2, 4));
  tiny.mistral = await loadModel(writeTinyModel(TINY_MISTRAL, 5));
});
afterAll(() => {
  disposeModel(stories);
  Object.values(tiny).forEach(disposeModel);
});

const PROMPT = (m: LoadedModel): number[] => m.tokenizer.encode('Once upon a time, there was a little dog', { addSpecialTokens: true }).ids;

/** greedy continuation by re-running the whole sequence each step (no cache) */
async function uncachedGreedy(m: LoadedModel, prompt: number[], n: number): Promise<number[]> {
  const seq = [...prompt];
  for (let i = 0; i < n; i++) {
    const logits = forward(m.config, m.weights, tf.tensor2d([seq], [1, seq.length], 'int32'));
    const last = logits.slice([0, seq.length - 1, 0], [1, 1, m.config.vocabSize]);
    const data = (await last.data()) as Float32Array;
    tf.dispose([logits, last]);
    let best = 0;
    for (let j = 1; j < data.length; j++) if (data[j]! > data[best]!) best = j;
    seq.push(best);
  }
  return seq.slice(prompt.length);
}

describe('generate', () => {
  it.each(['stories', 'gpt2', 'qwen2', 'mistral'])('%s: cached decoding equals the uncached argmax at every step', async (name) => {
    const m = name === 'stories' ? stories : tiny[name]!;
    const prompt = PROMPT(m);
    const want = await uncachedGreedy(m, prompt, 16);
    const got = await generate(m, [prompt], { maxNewTokens: 16, eosIds: [] });
    expect(got[0]!.ids).toEqual(want);
    expect(got[0]!.finishReason).toBe('length');
  });

  it.each(['gpt2', 'qwen2', 'mistral'])('%s: a left-padded batch of unequal prompts equals each prompt alone (positions, window)', async (name) => {
    const m = tiny[name]!;
    const prompts = [[5, 9, 300], [7, 1, 2, 3, 4, 5, 6, 7, 8], Array.from({ length: 12 }, (_, i) => 40 + i * 3)];
    const batched = await generate(m, prompts, { maxNewTokens: 10, eosIds: [], batchSize: 3 });
    for (const [i, p] of prompts.entries()) {
      expect((await generate(m, [p], { maxNewTokens: 10, eosIds: [] }))[0]!.ids).toEqual(batched[i]!.ids);
      expect(await uncachedGreedy(m, p, 10)).toEqual(batched[i]!.ids);
    }
  });

  it('greedy is deterministic, and a left-padded batch equals one prompt at a time, leaking no tensors', async () => {
    const prompts = ['Once upon a time', 'The dog ran to the park. It was', 'Lily'].map((t) => stories.tokenizer.encode(t, { addSpecialTokens: true }).ids);
    await generate(stories, [prompts[0]!], { maxNewTokens: 2 });
    const before = tf.memory().numTensors;
    const a = await generate(stories, prompts, { maxNewTokens: 24, batchSize: 3 });
    const b = await generate(stories, prompts, { maxNewTokens: 24, batchSize: 3 });
    const alone = [];
    for (const p of prompts) alone.push((await generate(stories, [p], { maxNewTokens: 24 }))[0]);
    expect(tf.memory().numTensors).toBe(before);
    expect(b).toEqual(a);
    expect(alone).toEqual(a);
    expect(a[0]!.text.length).toBeGreaterThan(0);
  });

  it('sampling reproduces with a seed, differs across seeds, and does not depend on the batch', async () => {
    const prompts = [PROMPT(stories), stories.tokenizer.encode('The cat', { addSpecialTokens: true }).ids];
    const opts = { maxNewTokens: 20, temperature: 1.0, topK: 50, topP: 0.95, eosIds: [] };
    const s1 = await generate(stories, prompts, { ...opts, seed: 1, batchSize: 2 });
    const s1again = await generate(stories, prompts, { ...opts, seed: 1, batchSize: 1 });
    const s2 = await generate(stories, prompts, { ...opts, seed: 2, batchSize: 2 });
    expect(s1again).toEqual(s1);
    expect(s2.map((g) => g.ids)).not.toEqual(s1.map((g) => g.ids));
    const greedy = await generate(stories, prompts, { maxNewTokens: 20, eosIds: [] });
    expect(s1.map((g) => g.ids)).not.toEqual(greedy.map((g) => g.ids));
  });

  it('sampleToken: top-k 1 and a tiny top-p are the argmax; top-k 2 draws only the two best; frequencies follow the softmax', () => {
    const row = Float32Array.from([0.1, 2.0, -1.0, 1.5, 0.0]);
    const r = mulberry32(7);
    for (let i = 0; i < 50; i++) {
      expect(sampleToken(row, { temperature: 1, topK: 1 }, r)).toBe(1);
      expect(sampleToken(row, { temperature: 1, topP: 0.01 }, r)).toBe(1);
      expect([1, 3]).toContain(sampleToken(row, { temperature: 5, topK: 2 }, r));
    }
    // two tokens at logits ln 3 and 0: p = 0.75 / 0.25
    const two = Float32Array.from([Math.log(3), 0]);
    let zeros = 0;
    for (let i = 0; i < 20000; i++) if (sampleToken(two, { temperature: 1 }, r) === 0) zeros++;
    expect(zeros / 20000).toBeCloseTo(0.75, 1);
  });

  it('a stop string cuts the completion before it', async () => {
    const prompt = PROMPT(stories);
    const [full] = await generate(stories, [prompt], { maxNewTokens: 40, eosIds: [] });
    const words = full!.text.trim().split(/\s+/);
    const stop = ` ${words[3]}`;
    const at = full!.text.indexOf(stop);
    expect(at).toBeGreaterThan(0);
    const [cut] = await generate(stories, [prompt], { maxNewTokens: 40, eosIds: [], stop: ['never-appears', stop] });
    expect(cut!.finishReason).toBe('stop');
    expect(cut!.text).toBe(full!.text.slice(0, at));
    expect(full!.ids.slice(0, cut!.ids.length)).toEqual(cut!.ids);
    expect(cut!.ids.length).toBeLessThan(full!.ids.length);
  });

  it('an EOS list stops at any of its ids (the id kept in ids, left out of the text)', async () => {
    const prompt = PROMPT(stories);
    const [full] = await generate(stories, [prompt], { maxNewTokens: 30, eosIds: [] });
    const ids = full!.ids;
    const a = ids[9]!;
    const b = ids[5]!;
    const firstOf = ids.findIndex((x) => x === a || x === b);
    const [g] = await generate(stories, [prompt], { maxNewTokens: 30, eosIds: [a, b] });
    expect(g!.finishReason).toBe('eos');
    expect(g!.ids).toEqual(ids.slice(0, firstOf + 1));
    expect(g!.text).toBe(stories.tokenizer.decode(ids.slice(0, firstOf), { skipSpecialTokens: false }));
  });

  it('eosIds takes every id of an eos_token_id list, the tokenizer eos and generation_config ids', () => {
    const cfg = { ...stories.config, eosTokenId: 7, raw: { ...stories.config.raw, eos_token_id: [7, 9] } };
    expect(eosIds(cfg, stories.tokenizer, [11]).sort((x, y) => x - y)).toEqual([2, 7, 9, 11]);
  });

  it('stops at the context length; refuses a prompt that fills it, and a KV cache that does not fit, with figures', async () => {
    const m = tiny.gpt2!; // 64 positions
    const prompt = Array.from({ length: 60 }, (_, i) => (i * 7) % 500);
    const [g] = await generate(m, [prompt], { maxNewTokens: 50, eosIds: [] });
    expect(g!.ids.length).toBe(4);
    expect(g!.finishReason).toBe('length');
    await expect(generate(m, [Array(64).fill(3)], { maxNewTokens: 1 })).rejects.toThrow(/context is 64/);
    expect(() => checkGenerateFits(stories.config, { batch: 64, promptLen: 256, maxNewTokens: 256, backend: 'cpu', totalMem: 2 ** 24 }))
      .toThrow(/KV cache 0\.0\d\d GiB.*usable/);
    const est = checkGenerateFits(stories.config, { batch: 2, promptLen: 10, maxNewTokens: 6, backend: 'cpu' });
    expect(est.kvCacheBytes).toBe(2 * 5 * 2 * 4 * 8 * 16 * 4);
    await expect(generate(stories, [PROMPT(stories)], { maxNewTokens: 400, totalMem: 2 ** 20 })).rejects.toThrow(/does not fit/);
  });
});
